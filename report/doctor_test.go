package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

func TestWriteDoctorGolden(t *testing.T) {
	t.Parallel()
	d := &result.Doctor{
		Schema: result.DoctorSchema, Target: "http://127.0.0.1:8080",
		Lab: &result.DoctorLab{URL: "http://127.0.0.1:8080", DB: "sqlite /tmp/lab.db", Antipatterns: "n_plus_one", Users: 200, Posts: 1000},
		Measurements: []result.Measurement{
			{Endpoint: "GET /api/posts?limit=20", Condition: "antipatterns on", Requests: 500, AchievedRPS: 50,
				LatencyMS: result.Summary{Mean: 502, P50: 502, P99: 504, Max: 505}, Valid: true},
			{Endpoint: "GET /api/posts?limit=20", Condition: "antipatterns off", Requests: 500, AchievedRPS: 50,
				LatencyMS: result.Summary{Mean: 0.8, P50: 0.7, P99: 1.5, Max: 2.9}, Valid: true},
			{Endpoint: `POST /api/checkout {"user_id":1}`, Condition: "antipatterns off", Requests: 5000, Errors: 2, AchievedRPS: 50,
				LatencyMS: result.Summary{Mean: 100, P50: 50, P99: 5000, Max: 5010}, Valid: true},
		},
	}
	var buf bytes.Buffer
	if err := report.WriteDoctor(&buf, d, report.Options{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "doctor.txt", buf.Bytes())
}

func TestEndpointLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/api/a":                      "/api/a",
		"GET /api/posts?limit=20":     "GET /api/posts?limit=20",
		`POST /api/checkout {"a": 1}`: "POST /api/checkout",
		"GET /" + string(bytes.Repeat([]byte("x"), 60)): "GET /" + string(bytes.Repeat([]byte("x"), 36)) + "…",
	} {
		if got := report.EndpointLabel(in); got != want {
			t.Errorf("EndpointLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWriteDoctorMarksInvalid: a measurement whose verdict is invalid is marked INVALID with its
// reason on its line, and a ratio computed from it says so.
func TestWriteDoctorMarksInvalid(t *testing.T) {
	t.Parallel()
	d := &result.Doctor{
		Schema: result.DoctorSchema, Target: "http://127.0.0.1:8080", Lab: &result.DoctorLab{Antipatterns: "all"},
		Measurements: []result.Measurement{
			{Endpoint: "GET /api/feed", Condition: "antipatterns on", Requests: 50, AchievedRPS: 5,
				LatencyMS: result.Summary{Mean: 502, P50: 502, P99: 504, Max: 505}, Valid: true},
			{Endpoint: "GET /api/feed", Condition: "antipatterns off", Requests: 50, AchievedRPS: 5,
				LatencyMS:      result.Summary{Mean: 0.8, P50: 0.7, P99: 1.5, Max: 2.9},
				InvalidReasons: []string{"the generator sent late: dispatch lag p99 was 25.0 ms"}},
		},
	}
	var buf bytes.Buffer
	if err := report.WriteDoctor(&buf, d, report.Options{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	var off, cost string
	for _, l := range lines {
		switch {
		case strings.Contains(l, "antipatterns off"):
			off = l
		case strings.Contains(l, "the anti-patterns cost"):
			cost = l
		}
	}
	if !strings.HasSuffix(off, "INVALID: the generator sent late: dispatch lag p99 was 25.0 ms") {
		t.Errorf("the invalid measurement's line is not marked:\n%s", off)
	}
	if !strings.Contains(cost, "from an INVALID measurement") {
		t.Errorf("the ratio does not say it rests on an invalid measurement:\n%s", cost)
	}
	if strings.Count(buf.String(), "INVALID") != 2 {
		t.Errorf("want INVALID on the invalid line and the ratio only:\n%s", buf.String())
	}
}

// TestWriteDoctorNoCostBelowOne: when the run without the anti-patterns has the slower P99 (a
// heavy-tailed dependency landed in it), the line says so instead of calling 0.1× a cost.
func TestWriteDoctorNoCostBelowOne(t *testing.T) {
	t.Parallel()
	d := &result.Doctor{Schema: result.DoctorSchema, Target: "lab", Measurements: []result.Measurement{
		{Endpoint: "POST /api/checkout", Condition: result.ConditionAntipatternsOn, Requests: 21, AchievedRPS: 7,
			LatencyMS: result.Summary{Mean: 554, P50: 554, P99: 556, Max: 556}, Valid: true},
		{Endpoint: "POST /api/checkout", Condition: result.ConditionAntipatternsOff, Requests: 21, AchievedRPS: 7,
			LatencyMS: result.Summary{Mean: 290, P50: 54, P99: 5014, Max: 5014}, Valid: true},
	}}
	var buf bytes.Buffer
	if err := report.WriteDoctor(&buf, d, report.Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "the anti-patterns cost") {
		t.Errorf("a P99 ratio below 1 is called a cost:\n%s", out)
	}
	if !strings.Contains(out, "at P99 the run with the anti-patterns off was the slower (5014 against 556.0 ms)") ||
		!strings.Contains(out, "they cost 10.3× at P50") {
		t.Errorf("want the slower off run said, and the P50 cost:\n%s", out)
	}
}
