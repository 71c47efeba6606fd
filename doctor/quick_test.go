package doctor_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/doctor"
	"github.com/headroom/headroom/internal/targettest"
)

// TestQuickFindsTheCapacity: --quick searches (grows the rate until a step fails, then bisects)
// within its time budget, rather than walking two fixed steps: on a target of 200 req/s it
// finds the capacity, where it used to answer "max 40" after steps at 20 and 40 req/s.
func TestQuickFindsTheCapacity(t *testing.T) {
	t.Parallel()
	srv := targettest.Workers(t, 2, 10*time.Millisecond) // 200 req/s
	start := time.Now()
	rep := runDoctor(t, doctor.Config{
		URL: srv.URL, Endpoints: []string{"/"}, Quick: true, OTLP: "off", NoProfiles: true, OutDir: t.TempDir(),
		SLO: "p99<100ms", Start: 20, Step: time.Second, SweepBudget: 12 * time.Second, Duration: time.Second, Warmup: 200 * time.Millisecond,
	}, func(string) {})
	took := time.Since(start)
	sw := rep.Endpoints[0].Sweep
	var steps []string
	var failed bool
	var highest float64
	for _, st := range sw.Steps {
		failed = failed || !st.Pass
		highest = max(highest, st.OfferedRPS)
		steps = append(steps, fmt.Sprintf("%g req/s p99 %.1f ms %v", st.OfferedRPS, st.LatencyMS.P99, st.FailReasons))
	}
	// It searched: past the capacity to a failing step. The maximum is the capacity's, or, where
	// a loaded machine made the generator the limit or ate the budget, a lower bound that says so.
	ok := failed && highest >= 200
	if sw.MaxIsLowerBound {
		ok = ok && sw.MaxRPSUnderSLO <= 200 && strings.Contains(strings.Join(sw.Notes, " "), "lower bound")
	} else {
		ok = ok && sw.MaxRPSUnderSLO >= 100 && sw.MaxRPSUnderSLO <= 200
	}
	if !ok {
		t.Errorf("max %v req/s (lower bound %v), %v: want a search past 200 req/s to a failing step, and a maximum of 100 to 200 req/s or a lower bound below it; steps:\n%s",
			sw.MaxRPSUnderSLO, sw.MaxIsLowerBound, sw.Notes, strings.Join(steps, "\n"))
	}
	// The budget holds, give or take the last step's tail and the steady run.
	if sw.DurationS > 12+2 || took > 25*time.Second {
		t.Errorf("the sweep took %.1f s, the run %v: want the 12 s budget kept", sw.DurationS, took)
	}
}

// TestQuickLowerBoundIsSaid: when the budget runs out before a rate fails, the maximum says it is
// a lower bound on its own line, in report.json and in report.html.
func TestQuickLowerBoundIsSaid(t *testing.T) {
	t.Parallel()
	srv := targettest.Workers(t, 2, 10*time.Millisecond)
	dir := t.TempDir()
	var lines []string
	rep := runDoctor(t, doctor.Config{
		URL: srv.URL, Endpoints: []string{"/"}, Quick: true, OTLP: "off", NoProfiles: true, OutDir: dir,
		SLO: "p99<100ms", Start: 10, Step: time.Second, SweepBudget: 2 * time.Second, Duration: time.Second, Warmup: 200 * time.Millisecond,
	}, func(s string) { lines = append(lines, s) })
	sw := rep.Endpoints[0].Sweep
	if st := sw.Steps[0]; !st.Verdict.Valid {
		t.Skipf("the machine is too busy for the generator at 10 req/s: %v", st.Verdict.Reasons)
	}
	if !sw.MaxIsLowerBound || sw.MaxRPSUnderSLO != 10 {
		t.Fatalf("max %v lower bound %v: want ≥ 10, a lower bound (notes %q)", sw.MaxRPSUnderSLO, sw.MaxIsLowerBound, sw.Notes)
	}
	out := strings.Join(lines, "\n")
	if !strings.Contains(out, "max ≥ 10 req/s (lower bound: the time budget of 2s ran out before a rate failed)") {
		t.Errorf("the sweep's line does not say its maximum is a lower bound:\n%s", out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "max ≥ 10 (lower bound)") || !strings.Contains(string(page), "capacity: max ≥ 10 req/s (lower bound:") {
		t.Error("report.html does not mark the maximum as a lower bound")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"max_is_lower_bound": true`) {
		t.Error("report.json lacks max_is_lower_bound: true")
	}
}
