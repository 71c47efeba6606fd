package experiments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/headroom/headroom/result"
)

func run(ms ...result.ExperimentMeasurement) []result.ExperimentMeasurement { return ms }

// values is a recorded figure that is not a load run.
func values(name string, kv map[string]float64) result.ExperimentMeasurement {
	return result.ExperimentMeasurement{Name: name, Values: kv, Valid: true}
}

func loadM(name string, p50, p99, p999, mean float64) result.ExperimentMeasurement {
	return result.ExperimentMeasurement{Name: name, Requests: 1000, LatencyMS: &result.Summary{P50: p50, P99: p99, P999: p999, Mean: mean}, Valid: true}
}

// TestChecks judges recorded measurements: each experiment's check says held, did not hold, or
// inconclusive as its definition's thresholds say.
func TestChecks(t *testing.T) {
	t.Parallel()
	tail := func(slow float64) result.ExperimentMeasurement {
		return result.ExperimentMeasurement{Name: "tail", Values: map[string]float64{"slow_requests": slow, "slow_share": slow / 1000, "slow_users_per_1m_requests": slow * 1000}, Valid: true}
	}
	for _, c := range []struct {
		name string
		def  Definition
		ms   []result.ExperimentMeasurement
		want result.Outcome
	}{
		{"the notes' numbers", averagesMislead, run(loadM("checkout", 52, 120, 5050, 101), tail(10)), result.OutcomeHeld},
		{"no tail: the mean is the median", averagesMislead, run(loadM("checkout", 52, 60, 70, 53), tail(10)), result.OutcomeDidNotHold},
		{"a tail too thin to judge", averagesMislead, run(loadM("checkout", 52, 120, 5050, 101), tail(2)), result.OutcomeInconclusive},
		{"queued far faster", asyncInvite, run(loadM("sync", 305, 315, 320, 306), loadM("queued", 3.4, 21, 25, 4)), result.OutcomeHeld},
		{"queued but slow", asyncInvite, run(loadM("sync", 305, 315, 320, 306), loadM("queued", 150, 200, 210, 155)), result.OutcomeDidNotHold},
		{"no gain", asyncInvite, run(loadM("sync", 60, 80, 90, 62), loadM("queued", 30, 40, 45, 31)), result.OutcomeDidNotHold},
	} {
		checkOutcome(t, c.def, c.name, c.ms, c.want)
	}
}

// checkOutcome judges recorded measurements ms with def's check at its default parameters:
// the outcome must be want, with a reason.
func checkOutcome(t *testing.T, def Definition, name string, ms []result.ExperimentMeasurement, want result.Outcome) {
	t.Helper()
	params, err := def.params(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, why := def.Check(NewMeasured(ms, params)); got != want || why == "" {
		t.Errorf("%s / %s: %s (%s), want %s with a reason", def.Name, name, got, why, want)
	}
}

// TestRunOutcomes: an invalid measurement makes the experiment inconclusive before its check
// runs; ErrSkip skips it with the reason; a failed measure is an error; bad parameters are refused.
func TestRunOutcomes(t *testing.T) {
	t.Parallel()
	checked := false
	def := Definition{Name: "x", Params: []Param{{Name: "rate", Default: "10"}, {Name: "wait", Default: "1s"}},
		Check: func(Measured) (result.Outcome, string) { checked = true; return result.OutcomeHeld, "fine" }}
	measure := func(m result.ExperimentMeasurement, err error) func(context.Context, *Env) error {
		return func(_ context.Context, e *Env) error {
			if m.Name != "" {
				e.Record(m)
			}
			return err
		}
	}
	invalid := result.ExperimentMeasurement{Name: "load", LatencyMS: &result.Summary{P50: 1}, InvalidReasons: []string{"the generator sent late"}}
	def.Measure = measure(invalid, nil)
	x, err := Run(t.Context(), def, Config{}, nil)
	if err != nil || x.Outcome != result.OutcomeInconclusive || !strings.Contains(x.Why, "the generator sent late") || checked {
		t.Errorf("invalid: %v %+v, checked %v; want inconclusive without the check", err, x, checked)
	}
	def.Measure = measure(result.ExperimentMeasurement{}, fmt.Errorf("needs the edge tier: %w", ErrSkip))
	if x, err := Run(t.Context(), def, Config{}, nil); err != nil || x.Outcome != result.OutcomeSkipped || x.Why != "needs the edge tier" {
		t.Errorf("skip: %v %+v", err, x)
	}
	def.Measure = measure(result.ExperimentMeasurement{}, errors.New("the lab did not start"))
	if _, err := Run(t.Context(), def, Config{}, nil); err == nil {
		t.Error("a failed measure: no error")
	}
	def.Measure = measure(result.ExperimentMeasurement{Name: "figure", Values: map[string]float64{"n": 1}}, nil)
	if x, err := Run(t.Context(), def, Config{}, map[string]string{"rate": "20"}); err != nil || x.Outcome != result.OutcomeHeld || x.Setup.Params["rate"] != "20" || x.Setup.Params["wait"] != "1s" {
		t.Errorf("held: %v %+v", err, x)
	}
	for set, want := range map[string]string{"nope=1": "has no parameter", "rate=fast": "want a number", "wait=5": "want a duration"} {
		k, v, _ := strings.Cut(set, "=")
		if _, err := Run(t.Context(), def, Config{}, map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: %v, want %q", set, err, want)
		}
	}
}

// TestRegistry: names are unique and usable on the command line, every experiment says its
// claim, source and expectation, and every parameter's default passes its own check.
func TestRegistry(t *testing.T) {
	t.Run("parameters' own checks", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct{ name, param, value, want string }{
			{"edge-auth", "unauth", "1", "between 0 and 1"},
			{"async-invite", "rate", "0", "above 0"},
			{"n-plus-one", "ns", "10,500", `"500" in the list`},
			{"async-delete", "posts", "2.5", "whole number"},
			{"services-tracing", "slow", "users", "one of posts, payments, notifications"},
			{"misidentified-bottleneck", "cache", "memcached://x", "memory or redis://"},
			{"serverless-bill", "memory-mb", "64", "from 128 to 10240"},
		} {
			d, ok := All.Lookup(c.name)
			if !ok {
				t.Fatalf("no experiment %s", c.name)
			}
			if err := d.CheckParam(c.param, c.value); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s.%s=%s: %v, want an error saying %q", c.name, c.param, c.value, err, c.want)
			}
		}
	})

	t.Parallel()
	seen := map[string]bool{}
	for _, d := range All {
		if seen[d.Name] || d.Name == "" || strings.ToLower(d.Name) != d.Name || strings.ContainsAny(d.Name, " ._") {
			t.Errorf("name %q: want unique lower-case words joined by -", d.Name)
		}
		seen[d.Name] = true
		if d.Claim == "" || d.Source == "" || d.Expected == "" || d.Title == "" || d.Measure == nil || d.Check == nil {
			t.Errorf("%s: claim, source, expected, title, Measure and Check are required", d.Name)
		}
		for _, p := range d.Params {
			if err := d.CheckParam(p.Name, p.Default); err != nil {
				t.Errorf("%s: %v", d.Name, err)
			}
		}
	}
}
