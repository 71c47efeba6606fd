package capacity

import (
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/slo"
)

// Config says how to sweep. A zero field stands for its default (the …Default constants):
// WithDefaults applies them in one place, Validate checks without changing anything, and Run does both.
type Config struct {
	// Objective is the SLO every step must meet. Required: at least one clause.
	Objective slo.Objective `json:"-"`
	// SLO echoes Objective.Expr into the result; WithDefaults sets it.
	SLO string `json:"slo"`
	// Steps, when set, is a fixed list of rates (requests per second) run in increasing order
	// instead of the search.
	Steps []float64 `json:"steps,omitempty"`
	// Start is the first rate of the exponential search. Default StartDefault (100).
	Start float64 `json:"start"`
	// Factor multiplies the rate after each passing step of the exponential search. Default
	// FactorDefault (2).
	Factor float64 `json:"factor"`
	// MaxRate caps the search; reaching it while passing makes the maximum a lower bound.
	// Default MaxRateDefault (1000000).
	MaxRate float64 `json:"max_rate"`
	// MinRate is tried once when the first step fails, to tell "the SLO is out of reach at any
	// rate" from "Start was already too high". Default Start/10, at least 1.
	MinRate float64 `json:"min_rate"`
	// Precision ends the bisection when the gap between the highest passing and the lowest
	// failing rate is at most Precision × the passing rate. Default PrecisionDefault (0.05).
	Precision float64 `json:"precision"`
	// MaxSteps bounds the number of steps, verification included. Default MaxStepsDefault (30).
	MaxSteps int `json:"max_steps"`
	// NoVerify skips the verification run at the rate found.
	NoVerify bool `json:"no_verify,omitempty"`
	// ConfirmFailures runs a step that failed once more at the same rate before the failure
	// counts, as an invalid step always is: on a shared machine a short step can fail on a
	// stall of a few milliseconds, which would bracket the search far below the target's
	// limit. It costs a step per failure; short steps (doctor --quick) need it most.
	ConfirmFailures bool `json:"confirm_failures,omitempty"`
	// Budget, when positive, bounds the sweep's wall time: a step starts only when one as long
	// as the last still fits, and a search stopped so reports a lower bound. Default 0: MaxSteps
	// alone bounds the sweep.
	Budget time.Duration `json:"budget_ns,omitempty"`
	// Headroom is the share of the maximum to keep free: RecommendedRPS = (1 − Headroom) × max.
	// Default HeadroomDefault (0.3).
	Headroom float64 `json:"headroom"`
	// ErrorBudget is the largest error rate, in percent, a passing step may have when the SLO
	// has no errors clause (with one, the clause is the budget). Default ErrorBudgetDefault (0.1).
	ErrorBudget float64 `json:"error_budget_pct"`
	// MinAchieved is the least achieved/offered ratio of a passing step. Default
	// MinAchievedDefault (0.99).
	MinAchieved float64 `json:"min_achieved"`
	// Poisson says arrivals are random (Poisson spacing): the achieved/offered check then allows
	// for the count's statistical noise (3 standard deviations).
	Poisson bool `json:"poisson,omitempty"`
	// CurrentRPS is today's traffic; when set, the result projects P99 at multiples of it.
	CurrentRPS float64 `json:"current_rps,omitempty"`
}

// Defaults of Config, which zero fields stand for.
const (
	StartDefault       = 100.0
	FactorDefault      = 2.0
	MaxRateDefault     = 1e6
	PrecisionDefault   = 0.05
	MaxStepsDefault    = 30
	HeadroomDefault    = 0.3
	ErrorBudgetDefault = slo.ErrorBudgetDefault // the budget load gives an SLO without an errors clause
	MinAchievedDefault = 0.99
)

// ErrConfig is wrapped by every error of Validate; an error about one field is a
// *fielderr.Error naming it.
var ErrConfig = errors.New("bad sweep configuration")

func badRate(r float64) bool { return !(r > 0) || math.IsInf(r, 0) || r > 1e7 }

// WithDefaults returns c with the defaults of its zero fields applied and SLO set from
// Objective, as Run does; c itself is left as it is.
func (c Config) WithDefaults() Config {
	c.SLO = c.Objective.Expr
	c.Steps = slices.Clone(c.Steps)
	def := func(f *float64, d float64) {
		if *f == 0 {
			*f = d
		}
	}
	def(&c.Start, StartDefault)
	def(&c.Factor, FactorDefault)
	def(&c.MaxRate, MaxRateDefault)
	def(&c.MinRate, max(1, c.Start/10))
	def(&c.Precision, PrecisionDefault)
	def(&c.Headroom, HeadroomDefault)
	def(&c.ErrorBudget, ErrorBudgetDefault)
	def(&c.MinAchieved, MinAchievedDefault)
	if c.MaxSteps == 0 {
		c.MaxSteps = MaxStepsDefault
	}
	return c
}

// Validate reports whether Run would accept c: it checks c with its defaults applied, without
// changing c. It returns an error naming the bad field and value and what would be valid.
func (c Config) Validate() error {
	d := c.WithDefaults()
	return d.validate()
}

// validate checks a Config whose defaults are applied; it fills nothing in.
func (c *Config) validate() error {
	bad := func(field, format string, args ...any) error { return fielderr.New(ErrConfig, field, format, args...) }
	if len(c.Objective.Clauses) == 0 {
		return bad("Objective", "empty: no SLO: give one, such as p99<50ms,errors<0.1%%")
	}
	for _, r := range c.Steps {
		if badRate(r) {
			return bad("Steps", "has rate %v: want a rate above 0 and at most 10000000 requests per second", r)
		}
	}
	if badRate(c.Start) {
		return bad("Start", "%v: want a rate above 0 and at most 10000000 requests per second", c.Start)
	}
	if !(c.Factor > 1) || c.Factor > 100 {
		return bad("Factor", "%v: want more than 1 and at most 100", c.Factor)
	}
	if badRate(c.MaxRate) || c.MaxRate < c.Start {
		return bad("MaxRate", "%v: want at least the start rate %v and at most 10000000", c.MaxRate, c.Start)
	}
	if badRate(c.MinRate) || c.MinRate > c.Start {
		return bad("MinRate", "%v: want above 0 and at most the start rate %v", c.MinRate, c.Start)
	}
	if !(c.Precision > 0) || c.Precision >= 1 {
		return bad("Precision", "%v: want between 0 and 1, such as 0.05", c.Precision)
	}
	if c.MaxSteps < 1 || c.MaxSteps > 1000 {
		return bad("MaxSteps", "%d: want 1 to 1000", c.MaxSteps)
	}
	if !(c.Headroom > 0) || c.Headroom >= 1 {
		return bad("Headroom", "%v: want a share between 0 and 1, such as 0.3 (30%%)", c.Headroom)
	}
	if !(c.ErrorBudget >= 0) || c.ErrorBudget > 100 {
		return bad("ErrorBudget", "%v%%: want 0 to 100", c.ErrorBudget)
	}
	if !(c.MinAchieved > 0) || c.MinAchieved > 1 {
		return bad("MinAchieved", "%v: want above 0 and at most 1", c.MinAchieved)
	}
	if c.Budget < 0 {
		return bad("Budget", "%v: want a positive duration, or 0 for none", c.Budget)
	}
	if c.CurrentRPS < 0 || math.IsNaN(c.CurrentRPS) || math.IsInf(c.CurrentRPS, 0) {
		return bad("CurrentRPS", "%v: want a positive rate in requests per second", c.CurrentRPS)
	}
	return nil
}

// hasErrorsClause reports whether the objective bounds the error rate itself.
func hasErrorsClause(o slo.Objective) bool {
	for _, c := range o.Clauses {
		if strings.EqualFold(c.Metric, "errors") {
			return true
		}
	}
	return false
}
