package experiments

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/result"
)

// nPlusOne is the notes' N+1: GET /api/posts?limit=N fetches N posts and, with the lab's
// n_plus_one, each author in a query of its own (N+1 queries); batched, all authors in one (2).
// Every query pays the database round trip (--db-latency), the notes' 5 ms by default.
var nPlusOne = Definition{
	Name:  "n-plus-one",
	Title: "N+1 queries: latency linear in N, constant when batched",
	Claim: "Fetch 20 blog posts: 1 API call → get posts; 20 API calls → get authors; Total = 21 API calls. " +
		"Linear growth: N items → N+1 queries. Example: 1000 queries × 5 ms = 5 seconds latency. " +
		"Batch fetching … 2 queries total … Constant (O(1) queries), not linear",
	Source: Seed000 + ":241-285 (N + 1 Query Problem)",
	Expected: "from the traces, N+1 queries per request with n_plus_one and 2 batched, at every N (±0.5); with n_plus_one " +
		"the P50 grows linearly in the queries (R² ≥ 0.95 over 3 or more Ns), each query costing 0.8–1.5× the round trip, " +
		"so 1000 queries take 0.8–1.5× (1000 × round trip) (the notes' 5 s at 5 ms); batched, the P50 grows by at most a " +
		"tenth of the N+1's growth from the smallest N to the largest; diagnose reports n_plus_one_db at the largest N",
	Params: []Param{
		{Name: "ns", Default: "10,20,50,100", Help: "the Ns (posts per request, 1–100), comma-separated", Valid: nsList},
		{Name: "quick-ns", Default: "10,50", Help: "the Ns of --quick", Valid: nsList},
		{Name: "db-latency", Default: "5ms", Help: "the database round trip (the lab's --db-latency)"},
		{Name: "rate", Default: "5", Help: "requests per second", Valid: positive},
	},
	Quick: true,
	Measure: func(ctx context.Context, e *Env) error {
		ns, err := parseNs(e.Param("ns"))
		if e.Quick() {
			ns, err = parseNs(e.Param("quick-ns"))
		}
		if err != nil {
			return err
		}
		otlp, err := e.OTLP(ctx)
		if err != nil {
			return err
		}
		if _, err := e.StartLab(ctx, "--otlp", otlp, "--db-latency", e.Param("db-latency")); err != nil {
			return err
		}
		d := e.Length(5*time.Second, 3*time.Second)
		for _, mode := range []struct{ prefix, switches, setup string }{
			{"n+1", "n_plus_one", "n_plus_one on: one query per author"},
			{"batched", "none", "the authors in one batched query"},
		} {
			if err := e.Switch(ctx, mode.switches); err != nil {
				return err
			}
			for _, n := range ns {
				if _, err := e.Load(ctx, Load{Name: fmt.Sprintf("%s n=%d", mode.prefix, n), Setup: mode.setup,
					Path: "/api/posts?limit=" + strconv.Itoa(n), Rate: e.Float("rate"), Duration: d, Warmup: 500 * time.Millisecond}); err != nil {
					return err
				}
			}
		}
		for _, mode := range []string{"n+1", "batched"} {
			for _, n := range ns {
				if _, err := e.Diagnose(ctx, fmt.Sprintf("%s n=%d", mode, n), diagnose.DefaultConfig()); err != nil {
					return err
				}
			}
		}
		return nil
	},
	Check: checkNPlusOne,
}

// nsList accepts a list of Ns as parseNs reads it.
func nsList(v string) error {
	_, err := parseNs(v)
	return err
}

// parseNs reads a list of Ns, each 1–100 (the lab's limit).
func parseNs(s string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 100 {
			return nil, fmt.Errorf("%q in the list: want whole numbers from 1 to 100, comma-separated", f)
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return slices.Compact(ns), nil
}

// nRun is one load run of n-plus-one with its traces' figures.
type nRun struct {
	n             int
	p50, queries  float64
	nPlusOneFound bool
}

// nRuns reads the runs of mode ("n+1" or "batched") from m, smallest N first.
func nRuns(m Measured, mode string) []nRun {
	var out []nRun
	for _, x := range m.ms {
		rest, ok := strings.CutPrefix(x.Name, mode+" n=")
		if !ok || strings.Contains(rest, "/") {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || x.LatencyMS == nil {
			continue
		}
		t, _ := m.Get(x.Name + "/traces")
		_, found := t.Values["finding."+string(result.KindNPlusOneDB)]
		out = append(out, nRun{n: n, p50: x.LatencyMS.P50, queries: t.Values["queries_per_request"], nPlusOneFound: found})
	}
	slices.SortFunc(out, func(a, b nRun) int { return a.n - b.n })
	return out
}

func checkNPlusOne(m Measured) (result.Outcome, string) {
	rt, err := time.ParseDuration(m.Param("db-latency"))
	if err != nil || rt <= 0 {
		return result.OutcomeInconclusive, fmt.Sprintf("db-latency %q: the per-query cost needs a positive round trip", m.Param("db-latency"))
	}
	rtMS := float64(rt) / float64(time.Millisecond)
	np1, batched := nRuns(m, "n+1"), nRuns(m, "batched")
	if len(np1) < 2 || len(batched) != len(np1) {
		return result.OutcomeInconclusive, fmt.Sprintf("%d N+1 and %d batched runs: at least two Ns of each are needed", len(np1), len(batched))
	}
	var fails, figs []string
	for i := range np1 {
		a, b := np1[i], batched[i]
		figs = append(figs, fmt.Sprintf("N=%d: %.1f queries, P50 %.1f ms vs %.1f queries, %.1f ms batched", a.n, a.queries, a.p50, b.queries, b.p50))
		if math.Abs(a.queries-float64(a.n+1)) > 0.5 || math.Abs(b.queries-2) > 0.5 {
			fails = append(fails, fmt.Sprintf("N=%d: %.1f and %.1f queries per request, not %d and 2", a.n, a.queries, b.queries, a.n+1))
		}
	}
	xs, ys := make([]float64, len(np1)), make([]float64, len(np1))
	for i, r := range np1 {
		xs[i], ys[i] = float64(r.n+1), r.p50
	}
	slope, intercept, r2 := linearFit(xs, ys)
	at1000 := intercept + 1000*slope
	figs = append(figs, fmt.Sprintf("each query %.2f ms (%.2f× the %v round trip, R² %.3f): 1000 queries ≈ %.2f s", slope, slope/rtMS, rt, r2, at1000/1000))
	if len(np1) >= 3 && r2 < 0.95 {
		fails = append(fails, fmt.Sprintf("the P50 is not linear in N (R² %.3f < 0.95)", r2))
	}
	if slope < 0.8*rtMS || slope > 1.5*rtMS {
		fails = append(fails, fmt.Sprintf("a query costs %.2f ms, outside 0.8–1.5× the round trip %v", slope, rt))
	}
	first, last := 0, len(np1)-1
	grow, bgrow := np1[last].p50-np1[first].p50, batched[last].p50-batched[first].p50
	if bgrow > grow/10 {
		fails = append(fails, fmt.Sprintf("batched, the P50 grew %.1f ms from N=%d to N=%d, more than a tenth of the N+1's %.1f ms", bgrow, np1[first].n, np1[last].n, grow))
	}
	if !np1[last].nPlusOneFound {
		fails = append(fails, fmt.Sprintf("diagnose did not report n_plus_one_db at N=%d", np1[last].n))
	}
	why := strings.Join(figs, "; ")
	if len(fails) > 0 {
		return result.OutcomeDidNotHold, strings.Join(fails, "; ") + " — " + why
	}
	return result.OutcomeHeld, why
}

// linearFit fits y = intercept + slope·x by least squares and returns R², the share of y's
// variance the line explains (1 for two points or a perfect line).
func linearFit(xs, ys []float64) (slope, intercept, r2 float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0, sy / n, 0
	}
	slope = (n*sxy - sx*sy) / den
	intercept = (sy - slope*sx) / n
	var ssRes, ssTot float64
	mean := sy / n
	for i := range xs {
		d := ys[i] - (intercept + slope*xs[i])
		ssRes += d * d
		ssTot += (ys[i] - mean) * (ys[i] - mean)
	}
	if ssTot == 0 {
		return slope, intercept, 1
	}
	return slope, intercept, 1 - ssRes/ssTot
}
