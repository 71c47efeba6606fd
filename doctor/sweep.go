package doctor

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/headroom/headroom/capacity"
	"github.com/headroom/headroom/cpusample"
	"github.com/headroom/headroom/internal/loadstep"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// sweep finds each endpoint's capacity under the SLO, or takes the fixed rate.
func (r *run) sweep(ctx context.Context) error {
	start := time.Now()
	for i, e := range r.cfg.Endpoints {
		de := result.DoctorEndpoint{Endpoint: e, SteadyRPS: r.cfg.Rate}
		if r.cfg.Rate == 0 {
			sw, err := r.sweepOne(ctx, i, e, endpointBudget(r.cfg.SweepBudget, time.Since(start), len(r.cfg.Endpoints)-i))
			if err != nil {
				return err
			}
			de.Sweep = sw
			de.SteadyRPS = steadyRate(sw)
			switch {
			case sw.MaxRPSUnderSLO == 0:
				r.note(fmt.Sprintf("%s: no rate met the SLO %s; the steady run uses the lowest rate tried, %s req/s", report.EndpointLabel(e), r.cfg.objective.Expr, fmtRate(de.SteadyRPS)))
			case sw.MaxIsLowerBound:
				r.note(fmt.Sprintf("%s: %s", report.EndpointLabel(e), lowerBoundNote(sw)))
			}
			r.progress(fmt.Sprintf("sweep %-30s %s under %s, knee %s, recommended %s req/s", report.EndpointLabel(e),
				report.SweepMax(sw), r.cfg.objective.Expr, fmtRate(sw.KneeRPS), fmtRate(sw.RecommendedRPS)))
		}
		r.rep.Endpoints = append(r.rep.Endpoints, de)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if n := len(r.rep.Endpoints); r.cfg.Rate == 0 && n > 1 {
		// The steady run sends every endpoint at once. Each at its own recommended rate would
		// ask N times the headroom of a bottleneck they share (one CPU, one pool): each gets
		// its share instead, 1/N of its recommended rate, so that the mix keeps the headroom
		// even then.
		for i := range r.rep.Endpoints {
			de := &r.rep.Endpoints[i]
			de.SteadyRPS = math.Round(100*de.SteadyRPS/float64(n)) / 100
		}
		r.note(fmt.Sprintf("the steady run sends the %d endpoints at once, each at 1/%d of its recommended rate: the mix keeps the headroom even when they share one bottleneck", n, n))
	}
	return nil
}

// endpointBudget is one endpoint's share of the sweeps' budget: what remains of it, over the
// endpoints left to sweep, so that time an endpoint did not need goes to the next ones. 0: no
// budget.
func endpointBudget(total, spent time.Duration, left int) time.Duration {
	if total <= 0 || left <= 0 {
		return 0
	}
	// At least a moment: a zero budget would mean none, and a sweep always runs its first step.
	return max(time.Millisecond, ((total - spent) / time.Duration(left)).Round(100*time.Millisecond))
}

// lowerBoundNote says what a lower-bound maximum means for the user, and what to do about it.
func lowerBoundNote(sw *result.Sweep) string {
	s := report.SweepMax(sw)
	for _, st := range sw.Steps {
		if st.OfferedRPS > sw.MaxRPSUnderSLO && !st.Verdict.Valid {
			return s + "; on a busy machine, or with the lab in the generator's process, measure again on a quieter one"
		}
	}
	return s + "; for the whole curve, drop --quick or raise --max-steps"
}

// steadyRate is the recommended rate, or the lowest rate tried when none met the SLO.
func steadyRate(sw *result.Sweep) float64 {
	if sw.RecommendedRPS > 0 {
		return sw.RecommendedRPS
	}
	low := 0.0
	for _, st := range sw.Steps {
		if low == 0 || st.OfferedRPS < low {
			low = st.OfferedRPS
		}
	}
	return low
}

func (r *run) sweepOne(ctx context.Context, i int, e string, budget time.Duration) (*result.Sweep, error) {
	base, err := r.loadConfig(r.base, e, 1, r.cfg.Step, r.cfg.Step/3)
	if err != nil {
		return nil, err
	}
	st := &loadstep.Stepper{Base: base, Cores: r.cfg.Cores}
	// A step at a high rate needs less time for its percentiles to rest on enough requests.
	step := capacity.StepperFunc(func(ctx context.Context, rate float64) (capacity.Measurement, error) {
		st.Base.Duration = capacity.StepLength(rate, r.cfg.Step)
		st.Base.Warmup = st.Base.Duration / 3
		return st.Step(ctx, rate)
	})
	switch {
	case r.lab != nil:
		st.CPU = cpusample.Proc{PID: r.lab.PID()}
	case r.cfg.Metrics != "":
		st.CPU = cpusample.Metrics{URL: r.cfg.Metrics}
	}
	label := report.EndpointLabel(e)
	if r.cfg.Watch != nil || r.cfg.Observe != nil {
		steps := 0
		st.Watch = func(total time.Duration) (func(loadgen.Progress), func()) {
			steps++
			update, done := r.watch("sweep "+label, total)
			return r.observe(update, fmt.Sprintf("sweep step %d", steps), st.Base), done
		}
	}
	n := 0
	cc := capacity.Config{Objective: r.cfg.objective, Start: r.cfg.Start, MaxSteps: r.cfg.MaxSteps, ErrorBudget: 1, Budget: budget}
	if r.cfg.Quick {
		// Few steps: grow fast (10 to 40,960 req/s in 6 steps), stop bisecting at 10 %. Steps of
		// a second fail on a stall of a shared machine, and pass on a lucky second: a failure
		// counts once run twice, and the rate found is verified, as the full sweep's is, when
		// the budget leaves time for it.
		cc.Factor, cc.Precision, cc.ConfirmFailures = FactorQuick, PrecisionQuick, true
	}
	sw, err := capacity.Run(ctx, cc, step, func(s result.SweepStep) {
		n++
		verdict := "pass"
		if !s.Pass {
			verdict = "FAIL: " + strings.Join(s.FailReasons, "; ")
		}
		r.progress(fmt.Sprintf("sweep %-30s step %d %7.1f req/s  p99 %8.2f ms  %s", label, n, s.OfferedRPS, s.LatencyMS.P99, verdict))
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", e, err)
	}
	sw.Target = r.cfg.shownURL(base.Targets[0].URL)
	if ctx.Err() != nil {
		return sw, ctx.Err()
	}
	return sw, writeJSON(filepath.Join(r.cfg.OutDir, fmt.Sprintf("sweep-%d.json", i+1)), sw)
}

func fmtRate(v float64) string {
	if v == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}
