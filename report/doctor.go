package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/headroom/headroom/result"
)

// WriteDoctor prints what doctor measured: per endpoint, each condition's latency and rate and,
// on the lab, how much the anti-patterns cost; through the lab's edge tier, each path's latency,
// what the edge saves or costs, and the traces' breakdown of time at the edge, on the link and
// at the origin; and, when the traces crossed services, each hop between them.
func WriteDoctor(w io.Writer, d *result.Doctor, o Options) error {
	p := &printer{w: w}
	p.f("headroom doctor  %s\n", d.Target)
	if d.Lab != nil {
		cmp := "; compared with every anti-pattern on and off"
		if d.Lab.Antipatterns == "none" || d.Lab.Antipatterns == "" {
			cmp = "; every anti-pattern off"
		}
		p.f("  the lab in process: %s, %d users, %d posts%s\n", d.Lab.DB, d.Lab.Users, d.Lab.Posts, cmp)
		if e := d.Lab.Edge; e != nil {
			p.f("  through its edge tier: users → %s, direct → %s (%s)\n", e.URL, e.DirectURL, e.Geography)
		}
	}
	paths := hasPaths(d)
	cond := "%-17s"
	if paths {
		cond = "%-17s %-6s"
	}
	row := "  %-42s " + cond + " %9s %9s %9s %9s %10s %7s"
	head := []any{"endpoint", "condition"}
	if paths {
		head = append(head, "path")
	}
	p.f("\n"+row+"\n", append(head, "mean ms", "p50 ms", "p99 ms", "max ms", "req/s", "errors")...)
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
			args := []any{name, m.Condition}
			if paths {
				args = append(args, m.Path)
			}
			args = append(args, num(m.LatencyMS.Mean), num(m.LatencyMS.P50), num(m.LatencyMS.P99), num(m.LatencyMS.Max), fmt.Sprintf("%.1f", m.AchievedRPS), errs)
			p.f(row+"%s\n", append(args, inv)...)
		}
		for _, n := range g.Notes {
			text := n.Text
			if n.Alert {
				text = o.red(text)
			}
			p.f("  %-42s %s\n", "", text)
		}
	}
	writeEdgeBreakdown(p, d.Edge)
	writeServiceBreakdown(p, d.Services)
	if len(d.Functions) > 0 {
		var b strings.Builder
		writeFunctions(&b, d.Functions)
		p.f("%s", b.String())
	}
	if d.NoTraces != "" {
		p.f("\n  %s\n", o.red("NO TRACES: "+d.NoTraces))
	}
	return p.err
}

// hasPaths reports whether any of d's measurements names its path (doctor --edge).
func hasPaths(d *result.Doctor) bool {
	return slices.ContainsFunc(d.Measurements, func(m result.Measurement) bool { return m.Path != "" })
}

// writeEdgeBreakdown prints, per endpoint whose traces crossed an edge node, the share answered
// at the edge and the P50 / P99 of the time at the edge, on the edge → origin link and at the
// origin.
func writeEdgeBreakdown(p *printer, bs []result.EdgeBreakdown) {
	if len(bs) == 0 {
		return
	}
	p.f("\n  %-42s %9s %8s %18s %18s %18s\n", "through the edge (from traces)", "requests", "at edge", "edge p50/p99 ms", "link p50/p99 ms", "origin p50/p99 ms")
	for _, b := range bs {
		p.f("  %-42s %9d %8s %18s %18s %18s\n", clip(b.Endpoint), b.Requests, fmt.Sprintf("%.0f %%", 100*b.AnsweredAtEdge),
			tierTime(b.Edge), tierTime(b.Link), tierTime(b.Origin))
	}
}

// writeServiceBreakdown prints, per endpoint whose traces crossed services, each hop from one
// service to another: its calls per request, the P50 / P99 of a call and of its network part, and
// its failed calls.
func writeServiceBreakdown(p *printer, bs []result.ServiceBreakdown) {
	if len(bs) == 0 {
		return
	}
	p.f("\n  %-46s %9s %16s %18s %8s\n", "across services (from traces)", "calls/req", "call p50/p99 ms", "network p50/p99 ms", "errors")
	for _, b := range bs {
		p.f("  %s (%d requests)\n", clip(b.Endpoint), b.Requests)
		for _, h := range b.Hops {
			p.f("    %-44s %9.1f %16s %18s %8d\n", hopLabel(h), h.CallsPerRequest, callTime(h.Call), callTime(h.Network), h.Errors)
		}
	}
}

// hopLabel is "caller → peer", each name made printable and clipped so that the row keeps its
// columns: service names come from the traces.
func hopLabel(h result.HopTime) string {
	return serviceName(h.Caller, 20) + " → " + serviceName(h.Peer, 20)
}

// serviceName is a service name from a trace, its control characters replaced and clipped to n
// runes.
func serviceName(s string, n int) string {
	r := []rune(strings.Map(func(c rune) rune {
		if unicode.IsControl(c) {
			return '?'
		}
		return c
	}, s))
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}

// callTime is a call's "P50 / P99" in milliseconds, or "—" when no call measured it.
func callTime(t result.CallTime) string {
	if t.Calls == 0 {
		return "—"
	}
	return num(t.P50MS) + " / " + num(t.P99MS)
}

// tierTime is a tier's "P50 / P99" in milliseconds, or "—" when no request measured it.
func tierTime(t result.TierTime) string {
	if t.Requests == 0 {
		return "—"
	}
	return num(t.P50MS) + " / " + num(t.P99MS)
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
	fewest := int64(-1) // the fewest requests a compared P99 rests on
	if on, off, ok := onOff(ms); ok && off.LatencyMS.P99 > 0 {
		from := invalidFrom(on, off)
		if on.LatencyMS.P99 >= off.LatencyMS.P99 {
			out = append(out, note{fmt.Sprintf("→ the anti-patterns cost %.1f× at P99 (%s → %s ms), %.1f× at P50%s",
				on.LatencyMS.P99/off.LatencyMS.P99, num(off.LatencyMS.P99), num(on.LatencyMS.P99), ratio(on.LatencyMS.P50, off.LatencyMS.P50), from), true})
		} else {
			// A ratio below 1 is no "cost": the run without them met a slower tail (a heavy-tailed
			// dependency), which says more about how few requests the P99 rests on.
			out = append(out, note{fmt.Sprintf("→ at P99 the run with the anti-patterns off was the slower (%s against %s ms): its tail is not theirs; they cost %.1f× at P50%s",
				num(off.LatencyMS.P99), num(on.LatencyMS.P99), ratio(on.LatencyMS.P50, off.LatencyMS.P50), from), true})
		}
		fewest = min(on.Requests, off.Requests)
	}
	if e, d, ok := edgeDirect(ms); ok {
		out = append(out, edgeNote(e, d))
		if n := min(e.Requests, d.Requests); fewest < 0 || n < fewest {
			fewest = n
		}
	}
	if fewest >= 0 && fewest < 1000 {
		out = append(out, note{fmt.Sprintf("(each P99 rests on the slowest %d of %d requests: measure longer for a stable tail)", max(fewest/100, 1), fewest), false})
	}
	for _, m := range ms {
		if m.Valid && m.LatencyMS.P99 > 5*m.LatencyMS.Mean && m.LatencyMS.P99-m.LatencyMS.Mean > 100 {
			where := string(m.Condition)
			if m.Path != "" {
				where += ", " + string(m.Path)
			}
			out = append(out, note{fmt.Sprintf("the mean (%s ms) hides a P99 of %s ms (%s): percentiles, not averages", num(m.LatencyMS.Mean), num(m.LatencyMS.P99), where), false})
			break
		}
	}
	return out
}

// invalidFrom marks a note computed from ms when any of them is invalid; "" when all are valid.
func invalidFrom(ms ...result.Measurement) string {
	for _, m := range ms {
		if !m.Valid {
			return " — from an INVALID measurement, not a fact about the target"
		}
	}
	return ""
}

// edgeDirect finds the pair of measurements of one condition taken through the edge and direct.
func edgeDirect(ms []result.Measurement) (edge, direct result.Measurement, ok bool) {
	for _, d := range ms {
		if d.Path != result.PathDirect {
			continue
		}
		for _, e := range ms {
			if e.Path == result.PathEdge && e.Condition == d.Condition {
				return e, d, true
			}
		}
	}
	return edge, direct, false
}

// edgeNote compares an endpoint's two paths: what the edge saves (or costs) at P50 and P99. It is
// an alert when the edge costs at P50.
func edgeNote(e, d result.Measurement) note {
	effect := func(edge, direct float64) (string, bool) {
		if diff := direct - edge; diff >= 0 {
			return "saves " + num(diff) + " ms", true
		}
		return "costs " + num(edge-direct) + " ms", false
	}
	p50, saves50 := effect(e.LatencyMS.P50, d.LatencyMS.P50)
	p99, saves99 := effect(e.LatencyMS.P99, d.LatencyMS.P99)
	joint := "but"
	if saves50 == saves99 {
		joint, p99 = "and", strings.TrimPrefix(strings.TrimPrefix(p99, "saves "), "costs ")
	}
	return note{fmt.Sprintf("→ through the edge P50 %s ms / P99 %s ms, direct P50 %s ms / P99 %s ms: the edge %s at P50 %s %s at P99%s",
		num(e.LatencyMS.P50), num(e.LatencyMS.P99), num(d.LatencyMS.P50), num(d.LatencyMS.P99), p50, joint, p99, invalidFrom(e, d)), !saves50}
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

// onOff finds the measurements with the anti-patterns on and off, along the same path: through
// the edge when doctor measured both paths (the comparison runs through the edge only).
func onOff(ms []result.Measurement) (on, off result.Measurement, ok bool) {
	var haveOn, haveOff bool
	for _, m := range ms {
		if m.Path == result.PathDirect {
			continue
		}
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
	return clip(e)
}

// clip shortens a name to at most 42 bytes for tables, marking the cut; diagnose's endpoint
// names ("edge GET /api/posts") are shown whole up to there.
func clip(e string) string {
	if len(e) > 42 {
		e = e[:41] + "…"
	}
	return e
}
