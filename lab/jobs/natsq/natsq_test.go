package natsq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/jobstest"
)

func TestEmbedded(t *testing.T) {
	t.Parallel()
	jobstest.Exercise(t, func(t *testing.T) jobs.Engine {
		return newTestEngine(t, Config{StoreDir: t.TempDir()})
	})
}

// TestExternal runs the suite against the machine's NATS server (HEADROOM_TEST_NATS), each test
// under a prefix of its own whose streams are deleted afterwards.
func TestExternal(t *testing.T) {
	t.Parallel()
	url := os.Getenv("HEADROOM_TEST_NATS")
	if url == "" {
		t.Skip("HEADROOM_TEST_NATS is not set (e.g. nats://127.0.0.1:4222): skipping the external JetStream run")
	}
	jobstest.Exercise(t, func(t *testing.T) jobs.Engine {
		return newTestEngine(t, Config{URL: url, Prefix: testPrefix()})
	})
}

func testPrefix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "hrtest-" + hex.EncodeToString(b)
}

func newTestEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	e, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("natsq.New: %v", err)
	}
	t.Cleanup(func() {
		if cfg.URL != "" {
			// Remove this test's streams from the shared server (a closed engine's connection is
			// gone, so use a fresh engine's).
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if c, err := New(ctx, cfg); err == nil {
				_ = c.js.DeleteStream(ctx, c.workStream())
				_ = c.js.DeleteStream(ctx, c.deadStream())
				_ = c.Close()
			}
		}
		_ = e.Close()
	})
	return e
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(t.Context(), Config{Prefix: "Has Space"}); err == nil {
		t.Fatal("New with an invalid prefix succeeded")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := New(ctx, Config{URL: "nats://127.0.0.1:1"}); err == nil {
		t.Fatal("New against a closed port succeeded")
	}
}

func TestEmbeddedKeepsJobsAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newTestEngine(t, Config{StoreDir: dir})
	q := jobstest.Queue(t)
	if err := e.Publish(t.Context(), jobs.Message{ID: "durable", Queue: q, Payload: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := newTestEngine(t, Config{StoreDir: dir})
	s, err := e2.Subscribe(t.Context(), q, jobs.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	d, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("job published before the restart: %v", err)
	}
	if string(d.Message().Payload) != "kept" {
		t.Fatalf("payload %q after restart", d.Message().Payload)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPublish(b *testing.B) {
	e := newTestEngine(b, Config{StoreDir: b.TempDir()})
	q := jobstest.Queue(b)
	payload := make([]byte, 128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := e.Publish(b.Context(), jobs.Message{ID: "b" + strconv.Itoa(i), Queue: q, Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMaxDeliverDeadLetters: a job whose worker dies on every delivery is moved to the dead
// letters once the consumer reaches MaxDeliver, with the reason saying so.
func TestMaxDeliverDeadLetters(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Config{StoreDir: t.TempDir(), MaxDeliver: 1})
	q := jobstest.Queue(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.Publish(ctx, jobs.Message{ID: "crasher", Queue: q, Payload: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	s, err := e.Subscribe(ctx, q, jobs.SubscribeOptions{AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(ctx); err != nil {
		t.Fatal(err)
	}
	_ = s.Close() // the worker dies holding the job
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		dls, err := e.DeadLetters(ctx, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) == 1 {
			if dls[0].Message.ID != "crasher" || string(dls[0].Message.Payload) != "c" || !strings.Contains(dls[0].Reason, "MaxDeliver") {
				t.Fatalf("dead letter %+v, want crasher with the MaxDeliver reason", dls[0])
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the job was not dead-lettered after reaching MaxDeliver")
		case <-tick.C:
		}
	}
	st, err := e.Stats(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if st.Depth != 0 || st.InFlight != 0 || st.Dead != 1 {
		t.Fatalf("stats %+v, want the job only among the dead", st)
	}
}

// TestEmbeddedServesOtherProcesses: URL is the embedded server's loopback address, so workers
// in other processes (here: a second engine over TCP) share its queues.
func TestEmbeddedServesOtherProcesses(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Config{StoreDir: t.TempDir()})
	remote := newTestEngine(t, Config{URL: e.URL()})
	q := jobstest.Queue(t)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := remote.Publish(ctx, jobs.Message{ID: "over-tcp", Queue: q}); err != nil {
		t.Fatal(err)
	}
	s, err := e.Subscribe(ctx, q, jobs.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Message().ID != "over-tcp" {
		t.Fatalf("delivered %q", d.Message().ID)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}
