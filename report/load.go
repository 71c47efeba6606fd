package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/headroom/headroom/result"
)

// Options control text rendering.
type Options struct {
	// Color marks failures in red with ANSI escapes; for terminals only.
	Color bool
	// TraceURL links trace ids to a trace viewer; zero prints them whole.
	TraceURL TraceURL
}

func (o Options) red(s string) string {
	if o.Color {
		return "\x1b[31;1m" + s + "\x1b[0m"
	}
	return s
}

func (o Options) green(s string) string {
	if o.Color {
		return "\x1b[32m" + s + "\x1b[0m"
	}
	return s
}

// WriteLoad prints the summary table of a load run.
func WriteLoad(w io.Writer, l *result.Load, o Options) error {
	p := &printer{w: w}
	p.f("headroom load  %s\n", describeTargets(l))
	p.f("  %s\n", describeRun(l))
	if l.Partial {
		p.f("  %s\n", o.red("PARTIAL: the run was ended early; the numbers cover what ran"))
	}
	p.f("\n")
	if l.Model == result.ModelOpen {
		p.f("  offered   %10.1f req/s   achieved %10.1f req/s (%.1f%%)\n", l.OfferedRPS, l.AchievedRPS, 100*l.Generator.AchievedRatio)
	} else {
		p.f("  achieved  %10.1f req/s   (closed model: nothing is offered independently of the answers)\n", l.AchievedRPS)
	}
	errPct := 0.0
	if l.Requests > 0 {
		errPct = 100 * float64(l.Errors) / float64(l.Requests)
	}
	errs := fmt.Sprintf("%d (%.2f%%)", l.Errors, errPct)
	if l.Errors > 0 {
		errs = o.red(errs)
	}
	p.f("  requests  %10d         errors   %s\n", l.Requests, errs)
	if len(l.ErrorsByKind) > 0 {
		kinds := slices.SortedFunc(maps.Keys(l.ErrorsByKind), func(a, b string) int {
			return cmp.Or(cmp.Compare(l.ErrorsByKind[b], l.ErrorsByKind[a]), cmp.Compare(a, b))
		})
		var parts []string
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%s %d", k, l.ErrorsByKind[k]))
		}
		p.f("  errors by kind: %s\n", strings.Join(parts, ", "))
	}
	p.f("\n  %-22s %9s %9s %9s %9s %9s %9s %9s %9s\n", "latency (ms)", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")
	row := func(name string, s result.Summary) {
		p.f("  %-22s %9s %9s %9s %9s %9s %9s %9s %9s\n", name,
			num(s.Min), num(s.Mean), num(s.P50), num(s.P90), num(s.P95), num(s.P99), num(s.P999), num(s.Max))
	}
	if l.Model == result.ModelOpen {
		row("from intended send", l.LatencyMS)
		row("from actual send", l.ServiceMS)
		row("send lag", l.SendLagMS)
		p.f("  (from intended send is the honest number; from actual send is what closed-loop tools report)\n")
	} else {
		row("latency", l.LatencyMS)
	}
	writePerTarget(p, l, o)
	g := l.Generator
	p.f("\n  generator: %.2f CPU s (%.0f%% of %d cores), %d connections", g.CPUSeconds, 100*g.CPUUtilization, g.Cores, g.Connections)
	if g.IO != "" {
		p.f(" (%s)", g.IO)
	}
	if l.Model == result.ModelOpen {
		p.f(", dispatch lag p99 %s ms, %.1f%% queued for a connection", num(g.DispatchLagMS.P99), 100*g.QueuedShare)
	}
	p.f("\n")
	if l.Verdict.Valid {
		p.f("  verdict: %s\n", o.green("valid"))
	} else {
		p.f("  verdict: %s\n", o.red("INVALID: these numbers do not measure the target"))
		for _, r := range l.Verdict.Reasons {
			p.f("    %s\n", o.red("- "+r))
		}
	}
	for _, n := range l.Verdict.Notes {
		p.f("  note: %s\n", n)
	}
	if len(l.Exemplars) > 0 {
		e := l.Exemplars[0]
		p.f("  slowest request: %s ms, trace %s\n", num(e.LatencyMS), o.TraceURL.Ref(e.TraceID))
	}
	if l.SLO != nil {
		WriteSLO(p.w, l.SLO, o)
	}
	return p.err
}

// WriteSLO prints the outcome of each SLO check.
func WriteSLO(w io.Writer, s *result.SLO, o Options) {
	p := &printer{w: w}
	verdict := o.green("pass")
	if !s.Pass {
		verdict = o.red("FAIL")
	}
	p.f("\n  SLO %s: %s\n", s.Expr, verdict)
	if s.Reason != "" {
		p.f("    %s\n", o.red(s.Reason))
	}
	for _, c := range s.Checks {
		mark := o.green("ok  ")
		if !c.Pass {
			mark = o.red("FAIL")
		}
		implicit := ""
		if c.Implicit {
			implicit = "  (implicit error budget: the SLO has no errors clause)"
		}
		p.f("    %s %-16s actual %s %s%s\n", mark, c.Expr, num(c.Actual), c.Unit, implicit)
	}
}

// describeTargets is what the run drove: its URL, or for a mixed run how many targets (from the
// echoed config; the parts when a merged or foreign config does not say) and the first.
func describeTargets(l *result.Load) string {
	if len(l.PerTarget) == 0 {
		return l.Target
	}
	var c struct {
		Targets []json.RawMessage `json:"targets"`
	}
	_ = json.Unmarshal(l.Config, &c) // best effort, as in describeRun
	n := len(c.Targets)
	if n < 2 {
		n = len(l.PerTarget)
	}
	return fmt.Sprintf("%d targets (the first %s)", n, l.Target)
}

// maxNameWidth bounds the name column of the per-target table; longer names are cut in the middle.
const maxNameWidth = 40

// writePerTarget prints a mixed run's parts: requests, rate, errors and latency per target.
func writePerTarget(p *printer, l *result.Load, o Options) {
	if len(l.PerTarget) == 0 {
		return
	}
	width := len("per target")
	for _, t := range l.PerTarget {
		width = max(width, utf8.RuneCountInString(cutMiddle(t.Name, maxNameWidth)))
	}
	p.f("\n  %-*s %9s %9s %14s %9s %9s %9s %9s\n", width, "per target", "requests", "req/s", "errors", "p50", "p99", "p99.9", "max")
	for _, t := range l.PerTarget {
		pct := 0.0
		if t.Requests > 0 {
			pct = 100 * float64(t.Errors) / float64(t.Requests)
		}
		errs := fmt.Sprintf("%d (%.1f%%)", t.Errors, pct)
		pad := strings.Repeat(" ", max(0, 14-len(errs)))
		if t.Errors > 0 {
			errs = o.red(errs)
		}
		s := t.LatencyMS
		name := cutMiddle(t.Name, maxNameWidth)
		name += strings.Repeat(" ", width-utf8.RuneCountInString(name))
		p.f("  %s %9d %9.1f %s%s %9s %9s %9s %9s\n", name, t.Requests, t.AchievedRPS,
			pad, errs, num(s.P50), num(s.P99), num(s.P999), num(s.Max))
	}
}

// cutMiddle shortens s to n characters at most, keeping its start and end.
func cutMiddle(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	keep := n - 1 // for "…"
	return string(r[:keep/2]) + "…" + string(r[len(r)-(keep-keep/2):])
}

// describeRun says which model and arrival process ran, from the echoed config.
func describeRun(l *result.Load) string {
	var c struct {
		Arrival struct {
			Kind    string  `json:"kind"`
			Rate    float64 `json:"rate"`
			From    float64 `json:"from"`
			To      float64 `json:"to"`
			Poisson bool    `json:"poisson"`
		} `json:"arrival"`
		Warmup      int64 `json:"warmup"`
		Users       int   `json:"users"`
		Think       int64 `json:"think"`
		Connections int   `json:"connections"`
		Requests    int64 `json:"requests"`
	}
	_ = json.Unmarshal(l.Config, &c) // best effort: a merged or foreign config just says less
	warm := ""
	if c.Warmup > 0 {
		warm = fmt.Sprintf(" (+%gs warm-up excluded)", float64(c.Warmup)/1e9)
	}
	merged := ""
	if l.MergedFrom > 1 {
		merged = fmt.Sprintf(", merged from %d runs", l.MergedFrom)
	}
	length := seconds(l.DurationS)
	if c.Requests > 0 {
		length += fmt.Sprintf(" (-n %d)", c.Requests)
	}
	if l.Model == result.ModelClosed {
		return fmt.Sprintf("closed model: %d users, think %gs, %s%s%s", c.Users, float64(c.Think)/1e9, length, warm, merged)
	}
	arr := c.Arrival.Kind
	switch c.Arrival.Kind {
	case "ramp":
		arr = fmt.Sprintf("ramp %g→%g/s", c.Arrival.From, c.Arrival.To)
	case "steps":
	default:
		arr = fmt.Sprintf("%s %g/s", c.Arrival.Kind, c.Arrival.Rate)
	}
	if c.Arrival.Poisson && c.Arrival.Kind != "poisson" {
		arr += ", poisson spacing"
	}
	return fmt.Sprintf("open model: %s, %s%s, %d connections%s", arr, length, warm, c.Connections, merged)
}

// seconds formats a run's length: whole seconds from 10 s, two significant digits below (a run
// that -n ended can last half a second).
func seconds(s float64) string {
	if s >= 10 {
		return fmt.Sprintf("%.0fs", s)
	}
	return fmt.Sprintf("%.2gs", s)
}

// num formats milliseconds with precision that suits their size.
func num(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// printer remembers the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
