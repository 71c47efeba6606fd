package capacity

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/headroom/headroom/result"
)

// Stepper runs one load step at rate requests per second and returns what it measured. It is
// declared here, by its consumer; cmd/headroom implements it with the load engine. A Stepper
// returns an error only when it cannot run a step at all; a target's errors belong in the result.
// When ctx ends, it returns the partial measurement (Load.Partial) or ctx's error.
type Stepper interface {
	Step(ctx context.Context, rate float64) (Measurement, error)
}

// StepperFunc adapts a function to a Stepper.
type StepperFunc func(ctx context.Context, rate float64) (Measurement, error)

// Step calls f.
func (f StepperFunc) Step(ctx context.Context, rate float64) (Measurement, error) {
	return f(ctx, rate)
}

// Measurement is what one step measured.
type Measurement struct {
	// Load is the step's load result. Required.
	Load *result.Load
	// Utilization, when not nil, is the target's CPU over the step.
	Utilization *Utilization
}

// Utilization is the target's CPU use over a step.
type Utilization struct {
	// CPUCores is CPU seconds used per second of wall time.
	CPUCores float64
	// Share is CPUCores over the cores available to the target (0..1); 0 when unknown.
	Share float64
}

// Run sweeps the target through s as cfg says and returns the result. progress, when not nil, is
// called after each step. When ctx ends the result covers the steps done, with Partial set and
// outcome "interrupted", and the error is nil. Run returns an error for a bad cfg or when s fails.
// now may be nil (time.Now).
func Run(ctx context.Context, cfg Config, s Stepper, progress func(result.SweepStep), now func() time.Time) (*result.Sweep, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	start := now()
	out := &result.Sweep{
		Schema: result.SweepSchema, StartedAt: start.UTC(), SLO: cfg.SLO, Mode: "search",
		Headroom: cfg.Headroom, Steps: []result.SweepStep{}, Notes: []string{},
	}
	if len(cfg.Steps) > 0 {
		out.Mode = "steps"
	}
	srch := newSearch(cfg)
	retried := false
	var last time.Duration // the last step's wall time
	for {
		rate, phase, ok := srch.Next()
		if !ok {
			break
		}
		t0 := now()
		if !fits(cfg.Budget, t0.Sub(start), last) {
			unconfirmed := 0.0
			if retried && cfg.ConfirmFailures && !out.Steps[len(out.Steps)-1].Pass {
				unconfirmed = rate
			}
			srch.OutOfTime(cfg.Budget, unconfirmed)
			break
		}
		m, err := s.Step(ctx, rate)
		last = now().Sub(t0)
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				out.Partial = true
				break
			}
			return nil, fmt.Errorf("step at %g req/s: %w", rate, err)
		}
		if m.Load == nil {
			return nil, fmt.Errorf("step at %g req/s: no load result", rate)
		}
		if out.Target == "" {
			out.Target = m.Load.Target
		}
		st := result.StepFromLoad(phase, m.Load)
		// The rate the sweep asked for: with bursty arrivals the load's own offered rate is that
		// of its measured window, which need not hold a whole number of bursts.
		st.OfferedRPS = rate
		st.Pass, st.FailReasons = Judge(m.Load, cfg)
		st.SLO = m.Load.SLO
		if m.Utilization != nil {
			c := m.Utilization.CPUCores
			st.CPUCores = &c
			if m.Utilization.Share > 0 {
				u := m.Utilization.Share
				st.Utilization = &u
			}
		}
		if m.Load.Partial {
			// An interrupted step proves nothing: keep it, marked, but do not judge by it.
			st.Pass = false
			st.FailReasons = append(st.FailReasons, "interrupted")
			out.Steps = append(out.Steps, st)
			if progress != nil {
				progress(st)
			}
			out.Partial = true
			break
		}
		out.Steps = append(out.Steps, st)
		if progress != nil {
			progress(st)
		}
		if (!st.Verdict.Valid || (cfg.ConfirmFailures && !st.Pass)) && !retried {
			// The generator was the limit, or the step failed and failures are confirmed. That
			// may be a passing hiccup (a busy machine, a GC pause): run the same rate once more
			// before letting it bound the search.
			retried = true
			srch.steps++
			continue
		}
		retried = false
		srch.Observe(st.Pass)
		if ctx.Err() != nil {
			out.Partial = true
			break
		}
	}
	out.DurationS = now().Sub(start).Seconds()
	summarize(out, cfg, srch)
	var cj bytes.Buffer
	enc := json.NewEncoder(&cj)
	enc.SetEscapeHTML(false) // keep p99<50ms readable
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	out.Config = bytes.TrimSpace(cj.Bytes())
	return out, nil
}

// summarize derives the answers from the steps and the search's outcome.
func summarize(out *result.Sweep, cfg Config, srch *search) {
	out.Notes = append(out.Notes, srch.notes...)
	if out.Partial {
		out.Outcome = "interrupted"
		out.MaxRPSUnderSLO = srch.lo // the best known so far, unverified
		if srch.lo > 0 {
			out.Notes = append(out.Notes, "interrupted: the maximum is the highest rate that passed so far, unverified")
		}
	} else {
		out.MaxRPSUnderSLO = srch.found
		out.Outcome = "found"
		if srch.found == 0 {
			out.Outcome = "no_rate_meets_slo"
		}
	}
	out.MaxFound = out.MaxRPSUnderSLO > 0
	out.MaxIsLowerBound = srch.lowerBound
	last := map[float64]int{} // the final word at each rate
	for i, st := range out.Steps {
		last[st.OfferedRPS] = i
	}
	for i, st := range out.Steps {
		if i != last[st.OfferedRPS] {
			continue
		}
		if !st.Verdict.Valid && st.OfferedRPS > out.MaxRPSUnderSLO {
			if !out.MaxIsLowerBound {
				out.Notes = append(out.Notes, fmt.Sprintf("the step at %g req/s was invalid (the generator, not the target, was the limit): the maximum is a lower bound", st.OfferedRPS))
			}
			out.MaxIsLowerBound = true
		}
	}
	if out.MaxRPSUnderSLO > 0 {
		out.RecommendedRPS = roundRate((1 - cfg.Headroom) * out.MaxRPSUnderSLO)
	}

	// The curve: one point per rate (a verification replaces the earlier run at its rate), from
	// valid, complete steps.
	byRate := map[float64]result.SweepStep{}
	for _, st := range out.Steps {
		if st.Verdict.Valid && !st.Partial && st.Requests > 0 {
			byRate[st.OfferedRPS] = st
		}
	}
	rates := slices.Sorted(func(yield func(float64) bool) {
		for r := range byRate {
			if !yield(r) {
				return
			}
		}
	})
	var lat, ach, queue, usl []XY
	var base, service float64 // the lowest P99 and mean service time of a steady step
	for _, r := range rates {
		st := byRate[r]
		lat = append(lat, XY{r, st.LatencyMS.P99})
		need := achievedNeed(cfg, st.OfferedRPS, st.DurationS)
		// Scaled so that Saturation's test against MinAchieved is the test against need.
		ach = append(ach, XY{r, st.AchievedRPS * cfg.MinAchieved / need})
		out.PeakAchievedRPS = max(out.PeakAchievedRPS, st.AchievedRPS)
		out.PeakAchievedKnown = true
		if st.AchievedRPS >= need*st.OfferedRPS {
			// Steady state only: past saturation the queue grows with the step's length.
			queue = append(queue, XY{st.AchievedRPS, st.LatencyMS.P99 / 1000})
			if p := st.LatencyMS.P99 / 1000; p > 0 && (base == 0 || p < base) {
				base = p
			}
			if service == 0 {
				service = st.ServiceMS.Mean / 1000 // at the lowest rate: the least queueing
			}
		}
		usl = append(usl, XY{st.AchievedRPS * st.ServiceMS.Mean / 1000, st.AchievedRPS})
	}
	out.KneeRPS, out.KneeFound = Knee(lat)
	out.SaturationRPS, out.SaturationFound = Saturation(ach, cfg.MinAchieved)
	best := fitModels(out, queue, usl, rates, base, service)
	if cfg.CurrentRPS > 0 {
		out.WhatIf = whatIf(cfg.CurrentRPS, out.MaxRPSUnderSLO, out.MaxIsLowerBound, lat, best)
	}
}

// fitModels fills out.Model and returns the best queueing fit (nil when none fitted).
func fitModels(out *result.Sweep, queue, usl []XY, rates []float64, base, service float64) *QueueFit {
	m := &out.Model
	var hiRate float64
	for _, r := range rates {
		hiRate = max(hiRate, r)
	}
	curve := func(f QueueFit) []result.Point {
		pts := []result.Point{}
		end := min(f.Capacity()*0.995, max(hiRate, f.Capacity()*0.9))
		for i := 1; i <= 60; i++ {
			x := end * float64(i) / 60
			if y := f.P99(x); !math.IsInf(y, 0) {
				pts = append(pts, result.Point{X: x, Y: y * 1000})
			}
		}
		return pts
	}
	qfit := func(f QueueFit) *result.Fit {
		return &result.Fit{
			Formula: f.Formula(), Params: map[string]float64{"S": f.S, "c": float64(f.C), "base": f.Base},
			CapacityRPS: f.Capacity(), CapacityFound: true, R2: f.R2, RMSE: f.RMSE * 1000, Points: f.Points, Curve: curve(f),
		}
	}
	var best *QueueFit
	if f, err := FitMM1(queue); err == nil {
		m.MM1, m.Best, best = qfit(f), "mm1", &f
	} else {
		m.Notes = append(m.Notes, "mm1: "+err.Error())
	}
	if f, err := FitMMc(queue, base, service); err == nil {
		m.MMc = qfit(f)
		if best == nil || f.R2 > best.R2 {
			m.Best, best = "mmc", &f
		}
	} else {
		m.Notes = append(m.Notes, "mmc: "+err.Error())
	}
	if u, err := FitUSL(usl); err == nil {
		_, peak := u.Peak()
		f := &result.Fit{
			Formula: "USL: X(N) = λN/(1+σ(N−1)+κN(N−1)), N = X·R (Little's law)",
			Params:  map[string]float64{"lambda": u.Lambda, "sigma": u.Sigma, "kappa": u.Kappa},
			R2:      u.R2, RMSE: u.RMSE, Points: u.Points, Curve: []result.Point{},
		}
		if !math.IsInf(peak, 0) {
			f.CapacityRPS, f.CapacityFound = peak, true
		}
		var nMax float64
		for _, p := range usl {
			nMax = max(nMax, p.X)
		}
		for i := 1; i <= 60; i++ {
			n := nMax * 1.5 * float64(i) / 60
			f.Curve = append(f.Curve, result.Point{X: n, Y: u.X(n)})
		}
		m.USL = f
	} else {
		m.Notes = append(m.Notes, "usl: "+err.Error())
	}
	return best
}

// whatIfFactors are the multiples of today's traffic projected, up to the first that breaks.
var whatIfFactors = []float64{1, 1.5, 2, 3, 4, 5, 7, 10}

// whatIf projects P99 at multiples of current: interpolated between measured points where they
// cover the rate, else from the model; a rate above maxUnderSLO breaks the SLO, unless the maximum
// is only a lower bound: then the projection stops there, unknown.
func whatIf(current, maxUnderSLO float64, lowerBound bool, lat []XY, model *QueueFit) *result.WhatIf {
	w := &result.WhatIf{CurrentRPS: current, Projections: []result.Projection{}}
	for _, f := range whatIfFactors {
		p := result.Projection{Factor: f, RPS: roundRate(f * current), Source: "none"}
		if p.RPS > maxUnderSLO {
			p.Breaks = !lowerBound
			w.Projections = append(w.Projections, p)
			break
		}
		if y, ok := interpolate(lat, p.RPS); ok {
			p.P99MS, p.Source, p.P99Known = y, "measured", true
		} else if model != nil {
			if y := model.P99(p.RPS); !math.IsInf(y, 0) {
				p.P99MS, p.Source, p.P99Known = y*1000, "model", true
			}
		}
		w.Projections = append(w.Projections, p)
	}
	return w
}

// interpolate reads y at x off points sorted by X, linearly; ok is false outside their range.
func interpolate(points []XY, x float64) (float64, bool) {
	i, found := slices.BinarySearchFunc(points, x, func(p XY, x float64) int { return cmp.Compare(p.X, x) })
	if found {
		return points[i].Y, true
	}
	if i == 0 || i == len(points) {
		return 0, false
	}
	a, b := points[i-1], points[i]
	return a.Y + (b.Y-a.Y)*(x-a.X)/(b.X-a.X), true
}
