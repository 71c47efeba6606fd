package capacity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

// queueTarget is a fake target: an M/M/c queue with c servers of mean service time s seconds.
// Below capacity a step measures the queue's P99; at or past it the target keeps only its
// capacity and the P99 grows with the backlog of a 5 s step.
type queueTarget struct {
	s        float64
	c        int
	invalid  func(rate float64) bool // steps the generator could not drive
	cpuShare bool
	calls    int
}

func (q *queueTarget) Step(ctx context.Context, rate float64) (Measurement, error) {
	q.calls++
	if err := ctx.Err(); err != nil {
		return Measurement{}, err
	}
	capacity := float64(q.c) / q.s
	const dur = 5.0
	l := &result.Load{
		Schema: result.LoadSchema, Target: "fake://queue", Model: "open", OfferedRPS: rate, DurationS: dur,
		Verdict: result.Verdict{Valid: true},
	}
	l.AchievedRPS = rate
	model := QueueFit{S: q.s, C: q.c, Base: 1.5 * q.s, mmc: true}
	p99 := model.P99(rate)
	if rate >= 0.995*capacity {
		l.AchievedRPS = capacity
		p99 = dur * (rate - capacity) / capacity // the backlog's wait at the end
		p99 = max(p99, model.P99(0.995*capacity))
	}
	l.Requests = int64(rate * dur)
	l.LatencyMS = result.Summary{P50: q.s * 1000, P99: p99 * 1000, Mean: q.s * 1000}
	l.ServiceMS = l.LatencyMS
	if q.invalid != nil && q.invalid(rate) {
		l.Verdict = result.Verdict{Valid: false, Reasons: []string{"the generator used 95% of its 2 cores"}}
	}
	m := Measurement{Load: l}
	if q.cpuShare {
		m.Utilization = &Utilization{CPUCores: rate * q.s, Share: math.Min(1, rate*q.s/float64(q.c))}
	}
	return m, nil
}

func objective(t *testing.T, expr string) slo.Objective {
	t.Helper()
	o, err := slo.Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// rateAt solves for the rate at which the fake queue's P99 reaches p99 seconds.
func rateAt(p99, s float64, c int) float64 {
	model := QueueFit{S: s, C: c, Base: 1.5 * s, mmc: true}
	lo, hi := 0.0, float64(c)/s
	for range 100 {
		m := (lo + hi) / 2
		if model.P99(m) < p99 {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

func TestRunFindsTheQueuesLimit(t *testing.T) {
	t.Parallel()
	q := &queueTarget{s: 0.010, c: 8, cpuShare: true} // capacity 800 req/s
	cfg := Config{Objective: objective(t, "p99<100ms"), Start: 50, CurrentRPS: 200}
	var seen int
	sw, err := Run(t.Context(), cfg, q, func(result.SweepStep) { seen++ }, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := rateAt(0.100, q.s, q.c)
	if sw.Outcome != "found" || sw.MaxRPSUnderSLO > want || sw.MaxRPSUnderSLO < want*0.95 {
		t.Errorf("outcome %s max %v, want found and %v within 5%% below", sw.Outcome, sw.MaxRPSUnderSLO, want)
	}
	if seen != len(sw.Steps) || seen != q.calls {
		t.Errorf("progress %d, steps %d, calls %d: want equal", seen, len(sw.Steps), q.calls)
	}
	if got := sw.RecommendedRPS; math.Abs(got-0.7*sw.MaxRPSUnderSLO) > 1 {
		t.Errorf("recommended %v, want 70%% of %v", got, sw.MaxRPSUnderSLO)
	}
	if sw.SaturationRPS != 0 && sw.SaturationRPS < 800 {
		t.Errorf("saturation %v, want none or at or past 800", sw.SaturationRPS)
	}
	if sw.KneeRPS <= 0 || sw.KneeRPS > 800 {
		t.Errorf("knee %v, want in (0, 800]", sw.KneeRPS)
	}
	if sw.Model.MMc == nil || math.Abs(sw.Model.MMc.CapacityRPS-800)/800 > 0.05 || sw.Model.Best != "mmc" {
		t.Errorf("M/M/c fit %+v best %s, want capacity 800 within 5%% and best", sw.Model.MMc, sw.Model.Best)
	}
	if sw.Model.MM1 == nil || sw.Model.Best == "" {
		t.Errorf("models %+v: want mm1 and a best", sw.Model)
	}
	if sw.Steps[0].Utilization == nil || *sw.Steps[0].Utilization <= 0 {
		t.Errorf("step 0 utilization %v, want known", sw.Steps[0].Utilization)
	}
	w := sw.WhatIf
	if w == nil || len(w.Projections) < 2 {
		t.Fatalf("what-if %+v", w)
	}
	last := w.Projections[len(w.Projections)-1]
	if !last.Breaks || last.RPS <= sw.MaxRPSUnderSLO {
		t.Errorf("last projection %+v, want the first to break the SLO", last)
	}
	if p := w.Projections[0]; p.Breaks || p.Source != "measured" || p.P99MS <= 0 {
		t.Errorf("projection at 1× %+v, want a measured P99", p)
	}
	if sw.Schema != result.SweepSchema || !strings.Contains(string(sw.Config), `"slo":"p99<100ms"`) {
		t.Errorf("schema %q config %s", sw.Schema, sw.Config)
	}
}

func TestRunNoRateMeetsTheSLO(t *testing.T) {
	t.Parallel()
	q := &queueTarget{s: 0.010, c: 8}
	sw, err := Run(t.Context(), Config{Objective: objective(t, "p99<1ms"), Start: 100}, q, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sw.Outcome != "no_rate_meets_slo" || sw.MaxRPSUnderSLO != 0 || sw.RecommendedRPS != 0 {
		t.Errorf("outcome %s max %v recommended %v", sw.Outcome, sw.MaxRPSUnderSLO, sw.RecommendedRPS)
	}
	if q.calls != 2 {
		t.Errorf("%d steps, want 2 (the start and one probe lower): the search ends early", q.calls)
	}
}

func TestRunInvalidStepMakesALowerBound(t *testing.T) {
	t.Parallel()
	q := &queueTarget{s: 0.001, c: 8, invalid: func(r float64) bool { return r > 1000 }} // capacity 8000
	sw, err := Run(t.Context(), Config{Objective: objective(t, "p99<100ms"), Start: 100}, q, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sw.MaxIsLowerBound || sw.MaxRPSUnderSLO > 1000 {
		t.Errorf("max %v lower bound %v, want ≤ 1000 and a lower bound", sw.MaxRPSUnderSLO, sw.MaxIsLowerBound)
	}
	if !strings.Contains(strings.Join(sw.Notes, ";"), "lower bound") {
		t.Errorf("notes %q", sw.Notes)
	}
	var invalid bool
	for _, st := range sw.Steps {
		if !st.Verdict.Valid {
			invalid = true
			if st.Pass || !strings.Contains(strings.Join(st.FailReasons, ";"), "invalid") {
				t.Errorf("invalid step %+v judged %v %q", st.OfferedRPS, st.Pass, st.FailReasons)
			}
		}
	}
	if !invalid {
		t.Error("no invalid step recorded")
	}
}

func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	q := &queueTarget{s: 0.010, c: 8}
	n := 0
	s := StepperFunc(func(ctx context.Context, rate float64) (Measurement, error) {
		n++
		if n == 3 {
			cancel()
		}
		return q.Step(ctx, rate)
	})
	sw, err := Run(ctx, Config{Objective: objective(t, "p99<100ms"), Start: 50}, s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sw.Partial || sw.Outcome != "interrupted" || len(sw.Steps) != 2 || sw.MaxRPSUnderSLO != 100 {
		t.Errorf("partial %v outcome %s steps %d max %v, want true interrupted 2 100", sw.Partial, sw.Outcome, len(sw.Steps), sw.MaxRPSUnderSLO)
	}
}

func TestRunStepperError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	s := StepperFunc(func(context.Context, float64) (Measurement, error) { return Measurement{}, boom })
	if _, err := Run(t.Context(), Config{Objective: objective(t, "p99<1s")}, s, nil, nil); !errors.Is(err, boom) {
		t.Errorf("err %v, want boom", err)
	}
	if _, err := Run(t.Context(), Config{}, s, nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("no SLO: err %v, want ErrConfig", err)
	}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	ok := func() *result.Load {
		return &result.Load{OfferedRPS: 100, AchievedRPS: 100, DurationS: 5, Requests: 500,
			LatencyMS: result.Summary{P99: 20}, Verdict: result.Verdict{Valid: true}}
	}
	for _, tc := range []struct {
		name    string
		slo     string
		cfg     Config
		mod     func(*result.Load)
		pass    bool
		reasons string
	}{
		{"passes", "p99<50ms", Config{}, func(*result.Load) {}, true, ""},
		{"slo fails", "p99<10ms", Config{}, func(*result.Load) {}, false, "SLO p99<10ms failed (actual 20 ms)"},
		{"achieved below 99%", "p99<50ms", Config{}, func(l *result.Load) { l.AchievedRPS = 98.9 }, false, "achieved 98.9 of 100.0"},
		{"achieved at 99%", "p99<50ms", Config{}, func(l *result.Load) { l.AchievedRPS = 99 }, true, ""},
		{"poisson noise allowed", "p99<50ms", Config{Poisson: true}, func(l *result.Load) { l.AchievedRPS = 95 }, true, ""},
		{"poisson still bounded", "p99<50ms", Config{Poisson: true}, func(l *result.Load) { l.AchievedRPS = 80 }, false, "achieved 80.0"},
		{"errors over default budget", "p99<50ms", Config{}, func(l *result.Load) { l.Errors = 1 }, false, "errors 0.2% over the 0.1% budget"},
		{"errors within own budget", "p99<50ms", Config{ErrorBudget: 1}, func(l *result.Load) { l.Errors = 1 }, true, ""},
		{"errors clause is the budget", "p99<50ms,errors<1%", Config{}, func(l *result.Load) { l.Errors = 1 }, true, ""},
		{"errors clause fails", "p99<50ms,errors<0.1%", Config{}, func(l *result.Load) { l.Errors = 5 }, false, "SLO errors<0.1% failed"},
		{"invalid generator", "p99<50ms", Config{}, func(l *result.Load) {
			l.Verdict = result.Verdict{Reasons: []string{"the generator used 95% of its 2 cores"}}
		}, false, "invalid: the generator used 95%"},
		{"nothing measured", "p99<50ms", Config{}, func(l *result.Load) { l.Requests, l.AchievedRPS = 0, 0 }, false, "no request was measured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			cfg.Objective = objective(t, tc.slo)
			cfg = mustConfig(t, cfg)
			l := ok()
			tc.mod(l)
			pass, reasons := Judge(l, cfg)
			if pass != tc.pass || !strings.Contains(strings.Join(reasons, "; "), tc.reasons) {
				t.Errorf("Judge = %v %q, want %v and %q", pass, reasons, tc.pass, tc.reasons)
			}
			if l.SLO == nil {
				t.Error("SLO outcome not recorded")
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	o := objective(t, "p99<50ms")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"defaults", Config{Objective: o}, ""},
		{"no slo", Config{}, "Objective empty: no SLO"},
		{"bad step", Config{Objective: o, Steps: []float64{100, -1}}, "Steps has rate -1"},
		{"bad start", Config{Objective: o, Start: -5}, "Start -5"},
		{"factor 1", Config{Objective: o, Factor: 1}, "Factor 1"},
		{"max below start", Config{Objective: o, Start: 100, MaxRate: 50}, "MaxRate 50"},
		{"headroom 100%", Config{Objective: o, Headroom: 1}, "Headroom 1"},
		{"precision", Config{Objective: o, Precision: 2}, "Precision 2"},
		{"current", Config{Objective: o, CurrentRPS: math.NaN()}, "CurrentRPS NaN"},
		{"min above start", Config{Objective: o, MinRate: 500}, "MinRate 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.cfg
			err := c.Validate()
			if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", tc.cfg) { // %v, not DeepEqual: NaN is a value here
				t.Errorf("Validate changed its Config: %+v, was %+v", c, tc.cfg)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				c = c.WithDefaults()
				if c.Start != 100 || c.Factor != 2 || c.Headroom != 0.3 || c.Precision != 0.05 || c.MinAchieved != 0.99 {
					t.Errorf("defaults not filled: %+v", c)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want ErrConfig naming %q", err, tc.want)
			}
		})
	}
}

// TestRunWithinBudget: with a time budget the sweep starts no step that would not fit (each step
// as long as the last), and a search cut short reports its maximum as a lower bound, saying why.
func TestRunWithinBudget(t *testing.T) {
	t.Parallel()
	q := &queueTarget{s: 0.010, c: 8} // capacity 800 req/s
	clock := time.Unix(0, 0)
	step := StepperFunc(func(ctx context.Context, rate float64) (Measurement, error) {
		clock = clock.Add(2 * time.Second)
		return q.Step(ctx, rate)
	})
	cfg := Config{Objective: objective(t, "p99<100ms"), Start: 10, Budget: 9 * time.Second}
	sw, err := Run(t.Context(), cfg, step, nil, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	if q.calls != 4 || sw.MaxRPSUnderSLO != 80 || !sw.MaxIsLowerBound || sw.DurationS > 9 {
		t.Errorf("%d steps in %v s, max %v lower bound %v: want 4 steps of 2 s in the 9 s, max ≥ 80", q.calls, sw.DurationS, sw.MaxRPSUnderSLO, sw.MaxIsLowerBound)
	}
	if !slices.ContainsFunc(sw.Notes, func(n string) bool { return strings.Contains(n, "time budget of 9s ran out before a rate failed") }) {
		t.Errorf("notes %q: want the budget named", sw.Notes)
	}
}

// TestRunConfirmFailures: a step that fails once on a stall (here the one at 1600 req/s, on a
// target of 8000) brackets the search far below the limit, unless failures are confirmed.
func TestRunConfirmFailures(t *testing.T) {
	t.Parallel()
	for _, confirm := range []bool{false, true} {
		q := &queueTarget{s: 0.001, c: 8} // capacity 8000 req/s
		stalled := false
		step := StepperFunc(func(ctx context.Context, rate float64) (Measurement, error) {
			m, err := q.Step(ctx, rate)
			if err == nil && rate == 1600 && !stalled {
				stalled = true
				m.Load.LatencyMS.P99 = 150 // a 150 ms stall of the shared machine
			}
			return m, err
		})
		sw, err := Run(t.Context(), Config{Objective: objective(t, "p99<100ms"), Start: 100, ConfirmFailures: confirm}, step, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := sw.MaxRPSUnderSLO >= 1600; got != confirm {
			t.Errorf("confirm %v: max %v req/s: want the stall at 1600 req/s to bound it only without confirmation", confirm, sw.MaxRPSUnderSLO)
		}
	}
}

// TestSentinelFlags: each answer that may be none (0) says so beside it, in both cases: a sweep
// past the queue's capacity finds its maximum, knee, saturation and peak; one whose every step
// is invalid finds none of them; a projection past the maximum has no P99.
func TestSentinelFlags(t *testing.T) {
	t.Parallel()
	q := &queueTarget{s: 0.010, c: 8} // capacity 800 req/s
	found, err := Run(t.Context(), Config{Objective: objective(t, "p99<100ms"), Steps: []float64{100, 200, 400, 600, 700, 900, 1200}, CurrentRPS: 200}, q, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !found.MaxFound || !found.KneeFound || !found.SaturationFound || !found.PeakAchievedKnown {
		t.Errorf("max %v (%v), knee %v (%v), saturation %v (%v), peak %v (%v): want each found",
			found.MaxRPSUnderSLO, found.MaxFound, found.KneeRPS, found.KneeFound, found.SaturationRPS, found.SaturationFound, found.PeakAchievedRPS, found.PeakAchievedKnown)
	}
	if f := found.Model.MMc; f == nil || !f.CapacityFound || f.CapacityRPS <= 0 {
		t.Errorf("M/M/c fit %+v: want a capacity found", f)
	}
	ps := found.WhatIf.Projections
	if first, last := ps[0], ps[len(ps)-1]; !first.P99Known || first.P99MS <= 0 || last.P99Known || !last.Breaks {
		t.Errorf("projections %+v: want the first known, the last (past the maximum) not", ps)
	}

	never := &queueTarget{s: 0.010, c: 8, invalid: func(float64) bool { return true }}
	none, err := Run(t.Context(), Config{Objective: objective(t, "p99<100ms"), Steps: []float64{100, 200, 400}}, never, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if none.MaxFound || none.KneeFound || none.SaturationFound || none.PeakAchievedKnown ||
		none.MaxRPSUnderSLO != 0 || none.KneeRPS != 0 || none.SaturationRPS != 0 || none.PeakAchievedRPS != 0 {
		t.Errorf("every step invalid: max %v (%v), knee %v (%v), saturation %v (%v), peak %v (%v): want 0 and not found",
			none.MaxRPSUnderSLO, none.MaxFound, none.KneeRPS, none.KneeFound, none.SaturationRPS, none.SaturationFound, none.PeakAchievedRPS, none.PeakAchievedKnown)
	}
}

// TestUSLCapacityFound: a USL fit with contention or coherency cost has a capacity; one of
// throughput growing linearly with concurrency has none, and says so.
func TestUSLCapacityFound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		x     func(n float64) float64
		found bool
	}{
		{"contended", USLFit{Lambda: 100, Sigma: 0.1, Kappa: 0.01}.X, true},
		{"linear", func(n float64) float64 { return 100 * n }, false},
	} {
		var usl []XY
		for n := 1.0; n <= 8; n++ {
			usl = append(usl, XY{n, tc.x(n)})
		}
		out := &result.Sweep{}
		fitModels(out, nil, usl, nil, 0, 0)
		f := out.Model.USL
		if f == nil || f.CapacityFound != tc.found || f.CapacityFound != (f.CapacityRPS > 0) {
			t.Errorf("%s: USL fit %+v, want capacity found %v", tc.name, f, tc.found)
		}
	}
}
