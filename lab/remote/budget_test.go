package remote

import "testing"

func TestRetryBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		ratio, burst float64
		calls        int
		want         int // retries allowed when every call wants one
	}{
		{"burst then ratio", 0.1, 10, 1000, 10 + 100},
		{"no burst", 0.5, 1, 10, 1 + 5},
		{"ratio one", 1, 1, 100, 100},
		{"zero ratio", 0, 3, 100, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newRetryBudget(tc.ratio, tc.burst)
			got := 0
			for range tc.calls {
				b.deposit()
				if b.withdraw() {
					got++
				}
			}
			// The deposit before the first withdraw is capped by the full bucket.
			if got < tc.want-1 || got > tc.want {
				t.Errorf("retries allowed = %d, want %d (±1)", got, tc.want)
			}
		})
	}
}
