package loadgen

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// goroutines is the executor with a goroutine per connection, each with a sender of its own.
type goroutines struct {
	e       *engine
	name    string // how the senders move bytes, for io
	newSend func(ctx context.Context) sender
}

var _ executor = (*goroutines)(nil)

func (g *goroutines) io() string { return g.name }

func (g *goroutines) start(ctx context.Context, wg *sync.WaitGroup, unsent func(int64)) error {
	for i := range g.e.cfg.Connections {
		wg.Go(func() {
			s := g.newSend(ctx)
			defer s.close()
			w := &worker{e: g.e, s: s, rng: rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))}
			if g.e.cfg.Model == ModelOpen {
				unsent(w.open(ctx))
			} else {
				w.closed(ctx)
				unsent(0)
			}
		})
	}
	return nil
}

// worker is one connection's loop.
type worker struct {
	e   *engine
	s   sender
	rng *rand.Rand
	tp  [55]byte
	smp sample
}

// open sends requests on the shared schedule until it runs out or ctx ends, and returns how
// many requests it took too late to send (see nextDue).
func (w *worker) open(ctx context.Context) (unsent int64) {
	e := w.e
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for ctx.Err() == nil {
		due, pickup, ok := e.nextDue(e.since, &unsent)
		if !ok {
			return unsent
		}
		if wait := due - pickup; wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return unsent
			case <-timer.C:
			}
		}
		w.do(ctx, due, pickup)
	}
	return unsent
}

// closed sends, waits for the answer, thinks, and repeats until the run's time is up.
func (w *worker) closed(ctx context.Context) {
	e := w.e
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for ctx.Err() == nil {
		now := e.since()
		if now >= e.total || !e.takeClosed(now) {
			return
		}
		w.do(ctx, now, now)
		if e.cfg.Think > 0 {
			timer.Reset(e.cfg.Think)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
	}
}

// do sends one request due at due and records it.
func (w *worker) do(ctx context.Context, due, pickup time.Duration) {
	e := w.e
	s := &w.smp
	target := e.stamp(w.rng, s, &w.tp)
	s.due, s.pickup = due, pickup
	s.sent = e.since()
	status, n, err := w.s.send(ctx, target, w.tp[:], e.start.Add(s.sent+e.cfg.Timeout))
	s.done = e.since()
	s.status, s.bytes, s.kind = status, n, ""
	switch {
	case err == errCanceled: //nolint:errorlint // sentinel returned as is by the senders
		s.kind = KindInterrupted
	case err != nil:
		s.kind = errorKind(err)
	case status >= 400:
		s.kind = statusKind(status)
	}
	e.rec.record(s)
}
