package report

import (
	"io"
	"math"
	"testing"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/result"
)

// DoctorFixture is a doctor report with every part the page draws: a steady run per endpoint
// (timeline and histogram), a sweep with a model, the breakdown, an exemplar trace, a flame
// graph and findings. It is deterministic.
func DoctorFixture(t testing.TB) DoctorPage {
	t.Helper()
	const ep = "GET /api/posts?limit=20"
	h := hist.New()
	for i := range 5000 {
		// A lognormal-ish body with a heavy tail: most near 20 ms, a few up to 900 ms.
		v := 20 * math.Exp(math.Sin(float64(i)*0.37)*0.5)
		if i%500 == 0 {
			v = 300 + float64(i%7)*90
		}
		h.Record(time.Duration(v * float64(time.Millisecond)))
	}
	enc, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	l := &result.Load{Schema: result.LoadSchema, Target: "http://127.0.0.1:8080/api/posts?limit=20", Requests: h.Count(),
		LatencyMS: result.Summarize(h), Verdict: result.Verdict{Valid: true}, Histograms: result.Histograms{Latency: enc, Service: enc, SendLag: enc}}
	for s := range 3000 { // longer than the point budget: the chart must be downsampled
		l.Timeline = append(l.Timeline, result.Second{T: s, AchievedRPS: 50, Requests: 50,
			P50: 20 + float64(s%13), P99: 60 + float64(s%29)*3, Max: 120 + float64(s%31)*9})
	}
	sw := &result.Sweep{Schema: result.SweepSchema, Target: l.Target, SLO: "p99<100ms", MaxRPSUnderSLO: 200, KneeRPS: 160,
		RecommendedRPS: 140, Headroom: 0.3, Model: result.Models{Best: "mm1", MM1: &result.Fit{Curve: []result.Point{{X: 25, Y: 30}, {X: 150, Y: 45}, {X: 225, Y: 160}}}}}
	for i, r := range []float64{50, 100, 200, 400} {
		u := 0.2 * float64(i+1)
		sw.Steps = append(sw.Steps, result.SweepStep{Phase: "explore", OfferedRPS: r, AchievedRPS: r, Requests: int64(r * 3), Pass: r <= 200,
			Utilization: &u, LatencyMS: result.Summary{P50: 10 * float64(i+1), P90: 15 * float64(i+1), P99: 30 * float64(i+1) * float64(i+1), P999: 40 * float64(i+1) * float64(i+1)},
			SLO: &result.SLO{Expr: "p99<100ms", Checks: []result.Check{{Expr: "p99<100ms", Unit: "ms", Threshold: 100}}}})
	}
	d := &result.Doctor{
		Schema: result.DoctorSchema, Target: "http://127.0.0.1:8080", SLO: "p99<100ms", OTLP: "http://127.0.0.1:4318",
		Lab: &result.DoctorLab{URL: "http://127.0.0.1:8080", DB: "sqlite /tmp/lab.db", Antipatterns: "all", Users: 200, Posts: 1000},
		Measurements: []result.Measurement{
			{Endpoint: ep, Condition: "antipatterns on", Requests: 500, AchievedRPS: 50, LatencyMS: l.LatencyMS, File: "steady-1.json", Valid: true},
			{Endpoint: ep, Condition: "antipatterns off", Requests: 500, AchievedRPS: 50, LatencyMS: result.Summary{Mean: 0.8, P50: 0.7, P99: 1.5, Max: 2.9}, Valid: true},
		},
		Endpoints: []result.DoctorEndpoint{{Endpoint: ep, Sweep: sw, SteadyRPS: 140, SteadyFile: "steady-1.json"}},
		Findings: []result.Finding{{Kind: "n_plus_one_db", Endpoint: "GET /api/posts", Summary: "N+1 query — SELECT … WHERE post_id = ? runs 20× per request",
			Evidence:   result.Evidence{TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736"}, Count: 20, Statement: "SELECT * FROM comments WHERE post_id = ?", TotalMS: 41},
			ShareOfP99: 0.62, EstimatedSavingMS: 39, Remedy: "batch it (one IN query or a join)"},
			{Kind: "n_plus_one_db", Severity: result.SeverityLow, Endpoint: "GET /api/posts/{id}",
				Summary:    "N+1 query (low: 0.3 ms in all here, under the 50 ms floor) — … runs 20× per request under one parent: 20 queries per request; at 1 ms per round trip this is +20 ms",
				Evidence:   result.Evidence{TraceIDs: []string{"7ac1f00d5eed1e55cafe0000deadbeef"}, Count: 20, TotalMS: 0.3, WhatIfMS: 20, WhatIfRoundTripMS: 1},
				ShareOfP99: 0.1, EstimatedSavingMS: 0.28, Remedy: "batch it (one IN query or a join)"}},
		Breakdown: []result.EndpointBreakdown{{Endpoint: "GET /api/posts", Traces: 120, TotalMS: 48,
			Parts: []result.Part{{Name: "SELECT comments", SelfMS: 30}, {Name: "POST logsink", SelfMS: 12}, {Name: "GET /api/posts", SelfMS: 6}}}},
		Exemplar: &result.TraceView{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Endpoint: "GET /api/posts", DurationMS: 50, Spans: []result.SpanView{
			{SpanID: "a", Name: "GET /api/posts", DurMS: 50, Critical: true},
			{SpanID: "b", ParentID: "a", Name: "SELECT posts", Depth: 1, StartMS: 1, DurMS: 4, Critical: true},
			{SpanID: "c", ParentID: "a", Name: "SELECT comments", Depth: 1, StartMS: 5, DurMS: 2, Critical: true},
			{SpanID: "d", ParentID: "a", Name: "POST logsink", Depth: 1, StartMS: 8, DurMS: 40, Critical: true},
		}},
		Profiles: []result.Profile{{Kind: "cpu", File: "flame-cpu.svg", Seconds: 5}},
		Phases:   []result.Phase{{Name: "warm-up", DurationS: 1}, {Name: "sweep", DurationS: 12}, {Name: "steady", DurationS: 5}, {Name: "analysis", DurationS: 0.2}},
	}
	flame := `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="600" height="40"><script>alert(1)</script><rect width="600" height="18" fill="#e66"><title>main</title></rect><text y="13">main</text></svg>`
	return DoctorPage{Doctor: d, Steady: map[string]*result.Load{ep: l}, Flames: []Flame{{Title: "CPU", SVG: []byte(flame)}}}
}

// WriteDoctorHTMLWith renders with the given inline assets instead of the embedded ones.
func WriteDoctorHTMLWith(w io.Writer, p DoctorPage, uplot, css, script string) error {
	return writeDoctorHTML(w, p, pageAssets{UPlot: uplot, CSS: css, Script: script})
}

// NarrowLoad is a steady run whose latencies all lie between 2 and 3 ms, and few of them: a
// histogram axis without a decade mark and bars of a handful of requests.
func NarrowLoad(t testing.TB) *result.Load {
	t.Helper()
	h := hist.New()
	for i := range 40 {
		h.Record(time.Duration(2000+i*23) * time.Microsecond)
	}
	enc, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	l := &result.Load{Schema: result.LoadSchema, Target: "http://127.0.0.1:8080/narrow", Requests: h.Count(),
		LatencyMS: result.Summarize(h), Histograms: result.Histograms{Latency: enc, Service: enc, SendLag: enc}}
	for s := range 4 {
		l.Timeline = append(l.Timeline, result.Second{T: s, AchievedRPS: 10, Requests: 10, P50: 2.4, P99: 2.9, Max: 2.9})
	}
	return l
}
