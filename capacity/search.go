package capacity

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Phases of a search, as recorded in each step.
const (
	PhaseExplore = "explore"
	PhaseProbe   = "probe"
	PhaseBisect  = "bisect"
	PhaseVerify  = "verify"
	PhaseFixed   = "fixed"
)

// search decides the next rate to try from the outcomes so far. It is pure: Next proposes,
// Observe records, and nothing here measures. The search is Nighthawk's: grow the rate by Factor
// until a step fails, bisect between the highest passing and the lowest failing rate until they
// are within Precision, then run the rate found once more to verify it. A failed verification
// reopens the bisection below the rate once; a second one reports the next lower passing rate.
type search struct {
	cfg   Config
	phase string
	rate  float64 // the rate Next proposes
	steps int

	lo, hi float64 // highest passing rate, lowest failing rate (0: none yet)
	passed []float64

	done       bool
	found      float64 // the answer once done; 0 when no rate passed
	lowerBound bool    // the answer may be below the truth (stopped by MaxRate or MaxSteps)
	notes      []string
	fixedIdx   int
	// verifyFails counts failed verifications: the first reopens the bisection, the second ends it.
	verifyFails int
}

func newSearch(cfg Config) *search {
	s := &search{cfg: cfg, phase: PhaseExplore, rate: roundRate(cfg.Start)}
	if len(cfg.Steps) > 0 {
		s.cfg.Steps = slices.Sorted(slices.Values(cfg.Steps))
		s.phase, s.rate = PhaseFixed, s.cfg.Steps[0]
	}
	return s
}

// Next returns the next rate to run and its phase, or ok false when the search is over.
func (s *search) Next() (rate float64, phase string, ok bool) {
	if s.done {
		return 0, "", false
	}
	if s.steps >= s.cfg.MaxSteps {
		note := fmt.Sprintf("stopped after the limit of %d steps", s.cfg.MaxSteps)
		s.finish(s.lo)
		if s.phase == PhaseExplore && s.hi == 0 {
			s.lowerBound = true
			note += " before a rate failed: the maximum is a lower bound"
		}
		s.notes = append(s.notes, note)
		return 0, "", false
	}
	return s.rate, s.phase, true
}

// Observe records whether the step at the rate Next proposed passed.
func (s *search) Observe(pass bool) {
	r := s.rate
	s.steps++
	if pass {
		s.passed = append(s.passed, r)
	}
	switch s.phase {
	case PhaseFixed:
		s.fixedIdx++
		if pass && s.hi == 0 {
			s.lo = r // the highest rate below the first failure
		} else if !pass && s.hi == 0 {
			s.hi = r
		}
		if s.fixedIdx >= len(s.cfg.Steps) {
			if s.lo > 0 && s.hi == 0 {
				s.notes = append(s.notes, "every step passed: the maximum is at least the highest step")
				s.lowerBound = true
			}
			s.finish(s.lo)
			return
		}
		s.rate = s.cfg.Steps[s.fixedIdx]
	case PhaseExplore:
		if pass {
			s.lo = r
			if r >= s.cfg.MaxRate {
				s.notes = append(s.notes, fmt.Sprintf("every step up to the max rate %g req/s passed: the maximum is a lower bound", s.cfg.MaxRate))
				s.lowerBound = true
				s.finish(r)
				return
			}
			s.rate = roundRate(min(r*s.cfg.Factor, s.cfg.MaxRate))
			return
		}
		s.hi = r
		if s.lo == 0 {
			s.phase, s.rate = PhaseProbe, roundRate(s.cfg.MinRate)
			return
		}
		s.bisectOrVerify()
	case PhaseProbe:
		if !pass {
			s.notes = append(s.notes, fmt.Sprintf("even %g req/s fails the SLO: no rate tried meets it", r))
			s.finish(0)
			return
		}
		s.lo = r
		s.bisectOrVerify()
	case PhaseBisect:
		if pass {
			s.lo = r
		} else {
			s.hi = r
		}
		s.bisectOrVerify()
	case PhaseVerify:
		if pass {
			s.finish(r)
			return
		}
		// The rate found did not hold a second time: it is now the lowest failing rate. Bisect
		// once more between it and the next lower passing rate; after a second failed
		// verification, report that lower rate.
		var below float64
		for _, p := range s.passed {
			if p < r {
				below = max(below, p)
			}
		}
		s.verifyFails++
		if s.verifyFails >= 2 || below == 0 {
			s.notes = append(s.notes, fmt.Sprintf("verification at %g req/s failed: reporting the next lower passing rate %g req/s", r, below))
			s.finish(below)
			return
		}
		s.notes = append(s.notes, fmt.Sprintf("verification at %g req/s failed: bisecting again from %g req/s", r, below))
		s.lo, s.hi = below, r
		s.bisectOrVerify()
	}
}

// OutOfTime ends the search because the time budget cannot fit another step. The highest
// passing rate is the answer, and a lower bound: with no failing rate yet the maximum may be
// anywhere above it; mid-bisection it lies below the lowest failing rate. unconfirmed, when
// positive, is a rate whose step failed once and awaited its second run (Config.ConfirmFailures):
// the maximum is probably below it, which the note says without taking it as proven.
func (s *search) OutOfTime(budget time.Duration, unconfirmed float64) {
	if s.done {
		return
	}
	pending := ""
	if unconfirmed > 0 {
		pending = fmt.Sprintf(" (%g req/s failed once; no time was left to confirm it)", unconfirmed)
	}
	switch {
	case s.lo == 0:
		s.notes = append(s.notes, fmt.Sprintf("the time budget of %v ran out before a rate passed%s", budget, pending))
	case s.hi == 0 && unconfirmed > 0:
		s.notes = append(s.notes, fmt.Sprintf("the time budget of %v ran out before a failure was confirmed%s: the maximum is a lower bound", budget, pending))
		s.lowerBound = true
	case s.hi == 0:
		s.notes = append(s.notes, fmt.Sprintf("the time budget of %v ran out before a rate failed: the maximum is a lower bound", budget))
		s.lowerBound = true
	default:
		s.notes = append(s.notes, fmt.Sprintf("the time budget of %v ran out while bisecting, with the maximum below %g req/s%s: the maximum is a lower bound", budget, s.hi, pending))
		s.lowerBound = true
	}
	s.finish(s.lo)
}

// fits reports whether another step fits in budget: one as long as the last, after elapsed.
// A zero budget has room for every step, and the first step always runs.
func fits(budget, elapsed, last time.Duration) bool {
	return budget <= 0 || last <= 0 || elapsed+last <= budget
}

func (s *search) bisectOrVerify() {
	if s.hi-s.lo <= s.cfg.Precision*s.lo || roundRate((s.lo+s.hi)/2) >= s.hi || roundRate((s.lo+s.hi)/2) <= s.lo {
		if s.cfg.NoVerify {
			s.finish(s.lo)
			return
		}
		s.phase, s.rate = PhaseVerify, s.lo
		return
	}
	s.phase, s.rate = PhaseBisect, roundRate((s.lo+s.hi)/2)
}

func (s *search) finish(found float64) {
	s.done, s.found = true, found
}

// roundRate keeps rates readable: whole requests per second above 10, tenths below.
func roundRate(r float64) float64 {
	if r >= 10 {
		return math.Round(r)
	}
	return math.Round(r*10) / 10
}

// Short steps: a step at a high rate measures less than Config's step length, as long as its
// percentiles still rest on MinStepSamples requests.
const (
	// MinStepSamples is the least number of requests a shortened step measures.
	MinStepSamples = 1000
	// MinStep is the shortest step.
	MinStep = time.Second
)

// StepLength is how long a step at rate measures: step, shortened down to MinStep when the
// rate gives MinStepSamples requests sooner. It never lengthens step.
func StepLength(rate float64, step time.Duration) time.Duration {
	if step <= MinStep || !(rate > 0) {
		return step
	}
	need := time.Duration(MinStepSamples / rate * float64(time.Second))
	return min(step, max(MinStep, need.Round(100*time.Millisecond)))
}
