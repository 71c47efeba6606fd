package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

func TestWriteDoctorHTMLGolden(t *testing.T) {
	t.Parallel()
	var a, b bytes.Buffer
	for _, buf := range []*bytes.Buffer{&a, &b} {
		if err := report.WriteDoctorHTMLWith(buf, report.DoctorFixture(t), "/* uPlot */", "/* uPlot css */", "/* doctor.js */"); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two renderings of the same report differ")
	}
	golden(t, "doctor.html", a.Bytes())
}

func TestWriteDoctorHTMLSelfContained(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := report.WriteDoctorHTML(&buf, report.DoctorFixture(t)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script src", "<link", "@import", "alert(1)", "<?xml", "<pre>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q: it must be self-contained and run only its own code", bad)
		}
	}
	for _, want := range []string{"uPlot", "HEADROOM_DATA", "critical path", "n_plus_one_db", "<title>main</title>", "@media print",
		`<table class="measurements">`, `<td>antipatterns off</td>`, `<td>valid</td>`,
		`<span class="severity">low severity</span>`, "+20.00 ms at 1.00 ms per round trip"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Every series is within the point budget.
	if n := strings.Count(page, `"label":"p99"`); n == 0 {
		t.Error("no p99 series in the chart data")
	}
}

func TestWriteDoctorHTMLTraceLinks(t *testing.T) {
	t.Parallel()
	p := report.DoctorFixture(t)
	p.TraceURL = "http://localhost:16686/trace/{trace_id}"
	var buf bytes.Buffer
	if err := report.WriteDoctorHTMLWith(&buf, p, "", "", ""); err != nil {
		t.Fatal(err)
	}
	link := `<a href="http://localhost:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"><code>4bf92f3577b34da6a3ce929d0e0e4736</code></a>`
	// The fixture's finding and its waterfall both show the trace.
	if n := strings.Count(buf.String(), link); n != 2 {
		t.Errorf("%d links %s, want 2 (the finding's evidence and the waterfall)", n, link)
	}
}

// BenchmarkWriteDoctorHTML renders the fixture's report: a 3000-second timeline downsampled, a
// 5000-request histogram, a sweep and the inline assets.
func BenchmarkWriteDoctorHTML(b *testing.B) {
	p := report.DoctorFixture(b)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := report.WriteDoctorHTML(&buf, p); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

// TestWriteDoctorHTMLMarksInvalid: an invalid steady run is marked INVALID, with its reason, at
// the top of the page, in the measurements table and in the title of each of its charts.
func TestWriteDoctorHTMLMarksInvalid(t *testing.T) {
	t.Parallel()
	p := report.DoctorFixture(t)
	const why = "the generator sent late: dispatch lag p99 was 25.0 ms"
	m := &p.Doctor.Measurements[0]
	m.Valid, m.InvalidReasons = false, []string{why}
	p.Doctor.InvalidMeasurements = []result.InvalidMeasurement{{Endpoint: m.Endpoint, Condition: m.Condition, File: m.File, Reasons: m.InvalidReasons}}
	for _, l := range p.Steady {
		l.Verdict = result.Verdict{Reasons: []string{why}}
	}
	var buf bytes.Buffer
	if err := report.WriteDoctorHTMLWith(&buf, p, "", "", ""); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		"(antipatterns on, steady-1.json): INVALID: " + why, // the list at the top
		"— from an INVALID measurement",                     // the ratio computed from it
		`"title":"Latency over time (steady run, per second) — INVALID: ` + why,
		`"title":"Latency histogram (HDR, log-spaced bins) — INVALID: ` + why,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "INVALID: "+why); n != 5 {
		t.Errorf("INVALID with its reason %d times, want 5: the list, the table and the 3 steady charts", n)
	}
}
