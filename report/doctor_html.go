package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"regexp"
	"strings"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/result"
)

var (
	//go:embed assets/uPlot.iife.min.js
	uplotJS string
	//go:embed assets/uPlot.min.css
	uplotCSS string
	//go:embed assets/doctor.js
	doctorJS string
	//go:embed doctor.html.tmpl
	doctorHTML string
)

var doctorTmpl = template.Must(template.New("doctor").Funcs(template.FuncMap{
	"label": EndpointLabel,
	"join":  strings.Join,
	"pct":   func(v float64) string { return fmt.Sprintf("%.0f %%", 100*v) },
	"ms":    num,
	"rate":  rate,
	"tier":  tierTime,
	"call":  callTime,
	"clip":  clip,
	"traceRef": func(t TraceURL, id string) struct{ ID, Link string } {
		return struct{ ID, Link string }{id, t.Link(id)}
	},
}).Parse(doctorHTML))

// DoctorPage is what the doctor HTML report shows: the report itself and the pieces kept next to
// it as files, which the page inlines so that it opens offline and alone.
type DoctorPage struct {
	Doctor *result.Doctor
	// Steady holds each endpoint's steady run (its timeline and histogram), by endpoint.
	Steady map[string]*result.Load
	// Flames are the flame graphs, in the order of Doctor.Profiles.
	Flames []Flame
	// TraceURL links every trace id on the page to a trace viewer; zero for none.
	TraceURL TraceURL
}

// Flame is one flame graph to inline.
type Flame struct {
	Title string
	// SVG is a complete <svg> element; an XML prolog before it is dropped.
	SVG []byte
}

// maxPoints bounds every series drawn: a line chart gains nothing from more points than pixels.
const maxPoints = 1200

// WriteDoctorHTML writes the doctor report as one self-contained page: uPlot, its CSS, the chart
// code and the data are inline, nothing is fetched. The charts: per endpoint the latency over time
// with the P50–P99 band, the HDR percentile distribution (log scale, to P99.9 and the max) and the
// latency histogram, and the sweep (percentiles over the offered rate with the SLO, knee,
// recommended rate, headroom band and model curve; P99 over utilization when known); then the
// self-time breakdown per endpoint, the service map of the requests that crossed services, an exemplar trace's waterfall with its critical path, the
// flame graphs and the findings. The output is a function of the input alone.
func WriteDoctorHTML(w io.Writer, p DoctorPage) error {
	return writeDoctorHTML(w, p, pageAssets{uplotJS, uplotCSS, doctorJS})
}

// pageAssets are the code and style the page inlines; tests swap them for markers so that golden
// files hold the page's structure, not 50 KB of minified uPlot.
type pageAssets struct{ UPlot, CSS, Script string }

func writeDoctorHTML(w io.Writer, p DoctorPage, a pageAssets) error {
	d := p.Doctor
	type section struct {
		Endpoint string
		Charts   []string
	}
	var charts []chartSpec
	var sections []section
	add := func(s *section, c *chartSpec, mark string) {
		if c == nil {
			return
		}
		c.Title += mark
		c.ID = fmt.Sprintf("c%d", len(charts)+1)
		charts = append(charts, *c)
		s.Charts = append(s.Charts, c.ID)
	}
	for _, e := range doctorEndpoints(d) {
		s := section{Endpoint: e}
		if l := p.Steady[e]; l != nil {
			// A chart of an invalid run says so in its title: its shape is the generator's.
			mark := ""
			if !l.Verdict.Valid {
				mark = " — " + InvalidNote(result.Measurement{InvalidReasons: l.Verdict.Reasons})
			}
			add(&s, timelineSpec(l), mark)
			add(&s, percentileSpec(l), mark)
			add(&s, histogramSpec(l), mark)
		}
		for _, de := range d.Endpoints {
			if de.Endpoint == e && de.Sweep != nil {
				add(&s, sweepSpec(de.Sweep), "")
				add(&s, utilSpec(de.Sweep), "")
			}
		}
		if len(s.Charts) > 0 {
			sections = append(sections, s)
		}
	}
	data, err := json.Marshal(struct {
		Charts []chartSpec `json:"charts"`
	}{charts})
	if err != nil {
		return fmt.Errorf("encode chart data: %w", err)
	}
	var flames []template.HTML
	for _, f := range p.Flames {
		flames = append(flames, inlineSVG(f.SVG))
	}
	return doctorTmpl.Execute(w, struct {
		D         *result.Doctor
		TraceURL  TraceURL
		Measures  []measureGroup
		Paths     bool
		Sections  []section
		Data      template.JS
		UPlot     template.JS
		Script    template.JS
		CSS       template.CSS
		Breakdown []breakdownView
		Waterfall *waterfallView
		Services  []serviceMapView
		Flames    []template.HTML
		FlameName []string
	}{
		D: d, TraceURL: p.TraceURL, Measures: groupMeasurements(d), Paths: hasPaths(d), Sections: sections,
		Data: template.JS(jsSafe(data)), UPlot: template.JS(a.UPlot), Script: template.JS(a.Script), CSS: template.CSS(a.CSS), //nolint:gosec // our own embedded assets
		Breakdown: breakdownViews(d.Breakdown), Waterfall: waterfall(d.Exemplar), Services: serviceMaps(d.Services), Flames: flames, FlameName: flameNames(p.Flames),
	})
}

func flameNames(fs []Flame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Title
	}
	return out
}

// jsSafe escapes what could end the script element early; JSON stays valid JavaScript.
func jsSafe(b []byte) string {
	return strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, "\u2028", `\u2028`, "\u2029", `\u2029`).Replace(string(b))
}

var xmlProlog = regexp.MustCompile(`^\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?`)

// inlineSVG returns a flame graph for inlining: the element alone, with any script removed, so
// the page's own promise (no code but its own runs) holds whatever the file holds.
func inlineSVG(svg []byte) template.HTML {
	s := xmlProlog.ReplaceAllString(string(svg), "")
	s = regexp.MustCompile(`(?is)<script.*?</script>`).ReplaceAllString(s, "")
	return template.HTML(s) //nolint:gosec // headroom's own flame output, scripts stripped
}

// doctorEndpoints lists the endpoints in the order doctor measured them.
func doctorEndpoints(d *result.Doctor) []string {
	var out []string
	seen := map[string]bool{}
	addE := func(e string) {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	for _, e := range d.Endpoints {
		addE(e.Endpoint)
	}
	for _, m := range d.Measurements {
		addE(m.Endpoint)
	}
	return out
}

// chartSpec is one chart for assets/doctor.js: x values, series over them (null where a series
// has no point), and the marks drawn over the plot.
type chartSpec struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Kind   string `json:"kind"` // "line", "bars" or "percentile" (x is −log10(1−q))
	XLabel string `json:"x_label"`
	YLabel string `json:"y_label"`
	LogX   bool   `json:"log_x,omitempty"`
	LogY   bool   `json:"log_y,omitempty"`
	// XRange, when set, fixes the x axis (the histogram's bins, which a log axis would otherwise
	// widen to whole decades).
	XRange []float64    `json:"x_range,omitempty"`
	X      []float64    `json:"x"`
	Series []seriesSpec `json:"series"`
	// Band fills between two series (indexes into Series): the P50–P99 band.
	Band   []int      `json:"band,omitempty"`
	VLines []markSpec `json:"vlines,omitempty"`
	HLines []markSpec `json:"hlines,omitempty"`
	XBands []markSpec `json:"xbands,omitempty"`
	XTicks []markSpec `json:"xticks,omitempty"`
	// YInteger says the y values are counts: the axis shows whole numbers only.
	YInteger bool `json:"y_integer,omitempty"`
	// LegendIdx is the point whose values the legend shows while the cursor is off the plot
	// (uPlot shows "--" then), when the chart has a summary point (the histogram's mode); else
	// the page shows the last point where every series has a value.
	LegendIdx *int `json:"legend_idx,omitempty"`
}

type seriesSpec struct {
	Label  string     `json:"label"`
	Color  string     `json:"color"`
	Dash   bool       `json:"dash,omitempty"`
	Points bool       `json:"points,omitempty"`
	Y      []*float64 `json:"y"`
}

type markSpec struct {
	At    float64 `json:"at"`
	To    float64 `json:"to,omitempty"`
	Label string  `json:"label"`
	Color string  `json:"color,omitempty"`
}

func ptr(v float64) *float64 {
	v = math.Round(v*1000) / 1000
	return &v
}

func timelineSpec(l *result.Load) *chartSpec {
	if len(l.Timeline) == 0 {
		return nil
	}
	xs := make([]float64, len(l.Timeline))
	p99 := make([]float64, len(l.Timeline))
	for i, s := range l.Timeline {
		xs[i], p99[i] = float64(s.T), s.P99
	}
	c := &chartSpec{Title: "Latency over time (steady run, per second)", Kind: "line",
		XLabel: "time since warm-up (s)", YLabel: "latency (ms, log)", LogY: true, Band: []int{0, 1}}
	p50s, p99s, maxs := seriesSpec{Label: "p50", Color: "#8ecae6"}, seriesSpec{Label: "p99", Color: "#023047"}, seriesSpec{Label: "max", Color: "#fb8500", Dash: true}
	for _, i := range lttb(xs, p99, maxPoints) {
		s := l.Timeline[i]
		c.X = append(c.X, xs[i])
		p50s.Y, p99s.Y, maxs.Y = append(p50s.Y, positive(s.P50)), append(p99s.Y, positive(s.P99)), append(maxs.Y, positive(s.Max))
	}
	c.Series = []seriesSpec{p50s, p99s, maxs}
	return c
}

// positive is nil for a second with no requests: a gap, not a zero on a log axis.
func positive(v float64) *float64 {
	if v <= 0 {
		return nil
	}
	return ptr(v)
}

// percentileQs are the quantiles of the HDR percentile plot, up to the max.
var percentileQs = []float64{0, .25, .5, .75, .9, .95, .98, .99, .995, .998, .999, .9995, .9999}

func percentileSpec(l *result.Load) *chartSpec {
	h, err := hist.Decode(l.Histograms.Latency)
	if err != nil || h.Count() == 0 {
		return nil
	}
	c := &chartSpec{Title: fmt.Sprintf("Latency by percentile (HDR, %d requests)", h.Count()), Kind: "percentile",
		XLabel: "percentile (log scale of 1/(1−q))", YLabel: "latency (ms, log)", LogY: true}
	lat := seriesSpec{Label: "latency", Color: "#023047", Points: true}
	// Beyond the quantile whose tail holds one request, the plot would only repeat the max.
	last := 1 - 1/float64(h.Count())
	for _, q := range percentileQs {
		if q > last {
			break
		}
		c.X = append(c.X, xq(q))
		lat.Y = append(lat.Y, ptr(h.Quantile(q).Seconds()*1000))
	}
	maxX := math.Max(xq(last), c.X[len(c.X)-1]+0.3)
	c.X = append(c.X, maxX)
	lat.Y = append(lat.Y, ptr(h.Max().Seconds()*1000))
	c.Series = []seriesSpec{lat}
	for _, t := range []struct {
		q    float64
		name string
	}{{0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}, {0.999, "p99.9"}, {0.9999, "p99.99"}} {
		if xq(t.q) < maxX {
			c.XTicks = append(c.XTicks, markSpec{At: xq(t.q), Label: t.name})
		}
	}
	c.XTicks = append(c.XTicks, markSpec{At: maxX, Label: "max"})
	c.HLines = append(c.HLines,
		markSpec{At: l.LatencyMS.P999, Label: "p99.9 " + num(l.LatencyMS.P999) + " ms", Color: "#fb8500"},
		markSpec{At: l.LatencyMS.Max, Label: "max " + num(l.LatencyMS.Max) + " ms", Color: "#d62828"})
	return c
}

// logTicks returns the ticks of a log axis over [lo, hi]: the 1-2-5 steps of each decade (only
// the decades when those are too many), or, when fewer than three fall inside — a narrow range
// such as 2–3 ms holds no decade mark — about six round linear steps.
func logTicks(lo, hi float64) []float64 {
	var all, decades []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			if v := m * math.Pow(10, e); v >= lo && v <= hi {
				all = append(all, v)
				if m == 1 {
					decades = append(decades, v)
				}
			}
		}
	}
	switch {
	case len(all) > 9 && len(decades) >= 3:
		return decades
	case len(all) >= 3:
		return all
	}
	var out []float64
	for _, v := range niceTicks(lo, hi, 6) {
		if v > 0 {
			out = append(out, math.Round(v*1e6)/1e6) // no float noise in the labels' positions
		}
	}
	return out
}

// xq places quantile q on the percentile plot's axis: each nine one unit further.
func xq(q float64) float64 { return math.Round(-math.Log10(1-q)*1000) / 1000 }

// histogramBins is how many log-spaced bars the latency histogram has.
const histogramBins = 60

func histogramSpec(l *result.Load) *chartSpec {
	h, err := hist.Decode(l.Histograms.Latency)
	if err != nil || h.Count() == 0 {
		return nil
	}
	dist := h.Distribution()
	lo := math.Max(dist[0].From.Seconds()*1000, 1e-3)
	hi := math.Max(dist[len(dist)-1].To.Seconds()*1000, lo*1.01)
	step := (math.Log10(hi) - math.Log10(lo)) / histogramBins
	counts := make([]float64, histogramBins)
	for _, b := range dist {
		v := math.Max(b.To.Seconds()*1000, lo)
		i := min(int((math.Log10(v)-math.Log10(lo))/step), histogramBins-1)
		counts[i] += float64(b.Count)
	}
	c := &chartSpec{Title: "Latency histogram (HDR, log-spaced bins)", Kind: "bars",
		XLabel: "latency (ms, log)", YLabel: "requests", LogX: true, YInteger: true}
	// Half a bin of margin each side, so the first and last bars show whole.
	c.XRange = []float64{math.Round(math.Pow(10, math.Log10(lo)-step)*1000) / 1000, math.Round(math.Pow(10, math.Log10(hi)+step)*1000) / 1000}
	for _, v := range logTicks(c.XRange[0], c.XRange[1]) {
		c.XTicks = append(c.XTicks, markSpec{At: v, Label: short(v)})
	}
	bars := seriesSpec{Label: "requests", Color: "#219ebc"}
	mode := 0 // the legend shows the mode
	for i, n := range counts {
		c.X = append(c.X, math.Round(math.Pow(10, math.Log10(lo)+(float64(i)+0.5)*step)*1000)/1000)
		bars.Y = append(bars.Y, ptr(n))
		if n > counts[mode] {
			mode = i
		}
	}
	c.LegendIdx = &mode
	c.Series = []seriesSpec{bars}
	c.VLines = append(c.VLines, markSpec{At: l.LatencyMS.P50, Label: "p50", Color: "#8ecae6"},
		markSpec{At: l.LatencyMS.P99, Label: "p99", Color: "#023047"},
		markSpec{At: l.LatencyMS.P999, Label: "p99.9", Color: "#fb8500"},
		markSpec{At: l.LatencyMS.Max, Label: "max", Color: "#d62828"})
	return c
}

// interpolate is the piecewise-linear curve through the points of curve (x → y) at x, when x is
// within the curve's range.
func interpolate(curve map[float64]float64, x float64) (float64, bool) {
	var lo, hi float64
	haveLo, haveHi := false, false
	for cx := range curve {
		if cx <= x && (!haveLo || cx > lo) {
			lo, haveLo = cx, true
		}
		if cx >= x && (!haveHi || cx < hi) {
			hi, haveHi = cx, true
		}
	}
	switch {
	case !haveLo || !haveHi:
		return 0, false
	case hi == lo:
		return curve[lo], true
	}
	return curve[lo] + (curve[hi]-curve[lo])*(x-lo)/(hi-lo), true
}

func sweepSpec(s *result.Sweep) *chartSpec {
	steps := sortedSteps(s)
	if len(steps) == 0 {
		return nil
	}
	c := &chartSpec{Title: "Latency over throughput (sweep)", Kind: "line",
		XLabel: "offered rate (req/s)", YLabel: "latency (ms, log)", LogY: true}
	// The model curve has its own x values: join them with the steps', nulls where absent.
	curve := map[float64]float64{}
	if f := bestFit(s.Model); f != nil {
		for _, q := range f.Curve {
			if q.X <= steps[len(steps)-1].OfferedRPS*1.1 && q.Y > 0 {
				curve[q.X] = q.Y
			}
		}
	}
	xs := make([]float64, 0, len(steps)+len(curve))
	for _, st := range steps {
		xs = append(xs, st.OfferedRPS)
	}
	for x := range curve {
		xs = append(xs, x)
	}
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sortBy(idx, func(i int) float64 { return xs[i] })
	pcts := []struct {
		name, color string
		get         func(result.Summary) float64
	}{
		{"p50", "#8ecae6", func(x result.Summary) float64 { return x.P50 }},
		{"p90", "#219ebc", func(x result.Summary) float64 { return x.P90 }},
		{"p99", "#023047", func(x result.Summary) float64 { return x.P99 }},
		{"p99.9", "#fb8500", func(x result.Summary) float64 { return x.P999 }},
	}
	series := make([]seriesSpec, len(pcts))
	for i, p := range pcts {
		series[i] = seriesSpec{Label: p.name, Color: p.color, Points: true}
	}
	model := seriesSpec{Label: "model " + s.Model.Best + " p99", Color: "#9b5de5", Dash: true}
	for _, i := range idx {
		c.X = append(c.X, xs[i])
		for j, p := range pcts {
			var y *float64
			if i < len(steps) {
				y = positive(p.get(steps[i].LatencyMS))
			}
			series[j].Y = append(series[j].Y, y)
		}
		var y *float64
		if i >= len(steps) {
			y = ptr(curve[xs[i]])
		} else if v, ok := interpolate(curve, xs[i]); ok {
			// On the line drawn through the curve's points: the legend then shows the model
			// beside the measured percentiles of a step.
			y = ptr(v)
		}
		model.Y = append(model.Y, y)
	}
	c.Series = series
	if len(curve) > 0 {
		c.Series = append(c.Series, model)
	}
	if ms, name := sloLatency(s); ms > 0 {
		c.HLines = append(c.HLines, markSpec{At: ms, Label: "SLO " + name, Color: "#d62828"})
	}
	if s.KneeRPS > 0 {
		c.VLines = append(c.VLines, markSpec{At: s.KneeRPS, Label: "knee " + rate(s.KneeRPS), Color: "#6a4c93"})
	}
	if s.MaxRPSUnderSLO > 0 {
		label := "max " + rate(s.MaxRPSUnderSLO)
		if s.MaxIsLowerBound {
			label = "max ≥ " + rate(s.MaxRPSUnderSLO) + " (lower bound)"
			c.Title += " — " + SweepMax(s)
		}
		c.VLines = append(c.VLines, markSpec{At: s.MaxRPSUnderSLO, Label: label, Color: "#d62828"})
	}
	if s.RecommendedRPS > 0 {
		c.VLines = append(c.VLines, markSpec{At: s.RecommendedRPS, Label: "recommended " + rate(s.RecommendedRPS), Color: "#2a9d8f"})
		if s.MaxRPSUnderSLO > s.RecommendedRPS {
			c.XBands = append(c.XBands, markSpec{At: s.RecommendedRPS, To: s.MaxRPSUnderSLO,
				Label: fmt.Sprintf("headroom %.0f%%", 100*s.Headroom), Color: "#2a9d8f"})
		}
	}
	return c
}

func utilSpec(s *result.Sweep) *chartSpec {
	var xs, ys []float64
	for _, st := range sortedSteps(s) {
		if st.Utilization != nil && st.LatencyMS.P99 > 0 {
			xs, ys = append(xs, 100**st.Utilization), append(ys, st.LatencyMS.P99)
		}
	}
	if len(xs) == 0 {
		return nil
	}
	sx, sy, _, _ := sortedByX(xs, ys, make([]string, len(xs)), make([]bool, len(xs)))
	c := &chartSpec{Title: "P99 over CPU utilization (sweep)", Kind: "line",
		XLabel: "CPU utilization (%)", YLabel: "p99 (ms, log)", LogY: true}
	p99 := seriesSpec{Label: "p99", Color: "#023047", Points: true}
	for i := range sx {
		c.X = append(c.X, math.Round(sx[i]*100)/100)
		p99.Y = append(p99.Y, ptr(sy[i]))
	}
	c.Series = []seriesSpec{p99}
	if ms, name := sloLatency(s); ms > 0 {
		c.HLines = append(c.HLines, markSpec{At: ms, Label: "SLO " + name, Color: "#d62828"})
	}
	return c
}

// breakdownView is one endpoint's stacked bar, laid out in percent of its mean time.
type breakdownView struct {
	Endpoint string
	TotalMS  float64
	Traces   int
	Parts    []partView
}

type partView struct {
	Name          string
	SelfMS        float64
	Left, Width   float64 // percent
	Color         string
	LabelInside   bool
	TitleAttrText string
}

var palette = []string{"#023047", "#219ebc", "#fb8500", "#8ecae6", "#6a4c93", "#2a9d8f", "#d62828", "#ffb703", "#9b5de5", "#606c38"}

func breakdownViews(bs []result.EndpointBreakdown) []breakdownView {
	var out []breakdownView
	colors := map[string]string{}
	for _, b := range bs {
		v := breakdownView{Endpoint: b.Endpoint, TotalMS: b.TotalMS, Traces: b.Traces}
		var sum float64
		for _, p := range b.Parts {
			sum += p.SelfMS
		}
		left := 0.0
		for _, p := range b.Parts {
			if sum <= 0 {
				break
			}
			c, ok := colors[p.Name]
			if !ok {
				c = palette[len(colors)%len(palette)]
				colors[p.Name] = c
			}
			w := math.Round(1000*p.SelfMS/sum) / 10
			v.Parts = append(v.Parts, partView{Name: p.Name, SelfMS: p.SelfMS, Left: left, Width: w, Color: c, LabelInside: w >= 12,
				TitleAttrText: fmt.Sprintf("%s: %s ms self time per request (%.0f %%)", p.Name, num(p.SelfMS), w)})
			left = math.Round((left+w)*10) / 10
		}
		out = append(out, v)
	}
	return out
}

// waterfallView lays a trace out as SVG rows.
type waterfallView struct {
	T      *result.TraceView
	W, H   float64
	Rows   []waterfallRow
	Ticks  []tick
	Legend string
}

type waterfallRow struct {
	Y, X, W, TextX float64
	Name, Title    string
	Critical       bool
}

const (
	wfWidth, wfLabel, wfRow = 1000.0, 300.0, 18.0
)

func waterfall(t *result.TraceView) *waterfallView {
	if t == nil || len(t.Spans) == 0 || t.DurationMS <= 0 {
		return nil
	}
	v := &waterfallView{T: t, W: wfWidth, H: wfRow*float64(len(t.Spans)) + 30}
	scale := (wfWidth - wfLabel - 10) / t.DurationMS
	for i, s := range t.Spans {
		name := strings.Repeat("  ", s.Depth) + s.Name
		if len(name) > 48 {
			name = name[:47] + "…"
		}
		v.Rows = append(v.Rows, waterfallRow{
			Y: wfRow * float64(i), X: round1(wfLabel + s.StartMS*scale), W: math.Max(round1(s.DurMS*scale), 1),
			TextX: float64(4 + 8*s.Depth), Name: name, Critical: s.Critical,
			Title: fmt.Sprintf("%s: starts at %s ms, takes %s ms%s", s.Name, num(s.StartMS), num(s.DurMS), map[bool]string{true: " (critical path)", false: ""}[s.Critical]),
		})
	}
	for _, x := range niceTicks(0, t.DurationMS, 8) {
		v.Ticks = append(v.Ticks, tick{Pos: round1(wfLabel + x*scale), Label: short(x)})
	}
	return v
}
