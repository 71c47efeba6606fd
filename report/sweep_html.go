package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/headroom/headroom/result"
)

//go:embed sweep.html.tmpl
var sweepHTML string

// chartHTML defines the "chart" template: one chart as inline SVG, shared by the sweep and cost
// pages.
//
//go:embed chart.html.tmpl
var chartHTML string

var chartFuncs = template.FuncMap{
	"add":    func(a, b float64) float64 { return a + b },
	"sub":    func(a, b float64) float64 { return a - b },
	"div":    func(a, b float64) float64 { return a / b },
	"mul100": func(a float64) float64 { return 100 * a },
}

var sweepTmpl = template.Must(template.Must(template.New("sweep").Funcs(chartFuncs).Parse(sweepHTML)).Parse(chartHTML))

// WriteSweepHTML writes a self-contained page (no script, no network) with the sweep's charts as
// inline SVG: latency percentiles over the offered rate, with the SLO line, the knee, the headroom
// band (recommended to max) and the best model's P99 curve; P99 over the target's utilization
// when it is known; and the USL throughput curve when fitted. The output is deterministic.
func WriteSweepHTML(w io.Writer, s *result.Sweep) error {
	var buf strings.Builder
	if err := WriteSweep(&buf, s, Options{}); err != nil {
		return err
	}
	page := struct {
		S      *result.Sweep
		Table  string
		Charts []*chart
	}{S: s, Table: buf.String()}
	page.Charts = append(page.Charts, latencyChart(s))
	if c := utilizationChart(s); c != nil {
		page.Charts = append(page.Charts, c)
	}
	if c := uslChart(s); c != nil {
		page.Charts = append(page.Charts, c)
	}
	return sweepTmpl.Execute(w, page)
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH                 = 860.0, 420.0
	padL, padR, padT, padB float64 = 70, 150, 30, 50
)

type chart struct {
	Title, XLabel, YLabel string
	W, H                  float64
	X0, X1, Y0, Y1        float64 // the plot area in pixels
	Series                []series
	Lines                 []mark
	Bands                 []mark
	XTicks, YTicks        []tick
	Empty                 string

	xmin, xmax, ymin, ymax float64
	logY                   bool
}

type series struct {
	Name, Color string
	Path        string
	Dashed      bool
	Points      []point
	LegendY     float64
}

type point struct {
	X, Y  float64
	Title string
	Fail  bool
}

// mark is a vertical or horizontal line, or a band between A and B, with a label.
type mark struct {
	Label, Color           string
	X1, Y1, X2, Y2, LX, LY float64
}

type tick struct {
	Pos   float64
	Label string
}

func newChart(title, xl, yl string, xmin, xmax, ymin, ymax float64, logY bool) *chart {
	c := &chart{Title: title, XLabel: xl, YLabel: yl, W: chartW, H: chartH,
		X0: padL, X1: chartW - padR, Y0: chartH - padB, Y1: padT, logY: logY}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	if logY {
		ymin, ymax = math.Max(ymin, 1e-3), math.Max(ymax, 1e-3)
		ymin, ymax = math.Pow(10, math.Floor(math.Log10(ymin))), math.Pow(10, math.Ceil(math.Log10(ymax)))
		if ymax <= ymin {
			ymax = ymin * 10
		}
	} else if ymax <= ymin {
		ymax = ymin + 1
	}
	c.xmin, c.xmax, c.ymin, c.ymax = xmin, xmax, ymin, ymax
	for _, v := range niceTicks(xmin, xmax, 8) {
		c.XTicks = append(c.XTicks, tick{c.px(v), short(v)})
	}
	if logY {
		for d := ymin; d <= ymax*1.0001; d *= 10 {
			for _, m := range []float64{1, 2, 5} {
				if v := d * m; v <= ymax*1.0001 {
					c.YTicks = append(c.YTicks, tick{c.py(v), short(v)})
				}
			}
		}
	} else {
		for _, v := range niceTicks(ymin, ymax, 6) {
			c.YTicks = append(c.YTicks, tick{c.py(v), short(v)})
		}
	}
	return c
}

func (c *chart) px(x float64) float64 {
	return round1(c.X0 + (x-c.xmin)/(c.xmax-c.xmin)*(c.X1-c.X0))
}

func (c *chart) py(y float64) float64 {
	f := (y - c.ymin) / (c.ymax - c.ymin)
	if c.logY {
		f = (math.Log10(math.Max(y, c.ymin)) - math.Log10(c.ymin)) / (math.Log10(c.ymax) - math.Log10(c.ymin))
	}
	f = math.Max(0, math.Min(1, f))
	return round1(c.Y0 - f*(c.Y0-c.Y1))
}

func (c *chart) add(name, color string, dashed bool, xs, ys []float64, titles []string, fails []bool) {
	s := series{Name: name, Color: color, Dashed: dashed, LegendY: c.Y1 + 10 + 18*float64(len(c.Series))}
	var b strings.Builder
	for i := range xs {
		x, y := c.px(xs[i]), c.py(ys[i])
		if i == 0 {
			fmt.Fprintf(&b, "M%.1f,%.1f", x, y)
		} else {
			fmt.Fprintf(&b, " L%.1f,%.1f", x, y)
		}
		if titles != nil {
			s.Points = append(s.Points, point{X: x, Y: y, Title: titles[i], Fail: fails[i]})
		}
	}
	s.Path = b.String()
	c.Series = append(c.Series, s)
}

func (c *chart) vline(x float64, label, color string) {
	if x < c.xmin || x > c.xmax {
		return
	}
	p := c.px(x)
	c.Lines = append(c.Lines, mark{Label: label, Color: color, X1: p, Y1: c.Y0, X2: p, Y2: c.Y1, LX: p + 3, LY: c.Y1 + 12 + 14*float64(len(c.Lines))})
}

func (c *chart) hline(y float64, label, color string) {
	p := c.py(y)
	c.Lines = append(c.Lines, mark{Label: label, Color: color, X1: c.X0, Y1: p, X2: c.X1, Y2: p, LX: c.X0 + 4, LY: p - 4})
}

func latencyChart(s *result.Sweep) *chart {
	steps := sortedSteps(s)
	if len(steps) == 0 {
		return &chart{Title: "Latency percentiles over the offered rate", W: chartW, H: 60, Empty: "no step ran"}
	}
	var xmax, ymin, ymax float64
	ymin = math.Inf(1)
	for _, st := range steps {
		xmax = math.Max(xmax, st.OfferedRPS)
		ymin = math.Min(ymin, st.LatencyMS.P50)
		ymax = math.Max(ymax, st.LatencyMS.P999)
	}
	sloMS, sloName := sloLatency(s)
	if sloMS > 0 {
		ymax, ymin = math.Max(ymax, sloMS), math.Min(ymin, sloMS)
	}
	c := newChart("Latency percentiles over the offered rate", "offered rate (req/s)", "latency (ms, log)", 0, xmax*1.05, ymin, ymax, true)
	if s.RecommendedRPS > 0 && s.MaxRPSUnderSLO > 0 {
		c.Bands = append(c.Bands, mark{Label: fmt.Sprintf("headroom %.0f%%", 100*s.Headroom), Color: "#2a9d8f",
			X1: c.px(s.RecommendedRPS), Y1: c.Y1, X2: c.px(s.MaxRPSUnderSLO), Y2: c.Y0,
			LX: c.px(s.RecommendedRPS) + 3, LY: c.Y0 - 6})
	}
	pcts := []struct {
		name, color string
		get         func(result.Summary) float64
	}{
		{"p50", "#8ecae6", func(x result.Summary) float64 { return x.P50 }},
		{"p90", "#219ebc", func(x result.Summary) float64 { return x.P90 }},
		{"p99", "#023047", func(x result.Summary) float64 { return x.P99 }},
		{"p99.9", "#fb8500", func(x result.Summary) float64 { return x.P999 }},
	}
	for _, p := range pcts {
		var xs, ys []float64
		var titles []string
		var fails []bool
		for _, st := range steps {
			xs, ys = append(xs, st.OfferedRPS), append(ys, p.get(st.LatencyMS))
			verdict := "pass"
			if !st.Pass {
				verdict = "FAIL: " + strings.Join(st.FailReasons, "; ")
			}
			titles = append(titles, fmt.Sprintf("%s %s ms at %s req/s offered (%s achieved): %s", p.name, num(p.get(st.LatencyMS)), rate(st.OfferedRPS), rate(st.AchievedRPS), verdict))
			fails = append(fails, !st.Pass)
		}
		c.add(p.name, p.color, false, xs, ys, titles, fails)
	}
	if f := bestFit(s.Model); f != nil && len(f.Curve) > 0 {
		var xs, ys []float64
		for _, q := range f.Curve {
			if q.X <= c.xmax {
				xs, ys = append(xs, q.X), append(ys, q.Y)
			}
		}
		c.add("model "+s.Model.Best+" p99", "#9b5de5", true, xs, ys, nil, nil)
	}
	if sloMS > 0 {
		c.hline(sloMS, "SLO "+sloName, "#d62828")
	}
	if s.KneeRPS > 0 {
		c.vline(s.KneeRPS, "knee "+rate(s.KneeRPS), "#6a4c93")
	}
	if s.MaxRPSUnderSLO > 0 {
		c.vline(s.MaxRPSUnderSLO, "max "+rate(s.MaxRPSUnderSLO), "#d62828")
	}
	if s.RecommendedRPS > 0 {
		c.vline(s.RecommendedRPS, "recommended "+rate(s.RecommendedRPS), "#2a9d8f")
	}
	return c
}

func utilizationChart(s *result.Sweep) *chart {
	var xs, ys []float64
	var titles []string
	var fails []bool
	for _, st := range sortedSteps(s) {
		if st.Utilization != nil {
			xs, ys = append(xs, 100**st.Utilization), append(ys, st.LatencyMS.P99)
			titles = append(titles, fmt.Sprintf("p99 %s ms at %.0f%% utilization (%s req/s)", num(st.LatencyMS.P99), 100**st.Utilization, rate(st.OfferedRPS)))
			fails = append(fails, !st.Pass)
		}
	}
	if len(xs) == 0 {
		return nil
	}
	ymin, ymax := math.Inf(1), 0.0
	for _, y := range ys {
		ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
	}
	c := newChart("P99 over the target's CPU utilization", "utilization (%)", "p99 (ms, log)", 0, 100, ymin, ymax, true)
	// Keep the line in utilization order: it need not follow the rate exactly.
	sx, sy, st, sf := sortedByX(xs, ys, titles, fails)
	c.add("p99", "#023047", false, sx, sy, st, sf)
	if ms, name := sloLatency(s); ms > 0 {
		c.hline(ms, "SLO "+name, "#d62828")
	}
	return c
}

func uslChart(s *result.Sweep) *chart {
	f := s.Model.USL
	if f == nil || len(f.Curve) == 0 {
		return nil
	}
	var xs, ys []float64
	var titles []string
	var fails []bool
	for _, st := range sortedSteps(s) {
		n := st.AchievedRPS * st.ServiceMS.Mean / 1000
		if n > 0 {
			xs, ys = append(xs, n), append(ys, st.AchievedRPS)
			titles = append(titles, fmt.Sprintf("%s req/s at concurrency %.2f", rate(st.AchievedRPS), n))
			fails = append(fails, !st.Pass)
		}
	}
	var xmax, ymax float64
	for _, q := range f.Curve {
		xmax, ymax = math.Max(xmax, q.X), math.Max(ymax, q.Y)
	}
	for i := range xs {
		xmax, ymax = math.Max(xmax, xs[i]), math.Max(ymax, ys[i])
	}
	c := newChart(fmt.Sprintf("Throughput over concurrency (USL, R² %.3f)", f.R2), "concurrency N = X·R", "throughput (req/s)", 0, xmax, 0, ymax*1.05, false)
	sx, sy, st, sf := sortedByX(xs, ys, titles, fails)
	c.add("measured", "#023047", false, sx, sy, st, sf)
	var cx, cy []float64
	for _, q := range f.Curve {
		cx, cy = append(cx, q.X), append(cy, q.Y)
	}
	c.add("USL", "#9b5de5", true, cx, cy, nil, nil)
	return c
}

// sortedSteps returns one step per offered rate (the last run at it), by rate.
func sortedSteps(s *result.Sweep) []result.SweepStep {
	var out []result.SweepStep
	for _, st := range s.Steps {
		if st.Requests == 0 {
			continue
		}
		replaced := false
		for i := range out {
			if out[i].OfferedRPS == st.OfferedRPS {
				out[i], replaced = st, true
			}
		}
		if !replaced {
			out = append(out, st)
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sortBy(idx, func(i int) float64 { return out[i].OfferedRPS })
	sorted := make([]result.SweepStep, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}

// sortBy sorts idx stably by key (insertion sort: a handful of points).
func sortBy(idx []int, key func(int) float64) {
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && key(idx[j]) < key(idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

// sloLatency is the tightest latency threshold of the sweep's SLO, read from a step's checks.
func sloLatency(s *result.Sweep) (float64, string) {
	for _, st := range s.Steps {
		if st.SLO == nil {
			continue
		}
		best, name := 0.0, ""
		for _, c := range st.SLO.Checks {
			if c.Unit == "ms" && (best == 0 || c.Threshold < best) {
				best, name = c.Threshold, c.Expr
			}
		}
		return best, name
	}
	return 0, ""
}

func bestFit(m result.Models) *result.Fit {
	switch m.Best {
	case "mm1":
		return m.MM1
	case "mmc":
		return m.MMc
	}
	return nil
}

// niceTicks returns about n round values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if !(span > 0) {
		return []float64{lo}
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

// short formats an axis value compactly.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", round1(v/1e6))
	case v >= 1e4:
		return fmt.Sprintf("%gk", round1(v/1e3))
	}
	return fmt.Sprintf("%g", math.Round(v*1000)/1000)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// sortedByX returns the points (with their titles and failure marks) in increasing x, so a line
// through them does not double back.
func sortedByX(xs, ys []float64, titles []string, fails []bool) (sx, sy []float64, st []string, sf []bool) {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sortBy(idx, func(i int) float64 { return xs[i] })
	for _, i := range idx {
		sx, sy, st, sf = append(sx, xs[i]), append(sy, ys[i]), append(st, titles[i]), append(sf, fails[i])
	}
	return sx, sy, st, sf
}
