package report_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

func sweepSample() *result.Sweep {
	util := func(v float64) *float64 { return &v }
	step := func(phase string, rate, achieved, p99 float64, pass bool, u *float64, reasons ...string) result.SweepStep {
		if reasons == nil {
			reasons = []string{}
		}
		return result.SweepStep{
			Phase: phase, OfferedRPS: rate, AchievedRPS: achieved, DurationS: 5, Requests: int64(5 * rate),
			LatencyMS: result.Summary{P50: p99 / 4, P90: p99 / 2, P99: p99, P999: p99 * 1.5},
			ServiceMS: result.Summary{Mean: 10}, Verdict: result.Verdict{Valid: true, Reasons: []string{}},
			SLO:  &result.SLO{Expr: "p99<50ms", Pass: p99 < 50, Checks: []result.Check{{Expr: "p99<50ms", Metric: "p99", Op: "<", Threshold: 50, Actual: p99, Unit: "ms", Pass: p99 < 50}}},
			Pass: pass, FailReasons: reasons, Utilization: u,
		}
	}
	curve := []result.Point{{X: 100, Y: 12}, {X: 200, Y: 13}, {X: 300, Y: 16}, {X: 350, Y: 22}, {X: 390, Y: 60}}
	return &result.Sweep{
		Schema: result.SweepSchema, Target: "http://127.0.0.1:8080/api/posts",
		StartedAt: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), DurationS: 42.5, SLO: "p99<50ms", Mode: "search",
		Outcome: "found", MaxRPSUnderSLO: 350, KneeRPS: 300, SaturationRPS: 400, PeakAchievedRPS: 396,
		RecommendedRPS: 245, Headroom: 0.3,
		Steps: []result.SweepStep{
			step("explore", 100, 100, 12, true, util(0.25)),
			step("explore", 200, 200, 13, true, util(0.5)),
			step("explore", 400, 396, 180, false, util(1), "SLO p99<50ms failed (actual 180 ms)", "achieved 396.0 of 400.0 req/s offered (99.0%, want ≥ 99.0%)"),
			step("bisect", 300, 300, 18, true, util(0.75)),
			step("bisect", 350, 350, 31, true, util(0.87)),
			step("verify", 350, 350, 33, true, util(0.88)),
		},
		Model: result.Models{
			Best:  "mmc",
			MM1:   &result.Fit{Formula: "M/M/1", Params: map[string]float64{"S": 0.0021}, CapacityRPS: 470, R2: 0.41, Points: 4, Curve: curve},
			MMc:   &result.Fit{Formula: "M/M/c", Params: map[string]float64{"S": 0.0102, "c": 4, "base": 0.011}, CapacityRPS: 392, R2: 0.93, Points: 4, Curve: curve},
			Notes: []string{"usl: too few points: 5 usable points, want at least 6 for the USL"},
		},
		WhatIf: &result.WhatIf{CurrentRPS: 100, Projections: []result.Projection{
			{Factor: 1, RPS: 100, P99MS: 12, Source: "measured"},
			{Factor: 2, RPS: 200, P99MS: 13, Source: "measured"},
			{Factor: 3, RPS: 300, P99MS: 18, Source: "measured"},
			{Factor: 4, RPS: 400, Breaks: true, Source: "none"},
		}},
		Notes: []string{},
	}
}

func TestWriteSweep(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := report.WriteSweep(&b, sweepSample(), report.Options{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "sweep.txt", b.Bytes())
}

func TestWriteSweepNoRate(t *testing.T) {
	t.Parallel()
	s := sweepSample()
	s.MaxRPSUnderSLO, s.RecommendedRPS, s.KneeRPS, s.Outcome, s.WhatIf = 0, 0, 0, "no_rate_meets_slo", nil
	for i := range s.Steps {
		s.Steps[i].Utilization = nil
	}
	var b bytes.Buffer
	if err := report.WriteSweep(&b, s, report.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"none: no rate tried meets the SLO", "utilization                   unknown", "knee (elbow of P99)           none found"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestWriteSweepHTML(t *testing.T) {
	t.Parallel()
	var a, b bytes.Buffer
	if err := report.WriteSweepHTML(&a, sweepSample()); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteSweepHTML(&b, sweepSample()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("HTML output is not deterministic")
	}
	html := a.String()
	for _, want := range []string{
		"<svg", "Latency percentiles over the offered rate", "P99 over the target&#39;s CPU utilization",
		"SLO p99&lt;50ms", "knee 300", "max 350", "recommended 245", "headroom 30%", "model mmc p99",
		"350 req/s", `class="fail"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), "http://127.0.0.1:8080", ""), banned) {
			t.Errorf("HTML contains %q: it must be self-contained and offline", banned)
		}
	}
	// Every SVG is well-formed XML.
	for rest := html; ; {
		i := strings.Index(rest, "<svg")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>")
		doc := rest[i : i+j+len("</svg>")]
		if err := xml.Unmarshal([]byte(doc), new(struct{})); err != nil {
			t.Errorf("SVG is not well-formed: %v", err)
		}
		rest = rest[i+j:]
	}
}
