package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/headroom/headroom/result"
)

//go:embed experiments.html.tmpl
var experimentsHTML string

var experimentsTmpl = template.Must(template.New("experiments").Funcs(template.FuncMap{"num": figure}).Parse(experimentsHTML))

// figure prints a measurement's value: whole numbers whole (10000, not 1e+04), others to 4
// significant digits.
func figure(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// WriteExperimentsHTML writes one self-contained page (no script, no network) for experiment
// results: a table of outcomes, then per experiment its claim, expectation, verdict and why, a
// bar chart of each load run's P50 and P99 (an invalid run marked so) and its measurements.
func WriteExperimentsHTML(w io.Writer, xs []*result.Experiment) error {
	type view struct {
		E     *result.Experiment
		Class string
		Bars  *barChart
	}
	var vs []view
	for _, x := range xs {
		vs = append(vs, view{E: x, Class: strings.ReplaceAll(string(x.Outcome), " ", "-"), Bars: latencyBars(x.Measurements)})
	}
	return experimentsTmpl.Execute(w, struct{ X []view }{vs})
}

// barChart is a horizontal bar per load run: P99 behind P50, on one linear scale.
type barChart struct {
	W, H, X0 int
	Rows     []barRow
}

type barRow struct {
	Label      string
	Y, TextX   int
	P50W, P99W int
	P50, P99   string
	Valid      bool
}

func latencyBars(ms []result.ExperimentMeasurement) *barChart {
	const w, x0, barsW, rowH = 1000, 180, 560, 20
	var top float64
	for _, m := range ms {
		if m.LatencyMS != nil {
			top = max(top, m.LatencyMS.P99)
		}
	}
	if top <= 0 {
		return nil
	}
	c := &barChart{W: w, X0: x0}
	for _, m := range ms {
		if m.LatencyMS == nil {
			continue
		}
		y := len(c.Rows) * rowH
		p99w := int(float64(barsW) * m.LatencyMS.P99 / top)
		c.Rows = append(c.Rows, barRow{Label: clip(m.Name), Y: y, P50W: max(1, int(float64(barsW)*m.LatencyMS.P50/top)), P99W: max(1, p99w),
			TextX: x0 + max(1, p99w) + 6, P50: fmt.Sprintf("%.1f", m.LatencyMS.P50), P99: fmt.Sprintf("%.1f", m.LatencyMS.P99), Valid: m.Valid})
	}
	c.H = len(c.Rows)*rowH + 4
	return c
}
