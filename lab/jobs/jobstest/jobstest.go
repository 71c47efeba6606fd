// Package jobstest is the conformance suite every queue engine passes: [Exercise] runs the same
// behaviour tests against an engine, so NATS JetStream, Redis Streams and RabbitMQ are held to
// one contract ([jobs.Engine]).
//
// It imports only the standard library and lab/jobs.
package jobstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/jobs"
)

// Tolerances. The machine running the suite may be shared and slow, so waits for something that
// must happen are generous, and "must not happen before" checks allow early-by-slack.
const (
	// wait bounds how long the suite waits for something that must happen.
	wait = 15 * time.Second
	// ackWait is the short ack deadline the redelivery tests use.
	ackWait = time.Second
	// slack is how much earlier than due a delayed or retried job may arrive (clock reads on
	// either side, timer granularity).
	slack = 50 * time.Millisecond
	// quiet is how long "nothing more is delivered" is watched.
	quiet = 500 * time.Millisecond
)

// Exercise runs the conformance suite. newEngine returns a fresh engine connected to the broker
// under test and registers its Close and any broker cleanup with t.Cleanup; it may be called
// more than once per test. Each test uses queues of its own, so runs do not collide.
func Exercise(t *testing.T, newEngine func(t *testing.T) jobs.Engine) {
	t.Helper()
	for _, tc := range []struct {
		name string
		f    func(*testing.T, func(*testing.T) jobs.Engine)
	}{
		{"PublishConsumeAck", testPublishConsumeAck},
		{"RedeliveredAfterAckWait", testRedeliveredAfterAckWait},
		{"RedeliveredAfterSubscriberDies", testRedeliveredAfterSubscriberDies},
		{"RetryWithDelay", testRetryWithDelay},
		{"DeadLettersAndReplay", testDeadLettersAndReplay},
		{"DeadLettersOldestFirst", testDeadLettersOrder},
		{"PublishDedup", testPublishDedup},
		{"DelayedJob", testDelayedJob},
		{"ExtendKeepsLongJob", testExtend},
		{"Stats", testStats},
		{"GroupSharesWork", testGroupSharesWork},
		{"CloseEndsNext", testCloseEndsNext},
		{"ContextEndsNext", testContextEndsNext},
		{"BadInput", testBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t, newEngine)
		})
	}
}

// Queue returns a queue name unique to this run.
func Queue(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "jt-" + hex.EncodeToString(b)
}

func publish(t *testing.T, e jobs.Engine, m jobs.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := e.Publish(ctx, m); err != nil {
		t.Fatalf("Publish %q: %v", m.ID, err)
	}
}

func subscribe(t *testing.T, e jobs.Engine, q string, opts jobs.SubscribeOptions) jobs.Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	s, err := e.Subscribe(ctx, q, opts)
	if err != nil {
		t.Fatalf("Subscribe %q: %v", q, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func next(t *testing.T, s jobs.Subscription) jobs.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	d, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v (waited up to %v)", err, wait)
	}
	return d
}

// nothing asserts that no delivery arrives within d.
func nothing(t *testing.T, s jobs.Subscription, d time.Duration, why string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	got, err := s.Next(ctx)
	if err == nil {
		t.Fatalf("%s: got job %q (attempt %d) within %v", why, got.Message().ID, got.Message().Attempt, d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: Next = %v, want the context's deadline", why, err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eventually polls check until it returns nil or the wait runs out.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("%s: still %v after %v", what, err, wait)
		case <-tick.C:
		}
	}
}

func testPublishConsumeAck(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	enq := time.Now().Add(-time.Second).Truncate(time.Microsecond)
	want := map[string]jobs.Message{}
	for i := range 3 {
		m := jobs.Message{
			ID:         fmt.Sprintf("job-%d", i),
			Queue:      q,
			Payload:    []byte(fmt.Sprintf(`{"n":%d}`, i)),
			Headers:    map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
			EnqueuedAt: enq,
		}
		want[m.ID] = m
		publish(t, e, m)
	}
	s := subscribe(t, e, q, jobs.SubscribeOptions{})
	for range 3 {
		d := next(t, s)
		got := d.Message()
		w, ok := want[got.ID]
		if !ok {
			t.Fatalf("delivered unknown or repeated job %q", got.ID)
		}
		delete(want, got.ID)
		if got.Queue != q || string(got.Payload) != string(w.Payload) || !got.EnqueuedAt.Equal(w.EnqueuedAt) || got.Attempt != 1 {
			t.Errorf("delivered %+v, want %+v with attempt 1", got, w)
		}
		if got.Headers["traceparent"] != w.Headers["traceparent"] {
			t.Errorf("headers %v, want traceparent %q", got.Headers, w.Headers["traceparent"])
		}
		must(t, "Ack", d.Ack(ctxT(t)))
		if err := d.Ack(ctxT(t)); err == nil {
			t.Error("a second Ack of one delivery succeeded, want an error")
		}
	}
	nothing(t, s, quiet, "after acking every job")
	eventually(t, "stats after all acked", func() error {
		st, err := e.Stats(ctxT(t), q)
		if err != nil {
			return err
		}
		if st.Depth != 0 || st.InFlight != 0 || st.Dead != 0 {
			return fmt.Errorf("stats %+v, want all zero", st)
		}
		return nil
	})
}

func testRedeliveredAfterAckWait(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	publish(t, e, jobs.Message{ID: "held", Queue: q})
	// The broker's deadline starts at its delivery, which is after this.
	held := time.Now()
	s := subscribe(t, e, q, jobs.SubscribeOptions{AckWait: ackWait})
	first := next(t, s)
	// The worker hangs: the delivery is never settled, and the broker hands the job out again
	// once the ack deadline passes.
	d := next(t, s)
	if d.Message().ID != "held" || d.Message().Attempt != 2 {
		t.Fatalf("redelivered %q attempt %d, want held attempt 2", d.Message().ID, d.Message().Attempt)
	}
	if el := time.Since(held); el < ackWait-slack {
		t.Errorf("redelivered after %v, before the ack wait %v", el, ackWait)
	}
	must(t, "Ack", d.Ack(ctxT(t)))
	_ = first.Ack(ctxT(t)) // stale: either accepted or refused, but the job must not come back
	nothing(t, s, ackWait+quiet, "after acking the redelivery")
}

func testRedeliveredAfterSubscriberDies(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	publish(t, e, jobs.Message{ID: "orphan", Queue: q, Payload: []byte("x")})
	dying := subscribe(t, e, q, jobs.SubscribeOptions{AckWait: ackWait})
	if d := next(t, dying); d.Message().Attempt != 1 {
		t.Fatalf("first delivery attempt %d, want 1", d.Message().Attempt)
	}
	must(t, "Close", dying.Close()) // dies without settling
	s := subscribe(t, e, q, jobs.SubscribeOptions{AckWait: ackWait})
	d := next(t, s)
	if m := d.Message(); m.ID != "orphan" || m.Attempt != 2 || string(m.Payload) != "x" {
		t.Fatalf("redelivered %+v, want orphan attempt 2", m)
	}
	must(t, "Ack", d.Ack(ctxT(t)))
}

func testRetryWithDelay(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	publish(t, e, jobs.Message{ID: "flaky", Queue: q})
	s := subscribe(t, e, q, jobs.SubscribeOptions{})
	d := next(t, s)
	const delay = time.Second
	retried := time.Now()
	must(t, "Retry", d.Retry(ctxT(t), delay))
	nothing(t, s, delay-4*slack, "during the retry delay")
	d = next(t, s)
	if el := time.Since(retried); el < delay-slack {
		t.Errorf("retried job delivered after %v, want ≥ %v", el, delay)
	}
	if d.Message().ID != "flaky" || d.Message().Attempt != 2 {
		t.Fatalf("retried %q attempt %d, want flaky attempt 2", d.Message().ID, d.Message().Attempt)
	}
	must(t, "Retry", d.Retry(ctxT(t), 0))
	if d = next(t, s); d.Message().Attempt != 3 {
		t.Fatalf("second retry: attempt %d, want 3", d.Message().Attempt)
	}
	must(t, "Ack", d.Ack(ctxT(t)))
}

func testDeadLettersAndReplay(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	publish(t, e, jobs.Message{ID: "poison", Queue: q, Payload: []byte("p"), Headers: map[string]string{"k": "v"}})
	publish(t, e, jobs.Message{ID: "fine", Queue: q})
	s := subscribe(t, e, q, jobs.SubscribeOptions{})
	before := time.Now()
	for range 2 {
		d := next(t, s)
		if d.Message().ID == "poison" {
			must(t, "Dead", d.Dead(ctxT(t), "smtp: 550 mailbox unavailable"))
		} else {
			must(t, "Ack", d.Ack(ctxT(t)))
		}
	}
	after := time.Now()
	var dls []jobs.DeadLetter
	eventually(t, "dead letter listed", func() error {
		var err error
		if dls, err = e.DeadLetters(ctxT(t), q, 10); err != nil {
			return err
		}
		if len(dls) != 1 {
			return fmt.Errorf("%d dead letters", len(dls))
		}
		return nil
	})
	dl := dls[0]
	if dl.Message.ID != "poison" || dl.Reason != "smtp: 550 mailbox unavailable" || string(dl.Message.Payload) != "p" || dl.Message.Headers["k"] != "v" {
		t.Errorf("dead letter %+v", dl)
	}
	if dl.DiedAt.Before(before.Add(-time.Second)) || dl.DiedAt.After(after.Add(time.Second)) {
		t.Errorf("died at %v, want within a second of [%v, %v]", dl.DiedAt, before, after)
	}
	eventually(t, "stats count the dead letter", func() error {
		st, err := e.Stats(ctxT(t), q)
		if err != nil {
			return err
		}
		if st.Dead != 1 {
			return fmt.Errorf("dead %d", st.Dead)
		}
		return nil
	})
	nothing(t, s, quiet, "a dead-lettered job is not redelivered")
	must(t, "Replay", e.Replay(ctxT(t), q, "poison"))
	d := next(t, s)
	if m := d.Message(); m.ID != "poison" || m.Attempt != 1 || string(m.Payload) != "p" || m.Headers["k"] != "v" {
		t.Fatalf("replayed %+v, want poison with attempt 1 and its payload and headers", m)
	}
	must(t, "Ack", d.Ack(ctxT(t)))
	if dls, err := e.DeadLetters(ctxT(t), q, 10); err != nil || len(dls) != 0 {
		t.Errorf("after replay DeadLetters = %d, %v; want none", len(dls), err)
	}
	if err := e.Replay(ctxT(t), q, "poison"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("second Replay = %v, want ErrNotFound", err)
	}
	if err := e.Replay(ctxT(t), q, "never-existed"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("Replay of an unknown id = %v, want ErrNotFound", err)
	}
}

func testDeadLettersOrder(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	for _, id := range []string{"a", "b", "c"} {
		publish(t, e, jobs.Message{ID: id, Queue: q})
	}
	s := subscribe(t, e, q, jobs.SubscribeOptions{})
	var died []string
	for range 3 {
		d := next(t, s)
		must(t, "Dead", d.Dead(ctxT(t), "reason "+d.Message().ID))
		died = append(died, d.Message().ID)
	}
	var dls []jobs.DeadLetter
	eventually(t, "all dead letters listed", func() error {
		var err error
		if dls, err = e.DeadLetters(ctxT(t), q, 10); err != nil {
			return err
		}
		if len(dls) != 3 {
			return fmt.Errorf("%d dead letters", len(dls))
		}
		return nil
	})
	for i, dl := range dls {
		if dl.Message.ID != died[i] || dl.Reason != "reason "+died[i] {
			t.Errorf("dead letter %d is %q (%q), want %q: oldest first", i, dl.Message.ID, dl.Reason, died[i])
		}
	}
	first, err := e.DeadLetters(ctxT(t), q, 2)
	if err != nil || len(first) != 2 || first[0].Message.ID != died[0] || first[1].Message.ID != died[1] {
		t.Errorf("DeadLetters(limit 2) = %d entries, %v; want the two oldest", len(first), err)
	}
	if again, err := e.DeadLetters(ctxT(t), q, 10); err != nil || len(again) != 3 {
		t.Errorf("listing twice changed the dead letters: %d, %v", len(again), err)
	}
}

func testPublishDedup(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	publish(t, e, jobs.Message{ID: "once", Queue: q, Payload: []byte("first")})
	publish(t, e, jobs.Message{ID: "once", Queue: q, Payload: []byte("second")}) // a relay's retry
	publish(t, e, jobs.Message{ID: "other", Queue: q})
	s := subscribe(t, e, q, jobs.SubscribeOptions{})
	seen := map[string]int{}
	for range 2 {
		d := next(t, s)
		seen[d.Message().ID]++
		if d.Message().ID == "once" && string(d.Message().Payload) != "first" {
			t.Errorf("deduplicated job carries %q, want the first publish's payload", d.Message().Payload)
		}
		must(t, "Ack", d.Ack(ctxT(t)))
	}
	if seen["once"] != 1 || seen["other"] != 1 {
		t.Fatalf("delivered %v, want once and other one time each", seen)
	}
	nothing(t, s, quiet, "the repeated publish")
}

func testDelayedJob(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	const delay = 1500 * time.Millisecond
	due := time.Now().Add(delay)
	publish(t, e, jobs.Message{ID: "later", Queue: q, NotBefore: due})
	publish(t, e, jobs.Message{ID: "now", Queue: q})
	s := subscribe(t, e, q, jobs.SubscribeOptions{})
	d := next(t, s)
	if d.Message().ID != "now" {
		t.Fatalf("first delivery %q, want the undelayed job", d.Message().ID)
	}
	must(t, "Ack", d.Ack(ctxT(t)))
	nothing(t, s, time.Until(due)-4*slack, "before the delayed job is due")
	d = next(t, s)
	if early := time.Until(due); early > slack {
		t.Errorf("delayed job delivered %v before its NotBefore", early)
	}
	if m := d.Message(); m.ID != "later" || m.Attempt != 1 || !m.NotBefore.Equal(due) {
		t.Fatalf("delayed delivery %+v, want later, attempt 1, NotBefore %v", m, due)
	}
	must(t, "Ack", d.Ack(ctxT(t)))
}

func testExtend(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	publish(t, e, jobs.Message{ID: "long", Queue: q})
	s := subscribe(t, e, q, jobs.SubscribeOptions{AckWait: ackWait})
	d := next(t, s)
	// The job runs for 3 ack waits, extending twice per ack wait; meanwhile nothing may be redelivered.
	redelivered := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 3*ackWait)
		defer cancel()
		got, err := s.Next(ctx)
		if err == nil {
			err = fmt.Errorf("job %q attempt %d redelivered while extended", got.Message().ID, got.Message().Attempt)
		} else if errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
		redelivered <- err
	}()
	tick := time.NewTicker(ackWait / 2)
	defer tick.Stop()
	for range 6 {
		<-tick.C
		must(t, "Extend", d.Extend(ctxT(t)))
	}
	if err := <-redelivered; err != nil {
		t.Fatal(err)
	}
	must(t, "Ack", d.Ack(ctxT(t)))
	nothing(t, s, ackWait+quiet, "after the long job's ack")
}

func testStats(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	for _, id := range []string{"a", "b", "c"} {
		publish(t, e, jobs.Message{ID: id, Queue: q})
	}
	expect := func(depth, inFlight, dead int64) {
		t.Helper()
		eventually(t, "stats", func() error {
			st, err := e.Stats(ctxT(t), q)
			if err != nil {
				return err
			}
			if st.Queue != q || st.Depth != depth || st.InFlight != inFlight || st.Dead != dead {
				return fmt.Errorf("stats %+v, want depth %d, in flight %d, dead %d", st, depth, inFlight, dead)
			}
			if depth > 0 && st.OldestAge < 0 {
				return fmt.Errorf("oldest age %v", st.OldestAge)
			}
			return nil
		})
	}
	expect(3, 0, 0)
	s := subscribe(t, e, q, jobs.SubscribeOptions{})
	var held jobs.Delivery
	for i := range 3 {
		d := next(t, s)
		switch i {
		case 0:
			must(t, "Ack", d.Ack(ctxT(t)))
		case 1:
			must(t, "Dead", d.Dead(ctxT(t), "boom"))
		default:
			held = d
		}
	}
	expect(0, 1, 1)
	must(t, "Ack", held.Ack(ctxT(t)))
	expect(0, 0, 1)
}

func testGroupSharesWork(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	const n = 40
	for i := range n {
		publish(t, e, jobs.Message{ID: fmt.Sprint(i), Queue: q})
	}
	opts := jobs.SubscribeOptions{Group: "shared", Prefetch: 2}
	subs := []jobs.Subscription{subscribe(t, e, q, opts), subscribe(t, e, q, opts)}
	var mu sync.Mutex
	seen := map[string]int{}
	per := make([]int, len(subs))
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	var wg sync.WaitGroup
	for i, s := range subs {
		wg.Go(func() {
			for {
				d, err := s.Next(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				seen[d.Message().ID]++
				per[i]++
				done := len(seen) == n
				mu.Unlock()
				// Each job takes a moment, as real ones do, so the other worker gets its share.
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Millisecond):
				}
				_ = d.Ack(ctx)
				if done {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d of %d jobs delivered within %v", len(seen), n, wait)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("job %s delivered %d times", id, c)
		}
	}
	if per[0] == 0 || per[1] == 0 {
		t.Errorf("jobs per subscriber %v: one subscriber got none", per)
	}
}

func testCloseEndsNext(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	q := Queue(t)
	s := subscribe(t, e, q, jobs.SubscribeOptions{})
	ended := make(chan error, 1)
	go func() { _, err := s.Next(t.Context()); ended <- err }()
	must(t, "Subscription.Close", s.Close())
	select {
	case err := <-ended:
		if !errors.Is(err, jobs.ErrClosed) {
			t.Fatalf("Next after Subscription.Close = %v, want ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatalf("Next still blocked %v after Subscription.Close", wait)
	}
	if _, err := s.Next(t.Context()); !errors.Is(err, jobs.ErrClosed) {
		t.Errorf("Next on a closed subscription = %v, want ErrClosed", err)
	}

	s2 := subscribe(t, e, q, jobs.SubscribeOptions{})
	go func() { _, err := s2.Next(t.Context()); ended <- err }()
	must(t, "Engine.Close", e.Close())
	select {
	case err := <-ended:
		if !errors.Is(err, jobs.ErrClosed) {
			t.Fatalf("Next after Engine.Close = %v, want ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatalf("Next still blocked %v after Engine.Close", wait)
	}
	if err := e.Publish(t.Context(), jobs.Message{ID: "late", Queue: q}); !errors.Is(err, jobs.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if _, err := e.Subscribe(t.Context(), q, jobs.SubscribeOptions{}); !errors.Is(err, jobs.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

func testContextEndsNext(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	s := subscribe(t, e, Queue(t), jobs.SubscribeOptions{})
	cause := errors.New("worker shutting down")
	ctx, cancel := context.WithCancelCause(t.Context())
	ended := make(chan error, 1)
	go func() { _, err := s.Next(ctx); ended <- err }()
	cancel(cause)
	select {
	case err := <-ended:
		if !errors.Is(err, cause) {
			t.Fatalf("Next after cancel = %v, want the context's cause", err)
		}
	case <-time.After(wait):
		t.Fatalf("Next still blocked %v after its context ended", wait)
	}
}

func testBadInput(t *testing.T, newEngine func(*testing.T) jobs.Engine) {
	e := newEngine(t)
	ctx := ctxT(t)
	for _, m := range []jobs.Message{
		{ID: "1", Queue: "Bad Queue"},
		{Queue: Queue(t)},
		{ID: "1", Queue: Queue(t), Headers: map[string]string{"Headroom-Job-Id": "x"}},
	} {
		if err := e.Publish(ctx, m); err == nil {
			t.Errorf("Publish(%+v) succeeded, want an error", m)
		}
	}
	if _, err := e.Subscribe(ctx, "a..b", jobs.SubscribeOptions{}); err == nil {
		t.Error("Subscribe to an invalid queue succeeded")
	}
	if _, err := e.Stats(ctx, "*"); err == nil {
		t.Error("Stats of an invalid queue succeeded")
	}
}
