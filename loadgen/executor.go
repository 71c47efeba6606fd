package loadgen

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// executor moves a run's requests over its connections: it sends each request when the engine
// says it is due (nextDue, open model) or when a user is ready (closed model), and records it in
// the engine's recorder. Two implement it: a goroutine per connection (goroutines, everywhere)
// and event loops that drive many connections each (loops, Linux: epoll or io_uring).
type executor interface {
	// start launches the executor's goroutines on wg and returns; it fails only when it cannot
	// start (then nothing runs). The goroutines end when the run's time is up, its schedule has
	// run out or ctx ends; each reports to unsent, as it ends, how many requests fell due but
	// were never sent.
	start(ctx context.Context, wg *sync.WaitGroup, unsent func(int64)) error
	// io names how the bytes moved, for result.Generator.IO; it is read after the run.
	io() string
}

// nextDue takes the next request of the open model's schedule and returns its due time, and the
// time a connection took it (now(), read after the ticket is taken). A request taken at or after
// the run's end, when every connection stayed busy until then, is not sent: it is counted in
// unsent (if it fell due after the warm-up) and the next is taken. ok is false when the schedule
// has run out.
func (e *engine) nextDue(now func() time.Duration, unsent *int64) (due, pickup time.Duration, ok bool) {
	for {
		e.mu.Lock()
		due, ok = e.sched.Next()
		ok = ok && e.take(due)
		e.mu.Unlock()
		if !ok {
			return 0, 0, false
		}
		if pickup = now(); pickup < e.total {
			return due, pickup, true
		}
		if due >= e.cfg.Warmup {
			*unsent++
		}
	}
}

// stamp prepares the next request: it picks its target by weight, gives s a fresh trace id and
// writes its traceparent header value to tp. It returns the target's index.
func (e *engine) stamp(rng *rand.Rand, s *sample, tp *[55]byte) (target int) {
	if len(e.cum) > 1 {
		target = min(sort.SearchFloat64s(e.cum, rng.Float64()*e.cum[len(e.cum)-1]), len(e.cum)-1)
	}
	s.target = target
	putUint64(s.trace[:8], rng.Uint64())
	putUint64(s.trace[8:], rng.Uint64())
	traceparent(tp, &s.trace, rng.Uint64())
	return target
}
