package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// TestWriteExperimentsHTML: the page lists every experiment with its outcome, quotes the claim
// escaped, draws a bar per load run, and marks an invalid run as such.
func TestWriteExperimentsHTML(t *testing.T) {
	t.Parallel()
	held := &result.Experiment{Schema: result.ExperimentSchema, Name: "async-invite", Title: "Async " + hostile, Claim: "Invite → ~400 ms " + hostile,
		Outcome: result.OutcomeHeld, Why: "P50 305 vs 3.4 ms",
		Measurements: []result.ExperimentMeasurement{
			{Name: "sync", Requests: 100, LatencyMS: &result.Summary{P50: 305, P99: 315, P999: 320, Mean: 306}, Valid: true},
			{Name: "queued", Requests: 100, LatencyMS: &result.Summary{P50: 3.4, P99: 21, P999: 25, Mean: 4}, Valid: false, InvalidReasons: []string{"the generator sent late"}},
			{Name: "tail", Values: map[string]float64{"slow_requests": 12, "per_1m": 10000, "share": 0.012345}, Valid: true},
		}}
	skipped := &result.Experiment{Schema: result.ExperimentSchema, Name: "edge-auth", Title: "Edge auth", Outcome: result.OutcomeSkipped, Why: "needs a lab started with --edge"}
	var buf bytes.Buffer
	if err := report.WriteExperimentsHTML(&buf, []*result.Experiment{held, skipped}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{`id="async-invite"`, `class="outcome held"`, `class="outcome skipped"`, "P50 305.0 · P99 315.0 ms", "— INVALID", "INVALID: the generator sent late", "slow_requests 12", "per_1m 10000", "share 0.01235", "needs a lab started with --edge"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, hostile) {
		t.Error("a hostile title or claim reached the page unescaped")
	}
	if strings.Contains(page, "<script") {
		t.Error("the page has a script: it must be static")
	}
}
