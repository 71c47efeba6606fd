package worker_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/jobstest"
	"github.com/headroom/headroom/lab/jobs/worker"
)

// BenchmarkNoopJobs runs b.N no-op jobs through the runtime on embedded JetStream (published
// before the timer starts): the runtime's own cost per job on top of the engine's.
func BenchmarkNoopJobs(b *testing.B) {
	e := engine(b)
	q := jobstest.Queue(b)
	ctx := context.Background()
	for i := range b.N {
		if err := e.Publish(ctx, jobs.Message{ID: strconv.Itoa(i), Queue: q, EnqueuedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	var done atomic.Int64
	all := make(chan struct{})
	w, err := worker.New(worker.Config{Engine: e})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Handle(q, worker.QueueConfig{Concurrency: 64, Handler: func(context.Context, *worker.Job) error {
		if done.Add(1) == int64(b.N) {
			close(all)
		}
		return nil
	}}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := w.Start(ctx); err != nil {
		b.Fatal(err)
	}
	<-all
	b.StopTimer()
	_ = w.Stop(ctx)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// FuzzDecode: any payload either decodes or is a permanent error naming the queue; never a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"invite_id":1}`, `{"invite_id":"x"}`, `{"a":1}`, `{"invite_id":1} {}`, ``, `null`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		j := &worker.Job{Message: jobs.Message{Queue: "email", Payload: payload}}
		var p struct {
			InviteID int64 `json:"invite_id"`
		}
		if err := worker.Decode(j, &p); err != nil && !errors.Is(err, worker.ErrPermanent) {
			t.Fatalf("Decode(%q) = %v, not permanent", payload, err)
		}
	})
}
