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
	for _, g := range groupMeasurements(d) {
		e, ms := g.Endpoint, g.Rows
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
		for _, n := range g.Notes {
			text := n.Text
			if n.Alert {
				text = o.red(text)
			}
			p.f("  %-42s %s\n", "", text)
		}
	}
	if d.NoTraces != "" {
		p.f("\n  %s\n", o.red("NO TRACES: "+d.NoTraces))
	}
	return p.err
}

// measureGroup is one endpoint's measurements, in the order doctor took them, with its notes.
type measureGroup struct {
	Endpoint string
	Rows     []result.Measurement
	Notes    []note
}

// groupMeasurements groups d's measurements by endpoint, in the order of their first measurement.
func groupMeasurements(d *result.Doctor) []measureGroup {
	ms := d.Measurements
	var out []measureGroup
	at := map[string]int{}
	for _, m := range ms {
		i, seen := at[m.Endpoint]
		if !seen {
			i = len(out)
			at[m.Endpoint] = i
			out = append(out, measureGroup{Endpoint: m.Endpoint})
		}
		out[i].Rows = append(out[i].Rows, m)
	}
	for i := range out {
		out[i].Notes = endpointNotes(out[i].Rows)
		for _, de := range d.Endpoints {
			if de.Endpoint == out[i].Endpoint && de.Sweep != nil {
				out[i].Notes = append(out[i].Notes, note{Text: fmt.Sprintf("capacity: %s under %s, recommended %s req/s",
					SweepMax(de.Sweep), de.Sweep.SLO, rate(de.Sweep.RecommendedRPS))})
			}
		}
	}
	return out
}

// note is a line said about one endpoint's measurements; alert marks what they cost.
type note struct {
	Text  string
	Alert bool
}

// endpointNotes are the lines under an endpoint's measurements: what the anti-patterns cost, how
// many requests that tail rests on, and a mean that hides the tail.
func endpointNotes(ms []result.Measurement) []note {
	var out []note
	if on, off, ok := onOff(ms); ok && off.LatencyMS.P99 > 0 {
		from := ""
		if !on.Valid || !off.Valid {
			from = " — from an INVALID measurement, not a fact about the target"
		}
		if on.LatencyMS.P99 >= off.LatencyMS.P99 {
			out = append(out, note{fmt.Sprintf("→ the anti-patterns cost %.1f× at P99 (%s → %s ms), %.1f× at P50%s",
				on.LatencyMS.P99/off.LatencyMS.P99, num(off.LatencyMS.P99), num(on.LatencyMS.P99), ratio(on.LatencyMS.P50, off.LatencyMS.P50), from), true})
		} else {
			// A ratio below 1 is no "cost": the run without them met a slower tail (a heavy-tailed
			// dependency), which says more about how few requests the P99 rests on.
			out = append(out, note{fmt.Sprintf("→ at P99 the run with the anti-patterns off was the slower (%s against %s ms): its tail is not theirs; they cost %.1f× at P50%s",
				num(off.LatencyMS.P99), num(on.LatencyMS.P99), ratio(on.LatencyMS.P50, off.LatencyMS.P50), from), true})
		}
		if n := min(on.Requests, off.Requests); n < 1000 {
			out = append(out, note{fmt.Sprintf("(each P99 rests on the slowest %d of %d requests: measure longer for a stable tail)", max(n/100, 1), n), false})
		}
	}
	for _, m := range ms {
		if m.Valid && m.LatencyMS.P99 > 5*m.LatencyMS.Mean && m.LatencyMS.P99-m.LatencyMS.Mean > 100 {
			out = append(out, note{fmt.Sprintf("the mean (%s ms) hides a P99 of %s ms (%s): percentiles, not averages", num(m.LatencyMS.Mean), num(m.LatencyMS.P99), m.Condition), false})
			break
		}
	}
	return out
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
