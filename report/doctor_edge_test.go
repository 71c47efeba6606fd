package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// edgeDoctor is a doctor --edge report: the steady condition through the edge and direct, the
// comparison through the edge, and the traces' edge breakdown.
func edgeDoctor() *result.Doctor {
	m := func(e string, c result.Condition, p result.Path, p50, p99 float64) result.Measurement {
		return result.Measurement{Endpoint: e, Condition: c, Path: p, Requests: 2000, AchievedRPS: 20,
			LatencyMS: result.Summary{Mean: p50 + 1, P50: p50, P99: p99, Max: p99 + 5}, Valid: true}
	}
	return &result.Doctor{
		Schema: result.DoctorSchema, Target: "http://127.0.0.1:8081",
		Lab: &result.DoctorLab{URL: "http://127.0.0.1:8080", DB: "sqlite /tmp/lab.db", Antipatterns: "n_plus_one", Users: 200, Posts: 1000,
			Edge: &result.DoctorEdge{URL: "http://127.0.0.1:8081", DirectURL: "http://127.0.0.1:8082", Geography: "user ↔ edge 2ms, edge ↔ origin 80ms"}},
		Measurements: []result.Measurement{
			m("GET /page/home", result.ConditionAntipatternsOn, result.PathEdge, 2.5, 90),
			m("GET /api/posts?limit=20", result.ConditionAntipatternsOn, result.PathEdge, 120, 180),
			m("GET /page/home", result.ConditionAntipatternsOn, result.PathDirect, 84, 88),
			m("GET /api/posts?limit=20", result.ConditionAntipatternsOn, result.PathDirect, 100, 150),
			m("GET /page/home", result.ConditionAntipatternsOff, result.PathEdge, 2.4, 89),
			m("GET /api/posts?limit=20", result.ConditionAntipatternsOff, result.PathEdge, 90, 100),
		},
		Edge: []result.EdgeBreakdown{{Endpoint: "edge GET /page/home", Requests: 200, AnsweredAtEdge: 0.98,
			Edge: result.TierTime{Requests: 200, P50MS: 0.3, P99MS: 1.2}, Link: result.TierTime{Requests: 4, P50MS: 80.5, P99MS: 83}, Origin: result.TierTime{Requests: 4, P50MS: 1.1, P99MS: 2}}},
	}
}

func TestWriteDoctorEdgeGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := report.WriteDoctor(&buf, edgeDoctor(), report.Options{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "doctor-edge.txt", buf.Bytes())
	out := buf.String()
	for _, want := range []string{
		"through its edge tier: users → http://127.0.0.1:8081, direct → http://127.0.0.1:8082",
		"→ through the edge P50 2.50 ms / P99 90.00 ms, direct P50 84.00 ms / P99 88.00 ms: the edge saves 81.50 ms at P50 but costs 2.00 ms at P99",
		"the edge costs 20.00 ms at P50 and 30.00 ms at P99",
		// The anti-patterns' cost compares the two edge runs, never the direct one.
		"the anti-patterns cost 1.8× at P99 (100.0 → 180.0 ms)",
		"edge GET /page/home", "98 %", "80.50 / 83.00",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal report lacks %q:\n%s", want, out)
		}
	}
}

// TestWriteDoctorEdgeInvalid: the paths' comparison says when it rests on an invalid measurement.
func TestWriteDoctorEdgeInvalid(t *testing.T) {
	t.Parallel()
	d := edgeDoctor()
	d.Measurements[2].Valid, d.Measurements[2].InvalidReasons = false, []string{"the generator sent late"}
	var buf bytes.Buffer
	if err := report.WriteDoctor(&buf, d, report.Options{}); err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(buf.String(), "\n") {
		if strings.Contains(l, "through the edge P50 2.50") && !strings.Contains(l, "from an INVALID measurement") {
			t.Errorf("the paths' comparison does not say it rests on an invalid measurement:\n%s", l)
		}
		if strings.Contains(l, "through the edge P50 120.0") && strings.Contains(l, "INVALID") {
			t.Errorf("a comparison of valid measurements is marked:\n%s", l)
		}
	}
	var page bytes.Buffer
	if err := report.WriteDoctorHTML(&page, report.DoctorPage{Doctor: d}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "direct P50 84.00 ms / P99 88.00 ms: the edge saves 81.50 ms at P50 but costs 2.00 ms at P99 — from an INVALID measurement") {
		t.Error("report.html's paths comparison does not say it rests on an invalid measurement")
	}
}

func TestWriteDoctorHTMLEdge(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := report.WriteDoctorHTML(&buf, report.DoctorPage{Doctor: edgeDoctor()}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		`<th scope="col">path</th>`, `<td>antipatterns on</td><td>direct</td>`, `<td>antipatterns off</td><td>edge</td>`,
		`colspan="9"`, "the edge saves 81.50 ms at P50 but costs 2.00 ms at P99",
		`<h2 id="edge">Through the edge (from traces)</h2>`, "<td>98 %</td><td>0.30 / 1.20</td><td>80.50 / 83.00</td><td>1.10 / 2.00</td>",
		"Through its edge tier: users → <code>http://127.0.0.1:8081</code>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// Without --edge, no path column.
	buf.Reset()
	if err := report.WriteDoctorHTML(&buf, report.DoctorFixture(t)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `<th scope="col">path</th>`) || strings.Contains(buf.String(), `id="edge"`) {
		t.Error("report.html without --edge shows a path column or an edge table")
	}
}
