// Package experiments turns the course notes' claims into experiments run on the lab: each one
// starts the lab in the setup it needs (a child process, as doctor does), measures it with the
// toolkit's packages, and says whether the claim held here, by how much, and why.
//
// An experiment is data plus two small functions (Definition): the claim quoted from the notes
// with its source, the expected direction with its thresholds (stated before any run, never
// tuned after one), Measure, which starts labs and runs loads through an Env that records every
// measurement, and Check, a pure function of the recorded measurements, unit-tested on recorded
// results. The runner turns an invalid measurement (the load generator was the limit) into
// "inconclusive" before Check sees it, so no check reads a number the tool judged invalid.
//
// It is, with doctor, the other package that touches both halves: the lab runs as headroom-lab
// (internal/labproc), reached over the wire like any target.
package experiments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/result"
)

// Tier is a part of the lab an experiment needs beyond the monolith.
type Tier string

// The lab's tiers.
const (
	TierMonolith  Tier = ""
	TierEdge      Tier = "edge"
	TierServices  Tier = "services"
	TierFunctions Tier = "functions"
)

// Definition is one claim of the notes as an experiment.
type Definition struct {
	// Name identifies it on the command line: lower case words joined by '-'.
	Name  string
	Title string
	// Claim is the notes' sentence, quoted; Source the seed file and its line.
	Claim, Source string
	// Expected is the direction or range the claim predicts, with Check's thresholds.
	Expected string
	// Tier is what the lab needs beyond the monolith.
	Tier Tier
	// Params are the settings a user may change (`--set NAME.PARAM=VALUE`), with their defaults.
	Params []Param
	// Quick puts it in `--quick`'s subset, the one CI runs.
	Quick bool
	// Measure starts the labs and runs the loads the claim needs, recording each measurement
	// through e. It returns ErrSkip (wrapped, with the reason) when it cannot run here.
	Measure func(ctx context.Context, e *Env) error
	// Check judges the claim from the measurements alone: held or did not hold, with why; or
	// inconclusive when the figures cannot say (too few samples in the tail…).
	Check func(m Measured) (result.Outcome, string)
}

// Param is a setting of an experiment.
type Param struct {
	Name, Default, Help string
	// Valid, when set, narrows what the default's kind accepts (a range, a choice, a list), so a
	// value the experiment cannot use is refused before any lab starts: a usage error, not a
	// failed run.
	Valid func(value string) error
}

// between accepts a number from lo to hi, both included.
func between(lo, hi float64) func(string) error {
	return func(v string) error {
		if f, _ := strconv.ParseFloat(v, 64); f < lo || f > hi {
			return fmt.Errorf("want a number from %g to %g", lo, hi)
		}
		return nil
	}
}

// positive accepts a number above zero (a rate, a size).
func positive(v string) error {
	if f, _ := strconv.ParseFloat(v, 64); !(f > 0) {
		return errors.New("want a number above 0")
	}
	return nil
}

// share accepts a fraction strictly between 0 and 1.
func share(v string) error {
	if f, _ := strconv.ParseFloat(v, 64); !(f > 0 && f < 1) {
		return errors.New("want a share between 0 and 1, both excluded")
	}
	return nil
}

// whole accepts a whole number of at least lo.
func whole(lo int) func(string) error {
	return func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < lo {
			return fmt.Errorf("want a whole number of at least %d", lo)
		}
		return nil
	}
}

// oneOf accepts one of choices.
func oneOf(choices ...string) func(string) error {
	return func(v string) error {
		if !slices.Contains(choices, v) {
			return fmt.Errorf("want one of %s", strings.Join(choices, ", "))
		}
		return nil
	}
}

// ErrSkip is wrapped by Measure's error when the experiment cannot run here.
var ErrSkip = errors.New("skipped")

// Measured is what Check reads: the recorded measurements by name, and the parameters.
type Measured struct {
	ms     []result.ExperimentMeasurement
	params map[string]string
}

// NewMeasured is Measured over recorded measurements and parameters (for tests of a Check).
func NewMeasured(ms []result.ExperimentMeasurement, params map[string]string) Measured {
	return Measured{ms: ms, params: params}
}

// Get returns the measurement name; ok is false when there is none.
func (m Measured) Get(name string) (result.ExperimentMeasurement, bool) {
	i := slices.IndexFunc(m.ms, func(x result.ExperimentMeasurement) bool { return x.Name == name })
	if i < 0 {
		return result.ExperimentMeasurement{}, false
	}
	return m.ms[i], true
}

// Latency returns the latency summary of the load run name (zero when absent).
func (m Measured) Latency(name string) result.Summary {
	x, _ := m.Get(name)
	if x.LatencyMS == nil {
		return result.Summary{}
	}
	return *x.LatencyMS
}

// Value returns the figure key of measurement name (0 when absent).
func (m Measured) Value(name, key string) float64 {
	x, _ := m.Get(name)
	return x.Values[key]
}

// Param returns a parameter's value as run.
func (m Measured) Param(name string) string { return m.params[name] }

// Registry is the experiments, in the order the notes make their claims.
type Registry []Definition

// Lookup returns the experiment name.
func (r Registry) Lookup(name string) (Definition, bool) {
	i := slices.IndexFunc(r, func(d Definition) bool { return d.Name == name })
	if i < 0 {
		return Definition{}, false
	}
	return r[i], true
}

// Names lists the experiments' names, in order.
func (r Registry) Names() []string {
	out := make([]string, len(r))
	for i, d := range r {
		out[i] = d.Name
	}
	return out
}

// params returns d's parameters, defaults filled in, with set applied; an unknown parameter or a
// value its default's kind rejects is an error naming it.
func (d Definition) params(set map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(d.Params))
	for _, p := range d.Params {
		out[p.Name] = p.Default
	}
	for k, v := range set {
		if err := d.CheckParam(k, v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// CheckParam says whether value suits d's parameter name: it must exist, parse as its default
// does (a duration, a number, or text), and pass the parameter's own check.
func (d Definition) CheckParam(name, value string) error {
	i := slices.IndexFunc(d.Params, func(p Param) bool { return p.Name == name })
	if i < 0 {
		return fmt.Errorf("%s has no parameter %q: it has %s", d.Name, name, paramNames(d.Params))
	}
	p := d.Params[i]
	err := sameKind(p.Default, value)
	if err == nil && p.Valid != nil {
		err = p.Valid(value)
	}
	if err != nil {
		return fmt.Errorf("%s.%s=%q: %w", d.Name, name, value, err)
	}
	return nil
}

func paramNames(ps []Param) string {
	if len(ps) == 0 {
		return "none"
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// sameKind checks that v parses as the default does: a duration, a number, or free text.
func sameKind(def, v string) error {
	if _, err := time.ParseDuration(def); err == nil {
		if d, err := time.ParseDuration(v); err != nil || d < 0 {
			return fmt.Errorf("want a duration such as %s", def)
		}
		return nil
	}
	if _, err := strconv.ParseFloat(def, 64); err == nil {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 {
			return fmt.Errorf("want a number such as %s", def)
		}
		return nil
	}
	if v == "" {
		return errors.New("want a value")
	}
	return nil
}

// Run runs d with the parameters set, and returns its result; the error is for a run that could
// not be made at all (the lab did not start…), not for a claim that did not hold.
func Run(ctx context.Context, d Definition, cfg Config, set map[string]string) (*result.Experiment, error) {
	params, err := d.params(set)
	if err != nil {
		return nil, err
	}
	x := &result.Experiment{Schema: result.ExperimentSchema, Name: d.Name, Title: d.Title, Claim: d.Claim, Source: d.Source,
		Expected: d.Expected, Setup: result.ExperimentSetup{Lab: cfg.Lab, Params: params, Quick: cfg.Quick}, StartedAt: time.Now().UTC()}
	e := &Env{cfg: cfg, name: d.Name, params: params, x: x}
	defer e.stopTraces()
	defer e.stopLab()
	err = d.Measure(ctx, e)
	e.stopLab()
	x.DurationS = time.Since(x.StartedAt).Round(100 * time.Millisecond).Seconds()
	switch {
	case errors.Is(err, ErrSkip):
		x.Outcome, x.Why = result.OutcomeSkipped, strings.TrimSuffix(err.Error(), ": "+ErrSkip.Error())
		return x, nil
	case err != nil:
		return x, fmt.Errorf("%s: %w", d.Name, err)
	}
	for _, m := range x.Measurements {
		if !m.Valid {
			x.Outcome = result.OutcomeInconclusive
			x.Why = fmt.Sprintf("the measurement %q is invalid (%s): no verdict is drawn from it", m.Name,
				cmp.Or(strings.Join(m.InvalidReasons, "; "), "the load generator was the limit"))
			return x, nil
		}
	}
	x.Outcome, x.Why = d.Check(Measured{ms: x.Measurements, params: params})
	return x, nil
}
