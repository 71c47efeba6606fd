package experiments

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/headroom/headroom/capacity"
	"github.com/headroom/headroom/cpusample"
	"github.com/headroom/headroom/internal/loadstep"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

// Sweep is a capacity sweep of one request on the lab (`headroom sweep`'s, through the same
// capacity.Run and loadstep.Stepper).
type Sweep struct {
	// Name identifies the measurement for Check; Setup says what differs in it.
	Name, Setup string
	// Method (default GET), Path (on the lab's URL), Body and Header ("Name: value").
	Method, Path, Body string
	Header             []string
	// SLO is the objective every step must meet, such as "p99<100ms". Required.
	SLO string
	// Steps, when set, are the rates run, in increasing order; otherwise the search runs from
	// Start (default capacity.StartDefault) with Precision (default capacity.PrecisionDefault).
	Steps            []float64
	Start, Precision float64
	// Budget bounds the search's wall time (capacity.Config.Budget): an experiment must end in
	// its time bound. Default 0: MaxSteps alone bounds it.
	Budget time.Duration
	// Step is each step's measured length, after Warmup.
	Step, Warmup time.Duration
	// Poisson spaces arrivals at random (exponential gaps), as independent users do; default
	// constant spacing.
	Poisson bool
	// Cores the lab can use, to turn its CPU time into a share. Default the machine's.
	Cores float64
}

// Sweep runs s against the lab, with the lab's CPU sampled per step when this Env started it,
// and records it as a measurement: its figures as Values (max_rps, knee_rps, recommended_rps,
// fail_rps — the lowest rate above the maximum whose step failed, 0 when none did —,
// max_is_lower_bound (1 when the true maximum may be higher: the budget ran out while bisecting…),
// saturation_rps, peak_achieved_rps, and the M/M/c fit's mmc_capacity_rps and mmc_r2 when it
// fitted) and the sweep as a file like Load's. An interrupted sweep is an invalid measurement.
// The result is returned for the steps the experiment reads (RecordStep).
func (e *Env) Sweep(ctx context.Context, s Sweep) (*result.Sweep, error) {
	if e.url == "" {
		return nil, fmt.Errorf("sweep %s: no lab started", s.Name)
	}
	o, err := slo.Parse(s.SLO)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", s.Name, err)
	}
	t, err := e.target(s.Method, s.Path, s.Body, s.Header)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", s.Name, err)
	}
	arr := loadgen.Arrival{Kind: loadgen.ArrivalConstant}
	if s.Poisson {
		arr.Kind = loadgen.ArrivalPoisson
	}
	st := &loadstep.Stepper{Base: loadgen.Config{Targets: []loadgen.Target{t}, Model: loadgen.ModelOpen,
		Arrival: arr, Duration: s.Step, Warmup: s.Warmup, Timeout: 30 * time.Second},
		CPU: e.labCPU(), Cores: cmp.Or(s.Cores, float64(runtime.NumCPU()))}
	cfg := capacity.Config{Objective: o, Steps: s.Steps, Start: s.Start, Precision: s.Precision, Budget: s.Budget, Poisson: s.Poisson}
	e.Progress("%s: sweep of %s %s under %s", s.Name, t.Method, s.Path, s.SLO)
	sw, err := capacity.Run(ctx, cfg, st, func(x result.SweepStep) {
		verdict := "pass"
		if !x.Pass {
			verdict = "FAIL: " + strings.Join(x.FailReasons, "; ")
		}
		e.Progress("%s: step %.0f req/s: p99 %.1f ms, %s%s", s.Name, x.OfferedRPS, x.LatencyMS.P99, cpuText(x), verdict)
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", s.Name, err)
	}
	fail := failRate(sw)
	// Each rate that may be none (0) has its flag beside it, 1 when the rate is real.
	m := result.ExperimentMeasurement{Name: s.Name, Setup: s.Setup, Target: t.Method + " " + s.Path, Values: map[string]float64{
		"max_rps": sw.MaxRPSUnderSLO, "max_found": boolValue(sw.MaxFound), "max_is_lower_bound": boolValue(sw.MaxIsLowerBound), "knee_rps": sw.KneeRPS, "knee_found": boolValue(sw.KneeFound),
		"recommended_rps": sw.RecommendedRPS, "fail_rps": fail, "fail_found": boolValue(fail > 0),
		"saturation_rps": sw.SaturationRPS, "saturation_found": boolValue(sw.SaturationFound),
		"peak_achieved_rps": sw.PeakAchievedRPS, "peak_achieved_known": boolValue(sw.PeakAchievedKnown), "steps": float64(len(sw.Steps)),
	}}
	if f := sw.Model.MMc; f != nil {
		m.Values["mmc_capacity_rps"], m.Values["mmc_r2"] = f.CapacityRPS, f.R2
	}
	if sw.Partial {
		m.InvalidReasons = []string{"the sweep was interrupted"}
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

// labCPU is the started lab's CPU time, nil for a lab given by URL (it may be anywhere).
func (e *Env) labCPU() cpusample.Source {
	if e.LabPID() == 0 {
		return nil
	}
	return cpusample.Proc{PID: e.LabPID()}
}

func cpuText(x result.SweepStep) string {
	if x.Utilization == nil {
		return ""
	}
	return fmt.Sprintf("lab CPU %.0f %%, ", 100**x.Utilization)
}

// finalStep is the step that had the last word at rate (a retried step replaces the first try).
func finalStep(sw *result.Sweep, rate float64) (result.SweepStep, bool) {
	for j := len(sw.Steps) - 1; j >= 0; j-- {
		if sw.Steps[j].OfferedRPS == rate {
			return sw.Steps[j], true
		}
	}
	return result.SweepStep{}, false
}

// boolValue is a flag of Values: 1 for true, 0 for false.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// failRate is the lowest rate above the sweep's maximum whose final, valid step failed: where
// the maximum is known to end. 0 when no such step ran (the maximum may then be anywhere above).
func failRate(sw *result.Sweep) float64 {
	fail := 0.0
	for _, st := range sw.Steps {
		if st.OfferedRPS <= sw.MaxRPSUnderSLO || (fail > 0 && st.OfferedRPS >= fail) {
			continue
		}
		if last, _ := finalStep(sw, st.OfferedRPS); !last.Pass && last.Verdict.Valid {
			fail = st.OfferedRPS
		}
	}
	return fail
}

// RecordStep records one step of a sweep as a measurement, as a load run is (its latency, its
// validity), with the lab's CPU over it in Values (cpu_cores, cpu_share of the machine's cores)
// when sampled.
func (e *Env) RecordStep(name, setup string, st result.SweepStep) {
	lat := st.LatencyMS
	m := result.ExperimentMeasurement{Name: name, Setup: setup, OfferedRPS: st.OfferedRPS, AchievedRPS: st.AchievedRPS,
		Requests: st.Requests, Errors: st.Errors, LatencyMS: &lat, Valid: st.Verdict.Valid, InvalidReasons: st.Verdict.Reasons}
	if st.CPUCores != nil {
		m.Values = map[string]float64{"cpu_cores": *st.CPUCores}
		if st.Utilization != nil {
			m.Values["cpu_share"] = *st.Utilization
		}
	}
	e.Record(m)
}
