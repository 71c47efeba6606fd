package diagnose

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/headroom/headroom/result"
)

func TestTailSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, want int }{
		{5, 1}, {9, 1}, {10, 2}, {15, 3}, {100, 3}, {300, 3}, {301, 4}, {1000, 10},
	} {
		if got := tailSize(tc.n); got != tc.want {
			t.Errorf("tailSize(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// planted builds n requests to route of which the last slow ones carry slowKids, the others
// kids; each request ends 3 ms after its last child.
func planted(route string, n, slow int, kids, slowKids func(i int) []sp) []*Trace {
	var trs []*Trace
	for i := range n {
		ks := kids(i)
		if i >= n-slow {
			ks = slowKids(i)
		}
		end := 0.0
		for _, k := range ks {
			end = max(end, k.end)
		}
		trs = append(trs, trace(fmt.Sprintf("%s%02d", strings.Trim(route, "/api"), i), route, end+3, ks...))
	}
	return trs
}

func poolAcquire(s, e float64) sp {
	return sp{id: "w", parent: "h", name: "pool.acquire", kind: KindInternal, start: s, end: e}
}

func TestTailLatency(t *testing.T) {
	t.Parallel()
	cart := func(q float64) sp { return query("q", "SELECT * FROM carts WHERE id = $1", 1, 1+q) }
	pay := func(s, d float64) sp { return call("p", "POST", "http://payments.internal/charges", s, s+d) }
	normal := func(i int) []sp { q := 20 + float64(i%5); return []sp{cart(q), pay(1+q, 50)} }
	for _, tc := range []struct {
		name   string
		trs    []*Trace
		cfg    Config
		want   string // the operation or statement blamed, "" for no finding
		remedy string
		count  int // tail requests it explains
		tail   int
	}{
		{"remote call", planted("/api/checkout", 100, 3, normal, func(i int) []sp { return []sp{cart(20), pay(21, 5000)} }),
			Config{}, "POST http://payments.internal/charges", "deadline", 3, 3},
		{"query", planted("/api/checkout", 100, 3, normal, func(i int) []sp { return []sp{cart(900), pay(901, 50)} }),
			Config{}, "SELECT * FROM carts WHERE id = ?", "plan", 3, 3},
		{"pool wait", planted("/api/checkout", 100, 3, normal, func(i int) []sp {
			return []sp{poolAcquire(1, 400), query("q", "SELECT * FROM carts WHERE id = $1", 400, 420), pay(420, 50)}
		}), Config{}, "pool.acquire", "pool size", 3, 3},
		{"a remote service's own spans are charged to the call", planted("/api/checkout", 60, 3, normal, func(i int) []sp {
			return []sp{cart(20), pay(21, 800),
				{id: "ps", parent: "p", name: "POST /charges", kind: KindServer, start: 22, end: 820},
				{id: "pq", parent: "ps", name: "SELECT", kind: KindClient, start: 23, end: 819,
					attrs: []string{"db.system.name", "postgresql", "db.query.text", "SELECT * FROM ledger FOR UPDATE"}}}
		}), Config{}, "POST http://payments.internal/charges", "circuit breaker", 3, 3},
		{"the blamed operation explains only the requests it slows", planted("/api/checkout", 100, 3, normal, func(i int) []sp {
			if i == 99 {
				return []sp{cart(1500), pay(1501, 50)}
			}
			return []sp{cart(20), pay(21, 3000)}
		}), Config{}, "POST http://payments.internal/charges", "retry budget", 2, 3},
		{"the load run's slowest exemplars are the tail", planted("/api/checkout", 100, 10, normal, func(i int) []sp {
			return []sp{cart(20), pay(21, 300+float64(i))}
		}), Config{TailTraceIDs: []string{"checkout99", "checkout98", "checkout97", "checkout96", "checkout05"}},
			"POST http://payments.internal/charges", "hedge", 4, 4},
		{"uniform: no tail to explain", planted("/api/checkout", 100, 0, normal, normal), Config{}, "", "", 0, 0},
		{"under TailMinExtra", planted("/api/checkout", 100, 3, normal, func(i int) []sp { return []sp{cart(20), pay(21, 58)} }),
			Config{}, "", "", 0, 0},
		{"under TailMinShareOfGap: slower across the board", planted("/api/checkout", 100, 3, normal, func(i int) []sp {
			return []sp{cart(20), pay(21, 80), {id: "a", parent: "h", name: "render", kind: KindInternal, start: 101, end: 131},
				{id: "b", parent: "h", name: "audit", kind: KindInternal, start: 131, end: 161},
				{id: "c", parent: "h", name: "sign", kind: KindInternal, start: 161, end: 191}}
		}), Config{TailMinShareOfGap: 0.3}, "", "", 0, 0},
		{"too few requests", planted("/api/checkout", 9, 1, normal, func(i int) []sp { return []sp{cart(20), pay(21, 5000)} }),
			Config{}, "", "", 0, 0},
		// doctor --quick on the lab: 11 requests, one of which waited 5 s for the payment provider.
		{"one slow request of a quick run", planted("/api/checkout", 11, 1, normal, func(i int) []sp { return []sp{cart(20), pay(21, 5000)} }),
			Config{}, "POST http://payments.internal/charges", "deadline", 1, 2},
		{"under a tenth of the median latency: no tail", planted("/api/checkout", 100, 3, func(i int) []sp {
			return []sp{cart(20), pay(21, 500+float64(i%5))}
		}, func(i int) []sp { return []sp{cart(20), pay(21, 545)} }), Config{}, "", "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := Diagnose(tc.trs, tc.cfg)
			checkBounded(t, f)
			var got []result.Finding
			for _, x := range f.Findings {
				if x.Kind == result.KindTailLatency {
					got = append(got, x)
				}
			}
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("want no tail_latency, got %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want one tail_latency, got %+v (all: %+v)", got, f.Findings)
			}
			x := got[0]
			if blamed := x.Evidence.Operation + x.Evidence.Statement; blamed != tc.want {
				t.Errorf("blamed %q, want %q: %+v", blamed, tc.want, x)
			}
			if !strings.Contains(x.Remedy, tc.remedy) {
				t.Errorf("remedy %q lacks %q", x.Remedy, tc.remedy)
			}
			if x.Evidence.Count != tc.count || x.Evidence.TailRequests != tc.tail || len(x.Evidence.TraceIDs) != tc.count {
				t.Errorf("explains %d of %d (ids %v), want %d of %d", x.Evidence.Count, x.Evidence.TailRequests, x.Evidence.TraceIDs, tc.count, tc.tail)
			}
			// Capping the operation at its P50 saves the difference in the requests it explains.
			if x.Evidence.P50MS < 0 || x.Evidence.P50MS >= x.Evidence.TotalMS ||
				math.Abs(x.EstimatedSavingMS-(x.Evidence.TotalMS-x.Evidence.P50MS)) > 0.011 {
				t.Errorf("P50 %v, tail %v, saving %v: want 0 ≤ P50 < tail and saving = tail − P50", x.Evidence.P50MS, x.Evidence.TotalMS, x.EstimatedSavingMS)
			}
			if !strings.Contains(x.Summary, fmt.Sprintf("in %d of the %d slowest requests", tc.count, tc.tail)) {
				t.Errorf("summary %q", x.Summary)
			}
		})
	}
}

// FuzzTailLatency plants a tail of arbitrary sizes in arbitrary operations: whatever it finds
// must stay within what the requests took, and its evidence must be tail requests.
func FuzzTailLatency(f *testing.F) {
	f.Add(uint8(40), uint8(3), uint16(5000), uint16(0), uint16(0))
	f.Add(uint8(5), uint8(1), uint16(0), uint16(65535), uint16(30))
	f.Add(uint8(200), uint8(40), uint16(10), uint16(10), uint16(10))
	f.Fuzz(func(t *testing.T, n, slow uint8, payMS, queryMS, poolMS uint16) {
		trs := planted("/api/checkout", int(n%120)+1, int(slow%120), func(i int) []sp {
			q := 20 + float64(i%5)
			return []sp{query("q", "SELECT 1", 1, 1+q), call("p", "POST", "http://payments.internal/charges", 1+q, 51+q)}
		}, func(i int) []sp {
			pw, q, p := float64(poolMS)/10, float64(queryMS)/10, float64(payMS)/10
			return []sp{poolAcquire(1, 1+pw), query("q", "SELECT 1", 1+pw, 1+pw+q),
				call("p", "POST", "http://payments.internal/charges", 1+pw+q, 1+pw+q+p)}
		})
		got := Diagnose(trs, Config{MaxEvidence: 3})
		checkBounded(t, got)
		var tail []string
		for _, tc := range got.TailVsMedian {
			tail = tc.TailTraceIDs
		}
		for _, x := range got.Findings {
			if x.Kind != result.KindTailLatency {
				continue
			}
			if x.Evidence.Count < 1 || x.Evidence.Count > x.Evidence.TailRequests || len(x.Evidence.TraceIDs) > 3 ||
				x.Evidence.P50MS > x.Evidence.TotalMS {
				t.Fatalf("evidence out of range: %+v", x)
			}
			for _, id := range x.Evidence.TraceIDs {
				// TailVsMedian lists at most MaxEvidence of the tail: check only when it is whole.
				if x.Evidence.TailRequests <= 3 && !slices.Contains(tail, id) {
					t.Fatalf("evidence %s is not in the tail %v", id, tail)
				}
			}
		}
	})
}
