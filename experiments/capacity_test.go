package experiments

import (
	"testing"

	"github.com/headroom/headroom/result"
)

func stepM(name string, rate, p50, p99 float64) result.ExperimentMeasurement {
	m := loadM(name, p50, p99, p99, p50)
	m.OfferedRPS = rate
	return m
}

// TestCapacityChecks judges recorded measurements of the capacity experiments: held, did not
// hold, or inconclusive as each definition's thresholds say.
func TestCapacityChecks(t *testing.T) {
	t.Parallel()
	sweep := func(max, fail, knee float64) result.ExperimentMeasurement {
		return values("sweep", map[string]float64{"max_rps": max, "fail_rps": fail, "knee_rps": knee, "recommended_rps": 0.7 * max})
	}
	capac := func(c, offered float64) result.ExperimentMeasurement {
		return values("capacity", map[string]float64{"capacity_rps": c, "offered_rps": offered})
	}
	bandsM := func(p99s ...float64) []result.ExperimentMeasurement {
		ms := []result.ExperimentMeasurement{capac(200, 400)}
		for i, b := range bands {
			ms = append(ms, stepM(b.name, b.share*200, 4, p99s[i]))
		}
		return ms
	}
	shape := values("shape", map[string]float64{"mean_rps": 100, "burst_rps": 250, "capacity_rps": 200})
	for _, c := range []struct {
		name string
		def  Definition
		ms   []result.ExperimentMeasurement
		want result.Outcome
	}{
		{"P99 8× from half the maximum", latencyKnee, run(sweep(180, 200, 160), stepM("at-max", 180, 6, 80), stepM("at-half", 90, 4, 10)), result.OutcomeHeld},
		{"P99 2× only: linear", latencyKnee, run(sweep(180, 200, 160), stepM("at-max", 180, 6, 20), stepM("at-half", 90, 4, 10)), result.OutcomeDidNotHold},
		{"no knee found", latencyKnee, run(sweep(180, 200, 0), stepM("at-max", 180, 6, 80), stepM("at-half", 90, 4, 10)), result.OutcomeDidNotHold},
		{"no failing rate: the maximum unknown", latencyKnee, run(sweep(180, 0, 160), stepM("at-max", 180, 6, 80), stepM("at-half", 90, 4, 10)), result.OutcomeInconclusive},
		{"no step near half", latencyKnee, run(sweep(180, 200, 160), stepM("at-max", 180, 6, 80), stepM("at-half", 20, 4, 10)), result.OutcomeInconclusive},

		{"the highway", utilizationLatency, run(bandsM(10, 15, 40, 90, 800)...), result.OutcomeHeld},
		{"flat to 90 %", utilizationLatency, run(bandsM(10, 11, 12, 13, 800)...), result.OutcomeDidNotHold},
		{"queueing already at 50 %", utilizationLatency, run(bandsM(10, 40, 80, 160, 800)...), result.OutcomeDidNotHold},
		{"no jam at 100 %", utilizationLatency, run(bandsM(10, 15, 40, 90, 60)...), result.OutcomeDidNotHold},
		{"a band missing", utilizationLatency, run(bandsM(10, 15, 40, 90, 800)[:5]...), result.OutcomeInconclusive},
		{"the lab never saturated", utilizationLatency, append(bandsM(10, 15, 40, 90, 800)[1:], capac(390, 400)), result.OutcomeInconclusive},

		{"bursts queue", burstyTraffic, run(capac(200, 400), shape, stepM("smooth", 100, 4, 10), stepM("bursty", 100, 6, 270)), result.OutcomeHeld},
		{"bursts absorbed", burstyTraffic, run(capac(200, 400), shape, stepM("smooth", 100, 4, 10), stepM("bursty", 100, 4, 20)), result.OutcomeDidNotHold},
		{"the lab never saturated", burstyTraffic, run(capac(400, 400), shape, stepM("smooth", 100, 4, 10), stepM("bursty", 100, 6, 270)), result.OutcomeInconclusive},

		{"headroom absorbs the spike", headroomPays, run(sweep(180, 200, 160), stepM("spike-at-recommended", 126, 5, 30), stepM("spike-at-max", 180, 40, 600)), result.OutcomeHeld},
		{"the spike breaks the recommended rate too", headroomPays, run(sweep(180, 200, 160), stepM("spike-at-recommended", 126, 5, 150), stepM("spike-at-max", 180, 40, 600)), result.OutcomeDidNotHold},
		{"the maximum absorbs it too", headroomPays, run(sweep(180, 200, 160), stepM("spike-at-recommended", 126, 5, 30), stepM("spike-at-max", 180, 6, 60)), result.OutcomeDidNotHold},
		{"the maximum not bracketed", headroomPays, run(sweep(180, 0, 160), stepM("spike-at-recommended", 126, 5, 30), stepM("spike-at-max", 180, 40, 600)), result.OutcomeInconclusive},
	} {
		checkOutcome(t, c.def, c.name, c.ms, c.want)
	}
}

// TestFailRateAndStepNear: the sweep's figures the checks read come from the final word at
// each rate: a retried step replaces its first try, an invalid step neither passes nor fails.
func TestFailRateAndStepNear(t *testing.T) {
	t.Parallel()
	st := func(rate float64, pass, valid bool) result.SweepStep {
		return result.SweepStep{OfferedRPS: rate, Pass: pass, Verdict: result.Verdict{Valid: valid}}
	}
	sw := &result.Sweep{MaxRPSUnderSLO: 150, Steps: []result.SweepStep{
		st(50, true, true), st(100, false, false), st(100, true, true), st(200, false, true),
		st(175, false, false), st(175, false, false), st(150, true, true),
	}}
	if got := failRate(sw); got != 200 {
		t.Errorf("failRate %v, want 200: 175 was invalid twice, which proves no failure", got)
	}
	if got, ok := stepNear(sw, 80); !ok || got.OfferedRPS != 100 || !got.Pass {
		t.Errorf("stepNear 80: %+v %v, want the retried, passing step at 100", got, ok)
	}
	if _, ok := finalStep(sw, 60); ok {
		t.Error("finalStep at a rate not run: found one")
	}
}
