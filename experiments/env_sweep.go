package experiments

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/headroom/headroom/capacity"
	"github.com/headroom/headroom/cpusample"
	"github.com/headroom/headroom/internal/loadstep"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

// Sweep is a capacity sweep of one request on the lab, as `headroom sweep` runs it: steps of
// rising open-model load until the SLO fails, the maximum under it, and the recommended rate
// with the notes' headroom kept free.
type Sweep struct {
	// Name identifies the measurement; Setup says what it sweeps.
	Name, Setup string
	// Path is the request (GET), on the lab or a full URL.
	Path string
	// SLO every step must meet, e.g. "p99<50ms".
	SLO string
	// Start is the first step's rate; Step each step's length at most (a fast step takes
	// less); Budget bounds the sweep's wall time (a search stopped by it reports a lower bound).
	Start          float64
	Step, Budget   time.Duration
	MaxSteps       int
	Factor, Margin float64
}

// Sweep runs s and records it as a measurement: max_rps_under_slo, recommended_rps and
// headroom as values, invalid when the sweep found no rate under the SLO.
func (e *Env) Sweep(ctx context.Context, s Sweep) (*result.Sweep, error) {
	if e.url == "" {
		return nil, fmt.Errorf("sweep %s: no lab started", s.Name)
	}
	obj, err := slo.Parse(s.SLO)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", s.Name, err)
	}
	st := &loadstep.Stepper{Base: loadgen.Config{Targets: []loadgen.Target{{Method: http.MethodGet, URL: e.URL(s.Path)}},
		Model: loadgen.ModelOpen, Arrival: loadgen.Arrival{Kind: loadgen.ArrivalConstant}, Timeout: 10 * time.Second}, Cores: 1}
	if pid := e.LabPID(); pid != 0 {
		st.CPU = cpusample.Proc{PID: pid}
	}
	step := capacity.StepperFunc(func(ctx context.Context, rate float64) (capacity.Measurement, error) {
		st.Base.Duration = capacity.StepLength(rate, s.Step)
		st.Base.Warmup = st.Base.Duration / 3
		return st.Step(ctx, rate)
	})
	cfg := capacity.Config{Objective: obj, Start: s.Start, Factor: s.Factor, Precision: s.Margin, MaxSteps: s.MaxSteps,
		Budget: s.Budget, ErrorBudget: 1, ConfirmFailures: true}
	e.Progress("%s: sweep GET %s under %s from %.0f req/s (at most %v)", s.Name, s.Path, s.SLO, s.Start, s.Budget)
	sw, err := capacity.Run(ctx, cfg, step, func(p result.SweepStep) {
		e.Progress("%s: step %.0f req/s, p99 %.2f ms, pass %v", s.Name, p.OfferedRPS, p.LatencyMS.P99, p.Pass)
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", s.Name, err)
	}
	m := result.ExperimentMeasurement{Name: s.Name, Setup: s.Setup, Target: "GET " + s.Path,
		Values: map[string]float64{"max_rps_under_slo": sw.MaxRPSUnderSLO, "recommended_rps": sw.RecommendedRPS, "headroom": sw.Headroom}}
	if sw.MaxIsLowerBound {
		m.Values["max_is_lower_bound"] = 1
	}
	if !(sw.RecommendedRPS > 0) {
		m.InvalidReasons = []string{fmt.Sprintf("the sweep found no rate under %s (outcome %q)", s.SLO, sw.Outcome)}
	}
	if e.cfg.OutDir != "" {
		m.File = e.name + "." + fileSafe(s.Name) + ".sweep.json"
		if err := writeJSON(filepath.Join(e.cfg.OutDir, m.File), sw); err != nil {
			return nil, err
		}
	}
	e.Record(m)
	return sw, nil
}
