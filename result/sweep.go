package result

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// SweepSchema identifies a sweep result.
const SweepSchema = "headroom.sweep/v1"

// Sweep is the result of a capacity sweep: load steps at several rates, the maximum throughput
// under the SLO, the knee, the recommended operating rate and the fitted models.
type Sweep struct {
	Schema    string    `json:"schema"`
	Target    string    `json:"target"`
	StartedAt time.Time `json:"started_at"`
	// DurationS is the wall time of the whole sweep, every step and warm-up included.
	DurationS float64 `json:"duration_s"`
	// Partial is true when the sweep was ended early (Ctrl-C, SIGTERM): the steps are those done.
	Partial bool `json:"partial"`
	// SLO is the objective every step was checked against.
	SLO string `json:"slo"`
	// Mode is "search" (exponential search, bisection, verification) or "steps" (a fixed list).
	Mode string `json:"mode"`
	// Outcome is "found" (a maximum under the SLO was found), "no_rate_meets_slo", or
	// "interrupted".
	Outcome string `json:"outcome"`

	// MaxRPSUnderSLO is the highest offered rate whose step passed (SLO held, achieved ≥ 99 % of
	// offered, errors within the budget); 0 when no rate passed.
	MaxRPSUnderSLO float64 `json:"max_rps_under_slo"`
	// MaxFound is true when a rate passed: MaxRPSUnderSLO and RecommendedRPS are measured, not
	// the 0 that stands for none. (Every "…_found" and "…_known" key is emitted, true or false.)
	MaxFound bool `json:"max_found"`
	// MaxIsLowerBound is true when the true maximum may be higher: a step above it was invalid (the
	// generator, not the target, was the limit) or the search stopped at its rate limit.
	MaxIsLowerBound bool `json:"max_is_lower_bound"`
	// KneeRPS is the elbow of P99 over the offered rate (Kneedle); 0 when the curve has none.
	KneeRPS float64 `json:"knee_rps"`
	// KneeFound is true when the curve has a knee: KneeRPS is then it.
	KneeFound bool `json:"knee_found"`
	// SaturationRPS is the lowest offered rate at which achieved stopped tracking offered
	// (achieved < 99 % of offered); 0 when it always kept up.
	SaturationRPS float64 `json:"saturation_rps"`
	// SaturationFound is true when achieved stopped tracking offered at a rate tried:
	// SaturationRPS is then that rate.
	SaturationFound bool `json:"saturation_found"`
	// PeakAchievedRPS is the highest achieved rate of any valid step; 0 when no step was valid.
	PeakAchievedRPS float64 `json:"peak_achieved_rps"`
	// PeakAchievedKnown is true when a valid, complete step measured PeakAchievedRPS.
	PeakAchievedKnown bool `json:"peak_achieved_known"`
	// RecommendedRPS is the operating rate that keeps the headroom: (1 − Headroom) × max; 0,
	// like the max, when MaxFound is false.
	RecommendedRPS float64 `json:"recommended_rps"`
	// Headroom is the share of the maximum kept free (0.3 by default).
	Headroom float64 `json:"headroom"`

	Steps  []SweepStep `json:"steps"`
	Model  Models      `json:"model"`
	WhatIf *WhatIf     `json:"what_if,omitempty"`
	// Notes explain the answers: lower bounds, failed verifications, why a knee is missing.
	Notes []string `json:"notes"`
	// Config echoes what ran: the sweep's configuration and the load step template.
	Config json.RawMessage `json:"config"`
}

// SweepStep is one load step of a sweep: a summary of its load result plus the sweep's verdict.
type SweepStep struct {
	// Phase is "explore", "bisect", "verify", "probe" (a lower rate tried after the first step
	// failed) or "fixed".
	Phase string `json:"phase"`
	// OfferedRPS is the rate the sweep asked for: the mean rate, for bursty arrivals.
	OfferedRPS  float64          `json:"offered_rps"`
	AchievedRPS float64          `json:"achieved_rps"`
	DurationS   float64          `json:"duration_s"`
	Requests    int64            `json:"requests"`
	Errors      int64            `json:"errors"`
	ErrorsPct   float64          `json:"errors_pct"`
	ErrorsBy    map[string]int64 `json:"errors_by_kind"`
	LatencyMS   Summary          `json:"latency_ms"`
	ServiceMS   Summary          `json:"service_ms"`
	// Histograms are the step's full distributions, so any percentile can be read later.
	Histograms Histograms `json:"histograms"`
	// Verdict is the load generator's self-check: invalid when it, not the target, was the limit.
	Verdict Verdict `json:"verdict"`
	SLO     *SLO    `json:"slo,omitempty"`
	// Pass is the sweep's judgement of the step; FailReasons say why it failed.
	Pass        bool     `json:"pass"`
	FailReasons []string `json:"fail_reasons"`
	// Utilization is the target's CPU busy share (0..1) over the step, when known; CPUCores is
	// the CPU seconds it used per second of wall time.
	Utilization *float64 `json:"utilization,omitempty"`
	CPUCores    *float64 `json:"cpu_cores,omitempty"`
	Partial     bool     `json:"partial,omitempty"`
}

// Models are the queueing and scalability models fitted to the measured points.
type Models struct {
	// Best names the fit with the lowest error on P99 ("mm1" or "mmc"); "" when none fitted.
	Best string `json:"best"`
	MM1  *Fit   `json:"mm1,omitempty"`
	MMc  *Fit   `json:"mmc,omitempty"`
	USL  *Fit   `json:"usl,omitempty"`
	// Notes say why a model was not fitted.
	Notes []string `json:"notes,omitempty"`
}

// Fit is one model fitted to the measured points.
type Fit struct {
	// Formula states the model, such as "p99 = ln(100)·S/(1−λS)".
	Formula string `json:"formula"`
	// Params are the fitted parameters, named as in the formula (S in seconds).
	Params map[string]float64 `json:"params"`
	// CapacityRPS is the throughput the model says the target saturates at; 0 when the model has
	// no such limit (a USL fit without coherency cost, κ = 0, grows without a peak).
	CapacityRPS float64 `json:"capacity_rps"`
	// CapacityFound is true when the model has a capacity: CapacityRPS is then it.
	CapacityFound bool `json:"capacity_found"`
	// R2 is the coefficient of determination of the fitted quantity (P99 for the queueing models,
	// throughput for USL); RMSE its root mean square error in that quantity's unit (ms, req/s).
	R2     float64 `json:"r2"`
	RMSE   float64 `json:"rmse"`
	Points int     `json:"points"`
	// Curve samples the model for drawing: P99 (ms) or throughput over the offered rate.
	Curve []Point `json:"curve"`
}

// Point is one point of a model curve.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// WhatIf projects the target's P99 at multiples of today's traffic.
type WhatIf struct {
	CurrentRPS  float64      `json:"current_rps"`
	Projections []Projection `json:"projections"`
}

// Projection is the expected P99 at Factor × the current rate.
type Projection struct {
	Factor float64 `json:"factor"`
	RPS    float64 `json:"rps"`
	// P99MS is the expected P99; 0 when the SLO breaks or the model cannot say.
	P99MS float64 `json:"p99_ms"`
	// P99Known is true when P99MS is an expectation (Source "measured" or "model").
	P99Known bool `json:"p99_known"`
	// Source is "measured" (interpolated between steps), "model" (the best fit) or "none".
	Source string `json:"source"`
	// Breaks is true when this rate exceeds the maximum under the SLO. When the maximum is a lower
	// bound, the first rate above it ends the projections with Breaks false and Source "none".
	Breaks bool `json:"breaks"`
}

// StepFromLoad summarizes a load result as a sweep step; the sweep's judgement is left empty.
func StepFromLoad(phase string, l *Load) SweepStep {
	s := SweepStep{
		Phase: phase, OfferedRPS: l.OfferedRPS, AchievedRPS: l.AchievedRPS, DurationS: l.DurationS,
		Requests: l.Requests, Errors: l.Errors, ErrorsBy: l.ErrorsByKind, LatencyMS: l.LatencyMS,
		ServiceMS: l.ServiceMS, Histograms: l.Histograms, Verdict: l.Verdict, SLO: l.SLO,
		FailReasons: []string{}, Partial: l.Partial,
	}
	if l.Requests > 0 {
		s.ErrorsPct = 100 * float64(l.Errors) / float64(l.Requests)
	}
	return s
}

// ReadSweep decodes a sweep result and checks its schema.
func ReadSweep(r io.Reader) (*Sweep, error) {
	var s Sweep
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("decode sweep result: %w", err)
	}
	if s.Schema != SweepSchema {
		return nil, fmt.Errorf("%w %q: want %q", ErrSchema, s.Schema, SweepSchema)
	}
	return &s, nil
}

// Write encodes s as indented JSON.
func (s *Sweep) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // keep SLOs such as p99<50ms readable
	return enc.Encode(s)
}
