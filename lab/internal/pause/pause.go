package pause

import (
	"context"
	"time"
)

// Fine is the longest stretch a wait spends in the operating system's sleep, on the goroutine's
// thread and deaf to cancellation; the time before it is spent on a Go timer that cancellation
// ends at once. It exceeds the timers' coarseness (about 1.1 ms) with margin.
const Fine = 2 * time.Millisecond

// Until blocks until deadline or until a receive from done succeeds, whichever comes first, and
// reports whether the deadline was reached. A receive that ends the wait is consumed; a nil done
// never ends it. done is watched until the last [Fine] of the wait, not during it.
func Until(done <-chan struct{}, deadline time.Time) bool {
	if coarse := time.Until(deadline) - Fine; coarse > 0 {
		t := time.NewTimer(coarse)
		defer t.Stop()
		select {
		case <-done:
			return false
		case <-t.C:
		}
	} else {
		select {
		case <-done:
			return false
		default:
		}
	}
	sleepUntil(deadline)
	return true
}

// For blocks for d, or until ctx ends (noticed up to [Fine] late) and then returns ctx's error.
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if !Until(ctx.Done(), time.Now().Add(d)) {
		return ctx.Err()
	}
	return nil
}
