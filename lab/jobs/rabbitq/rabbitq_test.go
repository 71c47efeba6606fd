package rabbitq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/jobstest"
)

func amqpURL(t testing.TB) string {
	url := os.Getenv("HEADROOM_TEST_AMQP")
	if url == "" {
		t.Skip("HEADROOM_TEST_AMQP is not set (e.g. amqp://guest:guest@127.0.0.1:5672/): skipping the RabbitMQ engine")
	}
	return url
}

// newTestEngine connects under a prefix of its own and deletes the queues it declared afterwards.
func newTestEngine(t testing.TB, url string) *Engine {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := New(ctx, Config{URL: url, Prefix: "hrtest-" + hex.EncodeToString(b)})
	if err != nil {
		t.Fatalf("rabbitq.New: %v", err)
	}
	t.Cleanup(func() {
		e.mu.Lock()
		var names []string
		for n := range e.declared {
			names = append(names, n)
			if !strings.Contains(n, "~") {
				names = append(names, n+"~dead")
			}
		}
		e.mu.Unlock()
		_ = e.Close()
		deleteQueues(url, names...)
	})
	return e
}

// deleteQueues removes test queues from the shared broker (a channel per queue: deleting one
// that is gone closes the channel).
func deleteQueues(url string, names ...string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return
	}
	defer conn.Close()
	for _, n := range names {
		if ch, err := conn.Channel(); err == nil {
			_, _ = ch.QueueDelete(n, false, false, false)
			_ = ch.Close()
		}
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	url := amqpURL(t)
	jobstest.Exercise(t, func(t *testing.T) jobs.Engine { return newTestEngine(t, url) })
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, cfg := range []Config{{}, {URL: "http://127.0.0.1:5672"}, {URL: "amqp://guest:guest@127.0.0.1:1/"}, {URL: "amqp://guest:guest@127.0.0.1:5672/", Prefix: "A"},
		{URL: "amqp://guest:guest@127.0.0.1:5672/", ManagementURL: "ftp://x"}} {
		if e, err := New(ctx, cfg); err == nil {
			_ = e.Close()
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}

func TestDelayGrid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{time.Nanosecond, 100},
		{100 * time.Millisecond, 100},
		{101 * time.Millisecond, 200},
		{time.Second, 1000},
		{1001 * time.Millisecond, 2000},
		{1500 * time.Millisecond, 2000},
		{10 * time.Second, 10000},
		{12 * time.Second, 20000},
		{time.Hour, 4000000},
	} {
		got := delayGrid(tc.d)
		if got != tc.want {
			t.Errorf("delayGrid(%v) = %d, want %d", tc.d, got, tc.want)
		}
		if time.Duration(got)*time.Millisecond < tc.d {
			t.Errorf("delayGrid(%v) = %dms is early", tc.d, got)
		}
	}
}

// TestDeliveryLimitDeadLetters: a job returned more than x-delivery-limit times (every worker
// holding it died) is dead-lettered by the broker itself, with RabbitMQ's reason.
func TestDeliveryLimitDeadLetters(t *testing.T) {
	t.Parallel()
	url := amqpURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	e, err := New(ctx, Config{URL: url, Prefix: "hrtest-" + hex.EncodeToString(b), DeliveryLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	q := jobstest.Queue(t)
	t.Cleanup(func() {
		_ = e.Close()
		deleteQueues(url, e.workQueue(q), e.deadQueue(q))
	})
	if err := e.Publish(ctx, jobs.Message{ID: "crasher", Queue: q}); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		s, err := e.Subscribe(ctx, q, jobs.SubscribeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.Message().Attempt != attempt {
			t.Fatalf("attempt %d, want %d", d.Message().Attempt, attempt)
		}
		_ = s.Close() // the worker dies holding the job
	}
	var dls []jobs.DeadLetter
	for dls == nil {
		if dls, err = e.DeadLetters(ctx, q, 10); err != nil {
			t.Fatal(err)
		}
		if len(dls) == 0 {
			dls = nil
			select {
			case <-ctx.Done():
				t.Fatal("the broker did not dead-letter the job past its delivery limit")
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if dls[0].Message.ID != "crasher" || !strings.Contains(dls[0].Reason, "delivery_limit") {
		t.Fatalf("dead letter %+v, want crasher with the delivery_limit reason", dls[0])
	}
}

func BenchmarkPublish(b *testing.B) {
	e := newTestEngine(b, amqpURL(b))
	q := jobstest.Queue(b)
	payload := make([]byte, 128)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := e.Publish(b.Context(), jobs.Message{ID: "b" + strconv.Itoa(i), Queue: q, Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReconnects: when the connection drops, Publish redials and the subscription consumes
// again on a new channel.
func TestReconnects(t *testing.T) {
	t.Parallel()
	url := amqpURL(t)
	e := newTestEngine(t, url)
	q := jobstest.Queue(t)
	// The redial forgets what was declared, so name this test's queues for the cleanup.
	t.Cleanup(func() { deleteQueues(url, e.workQueue(q), e.deadQueue(q)) })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := e.Subscribe(ctx, q, jobs.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e.mu.Lock()
	conn := e.conn
	e.mu.Unlock()
	_ = conn.Close() // as a broker restart would
	if err := e.Publish(ctx, jobs.Message{ID: "after-drop", Queue: q}); err != nil {
		t.Fatalf("Publish after the connection dropped: %v", err)
	}
	d, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next after the connection dropped: %v", err)
	}
	if d.Message().ID != "after-drop" {
		t.Fatalf("delivered %q", d.Message().ID)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestStatsCountsOtherProcessesInFlight: the in-flight count comes from the management API, so
// it includes deliveries held by another engine (another worker process); without the API, an
// engine counts only its own and says so.
func TestStatsCountsOtherProcessesInFlight(t *testing.T) {
	t.Parallel()
	url := amqpURL(t)
	mgmt, err := newManagement(url, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := mgmt.client.Get(mgmt.base + "/api/overview"); err != nil {
		t.Skipf("RabbitMQ's management API at %s is not reachable (enable it: rabbitmq-plugins enable rabbitmq_management): %v", mgmt.base, err)
	} else {
		resp.Body.Close()
	}
	producer := newTestEngine(t, url)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	consumer, err := New(ctx, Config{URL: url, Prefix: producer.cfg.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = consumer.Close() })
	q := jobstest.Queue(t)
	for i := range 3 {
		if err := producer.Publish(ctx, jobs.Message{ID: strconv.Itoa(i), Queue: q}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := consumer.Subscribe(ctx, q, jobs.SubscribeOptions{Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		if _, err := s.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The plugin samples queue statistics every 5 s by default.
	var st jobs.QueueStats
	for st.InFlight != 2 || st.Depth != 1 {
		if st, err = producer.Stats(ctx, q); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("producer's stats %+v, want the consumer's 2 in flight and 1 ready", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(st.Note, "in flight") {
		t.Errorf("stats from the management API carry the fallback note: %q", st.Note)
	}

	off, err := New(ctx, Config{URL: url, Prefix: producer.cfg.Prefix, ManagementURL: ManagementOff})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = off.Close() })
	if st, err := off.Stats(ctx, q); err != nil || st.InFlight != 0 || !strings.Contains(st.Note, "this process's deliveries only") {
		t.Errorf("stats without the management API = %+v, %v; want 0 in flight (none here) and the note", st, err)
	}
}
