// Package loadstep runs a capacity sweep's steps with the load engine: it is the
// capacity.Stepper that `headroom sweep` and `headroom doctor` share. capacity declares the
// interface and never imports loadgen; this package joins the two.
package loadstep

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/headroom/headroom/capacity"
	"github.com/headroom/headroom/cpusample"
	"github.com/headroom/headroom/loadgen"
)

// Stepper runs open-model load steps. Base is the step template: every step changes only its
// rate (and its Poisson seed). With Base.Samples, every step writes its samples to that one
// stream, each marked with the fields StepField (the step's index among the steps run, from 0:
// its index in the sweep's steps) and RateField (the rate the sweep asked for). It is not safe
// for concurrent use: a sweep runs one step at a time.
type Stepper struct {
	Base loadgen.Config
	// CPU, when set, samples the target's CPU time around each step to report utilization;
	// Cores turns CPU seconds per second into a share (default 1).
	CPU   cpusample.Source
	Cores float64
	// Watch, when set, is called before each step with the step's total length (warm-up
	// included); it returns the step's loadgen progress callback and a func called after it.
	Watch func(total time.Duration) (update func(loadgen.Progress), done func())

	n int // steps run
}

var _ capacity.Stepper = (*Stepper)(nil)

// The loadgen.SamplesFields a Stepper adds to every sample: the step and the rate it was at.
const (
	StepField = "step"
	RateField = "offered_rps"
)

// BaseRate is the Arrival.Rate that makes a's mean rate mean: mean itself, except for bursts,
// whose Rate is the base between bursts of Factor × base for Length every Period. a's zero burst
// fields stand for loadgen's defaults.
func BaseRate(a loadgen.Arrival, mean float64) float64 {
	if a.Kind != loadgen.ArrivalBursts {
		return mean
	}
	f := cmp.Or(a.Factor, loadgen.BurstFactorDefault)
	length, period := cmp.Or(a.Length, loadgen.BurstLengthDefault), cmp.Or(a.Period, loadgen.PeriodDefault)
	return mean / (1 + (f-1)*length.Seconds()/period.Seconds())
}

// Step runs one open-model load step whose mean offered rate is rate.
func (s *Stepper) Step(ctx context.Context, rate float64) (capacity.Measurement, error) {
	cfg := s.Base
	cfg.Arrival.Rate = rate
	// A new Poisson schedule per step (still reproducible): a retried step must not repeat
	// the same unlucky draw.
	s.n++
	cfg.Arrival.Seed = s.Base.Arrival.Seed + uint64(s.n) - 1
	cfg.Arrival.Rate = BaseRate(cfg.Arrival, rate) // the sweep's rate is the mean
	if cfg.Samples != nil {
		cfg.SamplesFields = append(slices.Clip(cfg.SamplesFields), loadgen.SamplesField{Name: StepField, Value: float64(s.n - 1)}, loadgen.SamplesField{Name: RateField, Value: rate})
		cfg.SamplesContinue = cfg.SamplesContinue || s.n > 1
	}
	var c0 float64
	var t0 time.Time
	cpuOK := false
	if s.CPU != nil {
		if v, err := s.CPU.CPUSeconds(ctx); err == nil {
			c0, t0, cpuOK = v, time.Now(), true
		}
	}
	var update func(loadgen.Progress)
	if s.Watch != nil {
		var done func()
		update, done = s.Watch(cfg.Warmup + cfg.Duration)
		defer done()
	}
	l, err := loadgen.Run(ctx, cfg, update)
	if err != nil {
		return capacity.Measurement{}, err
	}
	m := capacity.Measurement{Load: l}
	if cpuOK {
		// Sampled around the whole step: the warm-up runs at the same rate.
		if v, err := s.CPU.CPUSeconds(ctx); err == nil {
			if wall := time.Since(t0).Seconds(); wall > 0 {
				cores := max(s.Cores, 0)
				if cores == 0 {
					cores = 1
				}
				used := (v - c0) / wall
				m.Utilization = &capacity.Utilization{CPUCores: used, Share: min(1, used/cores)}
			}
		}
	}
	return m, nil
}
