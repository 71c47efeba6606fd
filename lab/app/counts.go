package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/jobs/worker"
)

// countsEvery is how often a worker adds its job outcomes to the lab database's totals: what
// `headroom lab jobs` shows lags the workers in other processes by at most this.
const countsEvery = time.Second

// countSharer adds a worker's job outcomes to the totals in the lab database, so that the lab
// reports those of every worker process, not only its own.
type countSharer struct {
	w     *worker.Worker
	store lab.Store

	mu   sync.Mutex
	last map[string]worker.Counts // what was added so far
	stop context.CancelFunc
	done chan struct{}
}

// startCountSharer adds w's outcomes every countsEvery until stopped.
func startCountSharer(ctx context.Context, w *worker.Worker, store lab.Store, log *slog.Logger) *countSharer {
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	c := &countSharer{w: w, store: store, last: map[string]worker.Counts{}, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(countsEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.flush(ctx); err != nil && ctx.Err() == nil {
					log.WarnContext(ctx, "job counts not shared; retried in a second", slog.Any("error", err))
				}
			}
		}
	}()
	return c
}

// flush adds what the worker counted since the last flush.
func (c *countSharer) flush(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.w.Counts()
	add := map[string]lab.JobCounts{}
	for q, n := range now {
		l := c.last[q]
		if d := (lab.JobCounts{Done: n.Done - l.Done, Failed: n.Failed - l.Failed, Dead: n.Dead - l.Dead, Duplicates: n.Duplicates - l.Duplicates}); d != (lab.JobCounts{}) {
			add[q] = d
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := c.store.AddJobCounts(ctx, add); err != nil {
		return err
	}
	c.last = now
	return nil
}

// close stops the ticker and adds what is left: call it after the worker has stopped.
func (c *countSharer) close(ctx context.Context) error {
	c.stop()
	<-c.done
	return c.flush(ctx)
}
