package redisq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/jobstest"
)

func redisURL(t testing.TB) string {
	url := os.Getenv("HEADROOM_TEST_REDIS")
	if url == "" {
		t.Skip("HEADROOM_TEST_REDIS is not set (e.g. redis://127.0.0.1:6379/0): skipping the Redis Streams engine")
	}
	return url
}

// newTestEngine connects under a prefix of its own and deletes the prefix's keys afterwards.
func newTestEngine(t testing.TB, url string) *Engine {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "hrtest-" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := New(ctx, Config{URL: url, Prefix: prefix})
	if err != nil {
		t.Fatalf("redisq.New: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Close()
		opts, _ := redis.ParseURL(url)
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, "{"+prefix+":*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return e
}

func TestConformance(t *testing.T) {
	t.Parallel()
	url := redisURL(t)
	jobstest.Exercise(t, func(t *testing.T) jobs.Engine { return newTestEngine(t, url) })
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, cfg := range []Config{{}, {URL: "http://127.0.0.1:6379"}, {URL: "redis://127.0.0.1:1/0"}, {URL: "redis://127.0.0.1:6379/0", Prefix: "A B"}} {
		if e, err := New(ctx, cfg); err == nil {
			_ = e.Close()
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}

// TestUndecodableEntryIsDeadLettered: an entry another program wrote into the stream (no job id)
// goes to the dead letters with the decode error instead of being redelivered forever.
func TestUndecodableEntryIsDeadLettered(t *testing.T) {
	t.Parallel()
	url := redisURL(t)
	e := newTestEngine(t, url)
	q := jobstest.Queue(t)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.keys(q).stream, Values: []any{"junk", "1"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.Publish(ctx, jobs.Message{ID: "good", Queue: q}); err != nil {
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
	if d.Message().ID != "good" {
		t.Fatalf("delivered %q, want the good job after the junk entry", d.Message().ID)
	}
	dls, err := e.DeadLetters(ctx, q, 10)
	if err != nil || len(dls) != 1 {
		t.Fatalf("DeadLetters = %v, %v; want the junk entry", dls, err)
	}
}

func BenchmarkPublish(b *testing.B) {
	e := newTestEngine(b, redisURL(b))
	q := jobstest.Queue(b)
	payload := make([]byte, 128)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := e.Publish(b.Context(), jobs.Message{ID: "b" + strconv.Itoa(i), Queue: q, Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCloseForgetsIdleConsumer: a subscription that leaves nothing pending removes its consumer
// from the group; one that holds a job keeps it, so the job is still redelivered.
func TestCloseForgetsIdleConsumer(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, redisURL(t))
	q := jobstest.Queue(t)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := e.Publish(ctx, jobs.Message{ID: "held", Queue: q}); err != nil {
		t.Fatal(err)
	}
	holder, err := e.Subscribe(ctx, q, jobs.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Next(ctx); err != nil {
		t.Fatal(err)
	}
	idle, err := e.Subscribe(ctx, q, jobs.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = idle.Close()
	_ = holder.Close()
	consumers, err := e.rdb.XInfoConsumers(ctx, e.keys(q).stream, "workers").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(consumers) != 1 || consumers[0].Pending != 1 {
		t.Fatalf("consumers after close %+v, want only the one holding the job", consumers)
	}
}
