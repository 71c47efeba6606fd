package pause

import (
	"context"
	"time"
)

// Fine is the last stretch of a wait that is handed to the precise waker; the time before it is
// spent on a Go timer. It exceeds the timers' coarseness (about 1.1 ms) with margin.
const Fine = 2 * time.Millisecond

// Until blocks until deadline or until a receive from done succeeds, whichever comes first, and
// reports whether the deadline was reached. A receive that ends the wait is consumed; a nil done
// never ends it. Until is safe for concurrent use.
func Until(done <-chan struct{}, deadline time.Time) bool {
	if coarse := time.Until(deadline) - Fine; coarse > 0 {
		t := time.NewTimer(coarse)
		defer t.Stop()
		select {
		case <-done:
			return false
		case <-t.C:
		}
	}
	return fineUntil(done, deadline)
}

// For blocks for d, or until ctx ends and then returns ctx's error.
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if !Until(ctx.Done(), time.Now().Add(d)) {
		return ctx.Err()
	}
	return nil
}

// timerUntil is fineUntil on a Go timer: correct, only coarse.
func timerUntil(done <-chan struct{}, deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C:
		return true
	}
}
