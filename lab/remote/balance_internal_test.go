package remote

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

// testBalancer is a Balancer over n endpoints that are never dialed or checked; the tests set
// their health and counts by hand.
func testBalancer(t testing.TB, n int) (*Balancer, []*endpoint) {
	t.Helper()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://replica-%d:8080", i)
	}
	b, err := NewBalancer(BalancerConfig{Peer: "posts", Endpoints: urls})
	if err != nil {
		t.Fatal(err)
	}
	return b, *b.endpoints.Load()
}

func TestPickRanks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		healthy     []bool
		outstanding []int64
		avoid       int // -1: none
		want        int
	}{
		{"fewest outstanding", []bool{true, true, true}, []int64{2, 0, 1}, -1, 1},
		{"unhealthy skipped though idle", []bool{true, false, true}, []int64{3, 0, 5}, -1, 0},
		{"retry avoids the previous endpoint", []bool{true, true, true}, []int64{2, 0, 1}, 1, 2},
		{"retry returns to the only healthy one", []bool{false, true, false}, []int64{0, 4, 0}, 1, 1},
		{"panic: none healthy, fewest outstanding", []bool{false, false, false}, []int64{2, 1, 3}, -1, 1},
		{"panic with a retry", []bool{false, false, false}, []int64{2, 1, 3}, 1, 0},
		{"one endpoint avoided is still picked", []bool{true}, []int64{7}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, eps := testBalancer(t, len(tc.healthy))
			for i, e := range eps {
				e.healthy.Store(tc.healthy[i])
				e.outstanding.Store(tc.outstanding[i])
			}
			var avoid *endpoint
			if tc.avoid >= 0 {
				avoid = eps[tc.avoid]
			}
			got := b.pick(avoid)
			if got != eps[tc.want] {
				t.Errorf("picked %s, want %s", got.url, eps[tc.want].url)
			}
			if got.outstanding.Load() != tc.outstanding[tc.want]+1 || got.picks.Load() != 1 {
				t.Errorf("after the pick: outstanding %d picks %d, want %d and 1", got.outstanding.Load(), got.picks.Load(), tc.outstanding[tc.want]+1)
			}
		})
	}
}

// TestPickTiesAtRandom: idle endpoints share the attempts evenly.
func TestPickTiesAtRandom(t *testing.T) {
	t.Parallel()
	b, eps := testBalancer(t, 3)
	for _, e := range eps {
		e.healthy.Store(true)
	}
	const picks = 3000
	for range picks {
		b.release(b.pick(nil), nil)
	}
	for _, e := range eps {
		// Each expects 1,000 (binomial SD ≈ 26): ±200 is ≈ 8 SD.
		if n := e.picks.Load(); n < 800 || n > 1200 {
			t.Errorf("%s picked %d times of %d, want about a third", e.url, n, picks)
		}
		if e.outstanding.Load() != 0 {
			t.Errorf("%s outstanding %d after every release, want 0", e.url, e.outstanding.Load())
		}
	}
}

func TestReleaseEjectsOnLostConnection(t *testing.T) {
	t.Parallel()
	lost := func(errno syscall.Errno) error {
		return fmt.Errorf("remote: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)})
	}
	for _, tc := range []struct {
		name         string
		err          error
		otherHealthy bool
		ejected      bool // the endpoint is unhealthy after
		alone        bool // release reports the failure as the endpoint's alone
	}{
		{"ok", nil, true, false, false},
		{"503", &StatusError{Code: 503}, true, false, false},
		{"refused", lost(syscall.ECONNREFUSED), true, true, true},
		{"reset", lost(syscall.ECONNRESET), true, true, true},
		{"refused, no other healthy", lost(syscall.ECONNREFUSED), false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, eps := testBalancer(t, 2)
			eps[0].healthy.Store(true)
			eps[1].healthy.Store(tc.otherHealthy)
			e := b.pick(eps[1])
			if got := b.release(e, tc.err); got != tc.alone {
				t.Errorf("release reported %v, want %v", got, tc.alone)
			}
			if e.healthy.Load() == tc.ejected || e.outstanding.Load() != 0 {
				t.Errorf("after release: healthy %v outstanding %d, want healthy %v and 0", e.healthy.Load(), e.outstanding.Load(), !tc.ejected)
			}
			if tc.ejected && !e.health.probation {
				t.Error("an ejected endpoint is not on probation: it would need HealthyThreshold checks")
			}
		})
	}
}

func TestHealthStateNext(t *testing.T) {
	t.Parallel()
	const toHealthy, toUnhealthy = 2, 3
	type step struct {
		r       checkResult
		healthy bool // after the step
	}
	ok, none, bad := checkPassed, checkNoAnswer, checkRefused
	for _, tc := range []struct {
		name    string
		start   healthState
		healthy bool
		steps   []step
	}{
		{"new endpoint: one pass", healthState{probation: true}, false, []step{{ok, true}}},
		{"new endpoint: failures keep it out", healthState{probation: true}, false, []step{{none, false}, {bad, false}, {ok, true}}},
		{"no answer: unhealthy on the third", healthState{}, true, []step{{none, true}, {none, true}, {none, false}}},
		{"a pass resets the failures", healthState{}, true, []step{{none, true}, {none, true}, {ok, true}, {none, true}, {none, true}, {none, false}}},
		{"non-200: unhealthy at once", healthState{}, true, []step{{bad, false}}},
		{"back after two passes", healthState{}, true, []step{{bad, false}, {ok, false}, {ok, true}}},
		{"a failure resets the passes", healthState{}, false, []step{{ok, false}, {none, false}, {ok, false}, {ok, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, healthy := tc.start, tc.healthy
			for i, st := range tc.steps {
				s, healthy = s.next(healthy, st.r, toHealthy, toUnhealthy)
				if healthy != st.healthy {
					t.Fatalf("step %d (%d): healthy %v, want %v", i+1, st.r, healthy, st.healthy)
				}
			}
		})
	}
}

// BenchmarkBalancerPick measures an attempt's pick and release over three healthy replicas,
// from one goroutine and from GOMAXPROCS at once (the counters' cache lines then shared).
func BenchmarkBalancerPick(b *testing.B) {
	bal, eps := testBalancer(b, 3)
	for _, e := range eps {
		e.healthy.Store(true)
	}
	b.Run("serial", func(b *testing.B) {
		var last *endpoint
		for b.Loop() {
			last = bal.pick(last)
			bal.release(last, nil)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var last *endpoint
			for pb.Next() {
				last = bal.pick(last)
				bal.release(last, nil)
			}
		})
	})
}
