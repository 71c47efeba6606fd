package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/headroom/headroom/result"
)

// WriteDoctor prints what doctor measured: per endpoint, each condition's latency and rate and,
// on the lab, how much the anti-patterns cost.
func WriteDoctor(w io.Writer, d *result.Doctor, o Options) error {
	p := &printer{w: w}
	p.f("headroom doctor  %s\n", d.Target)
	if d.Lab != nil {
		cmp := "; compared with every anti-pattern on and off"
		if d.Lab.Antipatterns == "none" || d.Lab.Antipatterns == "" {
			cmp = "; every anti-pattern off"
		}
		p.f("  the lab in process: %s, %d users, %d posts%s\n", d.Lab.DB, d.Lab.Users, d.Lab.Posts, cmp)
	}
	p.f("\n  %-42s %-17s %9s %9s %9s %9s %10s %7s\n", "endpoint", "condition", "mean ms", "p50 ms", "p99 ms", "max ms", "req/s", "errors")
	byEndpoint := map[string][]result.Measurement{}
	var order []string
	for _, m := range d.Measurements {
		if _, seen := byEndpoint[m.Endpoint]; !seen {
			order = append(order, m.Endpoint)
		}
		byEndpoint[m.Endpoint] = append(byEndpoint[m.Endpoint], m)
	}
	for _, e := range order {
		ms := byEndpoint[e]
		for i, m := range ms {
			name := EndpointLabel(e)
			if i > 0 {
				name = ""
			}
			errs := fmt.Sprintf("%d", m.Errors)
			if m.Errors > 0 {
				errs = o.red(errs)
			}
			inv := InvalidNote(m)
			if inv != "" {
				inv = " " + o.red(inv)
			}
			p.f("  %-42s %-17s %9s %9s %9s %9s %10.1f %7s%s\n", name, m.Condition,
				num(m.LatencyMS.Mean), num(m.LatencyMS.P50), num(m.LatencyMS.P99), num(m.LatencyMS.Max), m.AchievedRPS, errs, inv)
		}
		if on, off, ok := onOff(ms); ok && off.LatencyMS.P99 > 0 {
			from := ""
			if !on.Valid || !off.Valid {
				from = " — from an INVALID measurement, not a fact about the target"
			}
			p.f("  %-42s %s\n", "", o.red(fmt.Sprintf("→ the anti-patterns cost %.1f× at P99 (%s → %s ms), %.1f× at P50%s",
				on.LatencyMS.P99/off.LatencyMS.P99, num(off.LatencyMS.P99), num(on.LatencyMS.P99), ratio(on.LatencyMS.P50, off.LatencyMS.P50), from)))
			if n := min(on.Requests, off.Requests); n < 1000 {
				p.f("  %-42s (each P99 rests on the slowest %d of %d requests: measure longer for a stable tail)\n", "", max(n/100, 1), n)
			}
		}
		for _, de := range d.Endpoints {
			if de.Endpoint == e && de.Sweep != nil {
				p.f("  %-42s capacity: %s under %s, recommended %s req/s\n", "", SweepMax(de.Sweep), de.Sweep.SLO, rate(de.Sweep.RecommendedRPS))
			}
		}
		for _, m := range ms {
			if m.Valid && m.LatencyMS.P99 > 5*m.LatencyMS.Mean && m.LatencyMS.P99-m.LatencyMS.Mean > 100 {
				p.f("  %-42s the mean (%s ms) hides a P99 of %s ms (%s): percentiles, not averages\n", "", num(m.LatencyMS.Mean), num(m.LatencyMS.P99), m.Condition)
				break
			}
		}
	}
	if d.NoTraces != "" {
		p.f("\n  %s\n", o.red("NO TRACES: "+d.NoTraces))
	}
	return p.err
}

// SweepMax states a sweep's maximum under its SLO as a line prints it: "max 200 req/s", or when
// it is only a lower bound "max ≥ 200 req/s (lower bound: why)", so that the number is never
// read without its caveat.
func SweepMax(s *result.Sweep) string {
	switch {
	case s.MaxRPSUnderSLO == 0:
		return "max — (no rate tried met the SLO)"
	case !s.MaxIsLowerBound:
		return "max " + rate(s.MaxRPSUnderSLO) + " req/s"
	}
	return fmt.Sprintf("max ≥ %s req/s (lower bound: %s)", rate(s.MaxRPSUnderSLO), LowerBoundWhy(s))
}

// LowerBoundWhy says why a sweep's maximum is a lower bound: the sweep's note that says so.
func LowerBoundWhy(s *result.Sweep) string {
	for _, n := range s.Notes {
		if strings.Contains(n, "lower bound") {
			return strings.Replace(n, ": the maximum is a lower bound", "", 1)
		}
	}
	return "the target may take more"
}

// InvalidNote marks a measurement whose verdict is invalid, with why; "" for a valid one.
func InvalidNote(m result.Measurement) string {
	if m.Valid {
		return ""
	}
	return "INVALID: " + m.Invalid()
}

func onOff(ms []result.Measurement) (on, off result.Measurement, ok bool) {
	var haveOn, haveOff bool
	for _, m := range ms {
		switch m.Condition {
		case result.ConditionAntipatternsOn:
			on, haveOn = m, true
		case result.ConditionAntipatternsOff:
			off, haveOff = m, true
		}
	}
	return on, off, haveOn && haveOff
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// EndpointLabel shortens a doctor endpoint, "METHOD PATH BODY", to "METHOD PATH" (at most 42
// characters) for tables and progress lines.
func EndpointLabel(e string) string {
	if i := strings.Index(e, " "); i >= 0 {
		if j := strings.Index(e[i+1:], " "); j >= 0 {
			e = e[:i+1+j]
		}
	}
	if len(e) > 42 {
		e = e[:41] + "…"
	}
	return e
}
