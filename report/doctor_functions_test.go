package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// functionsDoctor is a report whose steady run's traces carried the FaaS conventions: one
// function, a few cold invocations with their init phases, and a hostile name.
func functionsDoctor() *result.Doctor {
	return &result.Doctor{
		Schema: result.DoctorSchema, Target: "http://127.0.0.1:8080",
		Measurements: []result.Measurement{{Endpoint: "GET /fn/api/api/posts/1", Condition: result.ConditionAsIs, Requests: 600, AchievedRPS: 20,
			LatencyMS: result.Summary{Mean: 4, P50: 2.5, P99: 35, Max: 40}, Valid: true}},
		Functions: []result.FunctionBreakdown{{Function: hostile, Endpoint: "api", Trigger: "http", Invocations: 600,
			Cold: result.TierTime{Requests: 6, P50MS: 32, P99MS: 38}, Warm: result.TierTime{Requests: 594, P50MS: 2.4, P99MS: 3.7},
			ColdShare: 0.01, ColdStart: result.TierTime{Requests: 6, P50MS: 28, P99MS: 33}, ColdShareOfP99: 0.88,
			Init:     []result.InitPhase{{Phase: "faas.start", Time: result.TierTime{Requests: 6, P50MS: 12, P99MS: 16}}},
			MemoryMB: 128, RatePerSecond: 20, PeakConcurrency: 1, KeepWarmUSDPerMonth: 0.0018, ProvisionedUSDPerMonth: 1.23}},
	}
}

// TestWriteDoctorFunctions: the terminal report and the page both show each function's cold and
// warm invocations, init phases and remedies' prices, the function's name escaped on the page.
func TestWriteDoctorFunctions(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := report.WriteDoctor(&buf, functionsDoctor(), report.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"serverless functions", "1.0 % cold", "faas.start", "provisioned concurrency ~$1.23/month"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the terminal report lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	if err := report.WriteDoctorHTML(&buf, report.DoctorPage{Doctor: functionsDoctor()}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{`id="functions"`, "2.40 / 3.70", "32.00 / 38.00", "faas.start 12.00 / 16.00", "88 %", "$0.0018 / $1.23"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, hostile) {
		t.Error("the function's hostile name reached the page unescaped")
	}
}
