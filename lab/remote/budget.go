package remote

import "sync"

// retryBudget lets retries be at most a ratio of calls: each call deposits ratio of a token,
// each retry takes a whole one, and the balance never exceeds burst. Its window is therefore
// counted in calls, not seconds: after a quiet spell at most burst retries go out at once, and
// under a down peer the retries settle at ratio × calls (Finagle's and gRPC's retry budgets work
// the same way).
//
// failsafe-go's budget package bounds the share of retries among executions in flight at one
// moment, which does not bound a sequential caller's retries over time; hence this one.
type retryBudget struct {
	ratio, burst float64

	mu     sync.Mutex
	tokens float64
}

func newRetryBudget(ratio, burst float64) *retryBudget {
	return &retryBudget{ratio: ratio, burst: burst, tokens: burst}
}

// deposit records a call.
func (b *retryBudget) deposit() {
	b.mu.Lock()
	b.tokens = min(b.tokens+b.ratio, b.burst)
	b.mu.Unlock()
}

// withdraw takes a token for a retry, reporting false when none is left.
func (b *retryBudget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
