package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/natsq"
	"github.com/headroom/headroom/lab/jobs/outbox"
	"github.com/headroom/headroom/lab/store/sqlite"
)

// flaky is a real engine whose publishes fail while down is set: a broker outage.
type flaky struct {
	jobs.Engine
	down atomic.Bool
}

func (f *flaky) Publish(ctx context.Context, m jobs.Message) error {
	if f.down.Load() {
		return errors.New("broker unreachable")
	}
	return f.Engine.Publish(ctx, m)
}

func setup(t *testing.T) (*sqlite.Store, *flaky) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "lab.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	e, err := natsq.New(t.Context(), natsq.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return s, &flaky{Engine: e}
}

func invites(t *testing.T, s lab.Store, n int) {
	t.Helper()
	u, err := s.CreateUser(t.Context(), "Ada", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		job := func(id int64) lab.OutboxMessage {
			return lab.OutboxMessage{Queue: "email", Payload: fmt.Appendf(nil, `{"invite_id":%d}`, id)}
		}
		if _, err := s.CreateInvite(t.Context(), u.ID, "f@example.com", fmt.Sprint("tok", i), job); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDrainSurvivesOutageAndDedups: with the broker down nothing is marked sent; afterwards the
// rows go out in order, and publishing them again (a relay that died before marking them) does
// not enqueue them twice.
func TestDrainSurvivesOutageAndDedups(t *testing.T) {
	t.Parallel()
	s, e := setup(t)
	invites(t, s, 5)
	r, err := outbox.New(outbox.Config{Store: s, Publisher: e, Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	e.down.Store(true)
	if n, err := r.Drain(t.Context()); err == nil || n != 0 {
		t.Fatalf("Drain with the broker down = %d, %v; want 0 and the error", n, err)
	}
	if n, _, _ := s.OutboxBacklog(t.Context()); n != 5 {
		t.Fatalf("backlog after a failed drain = %d, want 5", n)
	}
	e.down.Store(false)
	if n, err := r.Drain(t.Context()); err != nil || n != 3 {
		t.Fatalf("Drain = %d, %v; want a batch of 3", n, err)
	}
	if n, err := r.Drain(t.Context()); err != nil || n != 2 {
		t.Fatalf("second Drain = %d, %v; want the last 2", n, err)
	}
	// The relay died between publishing and marking: the same rows are published again.
	pending, err := s.PendingOutbox(t.Context(), 10)
	if err != nil || len(pending) != 0 {
		t.Fatalf("pending = %v, %v", pending, err)
	}
	for id := int64(1); id <= 5; id++ {
		if err := e.Publish(t.Context(), jobs.Message{ID: outbox.MessageID(id), Queue: "email", Payload: []byte("again"), EnqueuedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := e.Subscribe(t.Context(), "email", jobs.SubscribeOptions{Prefetch: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for want := int64(1); want <= 5; want++ {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		d, err := sub.Next(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if m := d.Message(); m.ID != outbox.MessageID(want) || string(m.Payload) != fmt.Sprintf(`{"invite_id":%d}`, want) {
			t.Errorf("job %d = %s %s, want %s in order", want, m.ID, m.Payload, outbox.MessageID(want))
		}
		_ = d.Ack(t.Context())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if d, err := sub.Next(ctx); err == nil {
		t.Errorf("a republished row was enqueued again: %s", d.Message().ID)
	}
}

// TestRunDrainsAfterOutage: Run keeps the rows through an outage and publishes them when the
// broker is back.
func TestRunDrainsAfterOutage(t *testing.T) {
	t.Parallel()
	s, e := setup(t)
	e.down.Store(true)
	r, err := outbox.New(outbox.Config{Store: s, Publisher: e, Interval: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	invites(t, s, 10)
	r.Kick()
	time.Sleep(200 * time.Millisecond)
	if n, _, _ := s.OutboxBacklog(t.Context()); n != 10 {
		t.Fatalf("backlog during the outage = %d, want 10", n)
	}
	e.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _, err := s.OutboxBacklog(t.Context())
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog %d after the broker returned", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil on cancel", err)
	}
	if st, err := e.Stats(t.Context(), "email"); err != nil || st.Depth != 10 {
		t.Errorf("queue after the drain: %+v, %v; want 10 jobs", st, err)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	if _, err := outbox.New(outbox.Config{}); err == nil {
		t.Error("New without a store and publisher: no error")
	}
	s, e := setup(t)
	if _, err := outbox.New(outbox.Config{Store: s, Publisher: e, Interval: time.Second, MaxBackoff: time.Millisecond}); err == nil {
		t.Error("MaxBackoff < Interval: no error")
	}
}

// TestPrune: sent rows older than the retention go, in batches, unsent ones stay; a running
// relay prunes by itself.
func TestPrune(t *testing.T) {
	t.Parallel()
	s, e := setup(t)
	invites(t, s, 1203) // more than one prune batch
	r, err := outbox.New(outbox.Config{Store: s, Publisher: e, Batch: 1200, Retention: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Drain(t.Context()); err != nil || n != 1200 {
		t.Fatalf("Drain = %d, %v; want 1200", n, err)
	}
	time.Sleep(time.Millisecond) // past the retention
	if n, err := r.Prune(t.Context()); err != nil || n != 1200 {
		t.Errorf("Prune = %d, %v; want the 1200 sent rows", n, err)
	}
	if n, _, err := s.OutboxBacklog(t.Context()); err != nil || n != 3 {
		t.Errorf("backlog after pruning = %d, %v; want the 3 unsent rows", n, err)
	}

	reg := prometheus.NewRegistry()
	r, err = outbox.New(outbox.Config{Store: s, Publisher: e, Interval: 10 * time.Millisecond, Retention: time.Nanosecond, PruneEvery: time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(t, reg, "lab_outbox_pruned_total") != 3 {
		if time.Now().After(deadline) {
			t.Fatal("the running relay did not prune the 3 rows it sent")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counterValue returns the value of the counter named name in reg (0 when absent).
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
