package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/headroom/headroom/result"
)

// WriteSweep prints a sweep: one row per step, then the answers — the maximum throughput under
// the SLO, the knee, the recommended rate, the fitted models and the what-if projections.
func WriteSweep(w io.Writer, s *result.Sweep, o Options) error {
	p := &printer{w: w}
	p.f("headroom sweep  %s\n", s.Target)
	p.f("  SLO %s, %s: %d steps in %.1fs\n", s.SLO, s.Mode, len(s.Steps), s.DurationS)
	if s.Partial {
		p.f("  %s\n", o.red("PARTIAL: the sweep was ended early; the answers cover the steps done"))
	}
	p.f("\n  %4s  %-7s %9s %9s %9s %9s %9s %9s %8s %5s  %s\n",
		"step", "phase", "offered", "achieved", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors", "util", "result")
	known := false
	for i, st := range s.Steps {
		util := "    ?"
		if st.Utilization != nil {
			util, known = fmt.Sprintf("%4.0f%%", 100**st.Utilization), true
		} else if st.CPUCores != nil {
			util, known = fmt.Sprintf("%4.2fc", *st.CPUCores), true
		}
		verdict := o.green("pass")
		if !st.Pass {
			verdict = o.red("FAIL: " + strings.Join(st.FailReasons, "; "))
		}
		p.f("  %4d  %-7s %9.1f %9.1f %9s %9s %9s %9s %7.2f%% %5s  %s\n", i+1, st.Phase, st.OfferedRPS, st.AchievedRPS,
			num(st.LatencyMS.P50), num(st.LatencyMS.P90), num(st.LatencyMS.P99), num(st.LatencyMS.P999), st.ErrorsPct, util, verdict)
	}
	p.f("\n")
	if s.MaxRPSUnderSLO > 0 {
		bound := ""
		if s.MaxIsLowerBound {
			bound = "  (a lower bound: the target may take more)"
		}
		p.f("  max throughput under the SLO  %s req/s%s\n", rate(s.MaxRPSUnderSLO), bound)
		p.f("  recommended operating rate    %s req/s (%.0f%% headroom)\n", rate(s.RecommendedRPS), 100*s.Headroom)
	} else {
		p.f("  max throughput under the SLO  %s\n", o.red("none: no rate tried meets the SLO"))
	}
	if s.KneeRPS > 0 {
		p.f("  knee (elbow of P99)           %s req/s\n", rate(s.KneeRPS))
	} else {
		p.f("  knee (elbow of P99)           none found in the rates tried\n")
	}
	if s.SaturationRPS > 0 {
		p.f("  achieved stops tracking       at %s req/s offered (peak achieved %s req/s)\n", rate(s.SaturationRPS), rate(s.PeakAchievedRPS))
	} else {
		p.f("  achieved stops tracking       never in the rates tried (peak achieved %s req/s)\n", rate(s.PeakAchievedRPS))
	}
	if !known {
		p.f("  utilization                   unknown (give --pid or --metrics)\n")
	}
	writeModels(p, s.Model)
	if wi := s.WhatIf; wi != nil {
		var parts []string
		for _, pr := range wi.Projections {
			switch {
			case pr.Breaks:
				parts = append(parts, fmt.Sprintf("at %g× (%s/s) the SLO breaks", pr.Factor, rate(pr.RPS)))
			case pr.Source == "none":
				parts = append(parts, fmt.Sprintf("at %g× (%s/s) unknown: beyond the rates measured", pr.Factor, rate(pr.RPS)))
			default:
				parts = append(parts, fmt.Sprintf("at %g× (%s/s) P99 ≈ %s ms (%s)", pr.Factor, rate(pr.RPS), num(pr.P99MS), pr.Source))
			}
		}
		p.f("\n  what if (today %s req/s): %s\n", rate(wi.CurrentRPS), strings.Join(parts, ", "))
	}
	for _, n := range s.Notes {
		p.f("  note: %s\n", n)
	}
	return p.err
}

func writeModels(p *printer, m result.Models) {
	line := func(name string, f *result.Fit, params string) {
		if f == nil {
			return
		}
		best := ""
		if m.Best == name {
			best = "  (best)"
		}
		capacity := "unbounded in the range"
		if f.CapacityRPS > 0 {
			capacity = rate(f.CapacityRPS) + " req/s"
		}
		poor := ""
		if f.R2 < 0.5 {
			poor = "  (poor fit: do not trust its capacity)"
		}
		p.f("  model %-5s %-26s capacity %s, R² %.3f over %d points%s%s\n", name, params, capacity, f.R2, f.Points, best, poor)
	}
	if f := m.MM1; f != nil {
		line("mm1", f, fmt.Sprintf("S %s ms", num(1000*f.Params["S"])))
	}
	if f := m.MMc; f != nil {
		line("mmc", f, fmt.Sprintf("S %s ms, c %.0f", num(1000*f.Params["S"]), f.Params["c"]))
	}
	if f := m.USL; f != nil {
		line("usl", f, fmt.Sprintf("σ %.3g, κ %.3g", f.Params["sigma"], f.Params["kappa"]))
	}
	for _, n := range m.Notes {
		p.f("  model: %s\n", n)
	}
}

// rate formats requests per second: whole numbers from 10 up.
func rate(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}
