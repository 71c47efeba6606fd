package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/headroom/headroom/cost"
)

//go:embed cost.html.tmpl
var costHTML string

var costTmpl = template.Must(template.Must(template.New("cost").Funcs(chartFuncs).Parse(costHTML)).Parse(chartHTML))

// costSamples is the number of rates the cost chart evaluates both bills at.
const costSamples = 400

// WriteCostHTML writes a self-contained page (no script, no network) with a cost comparison: the
// monthly bill over a steady rate as functions (a line, free tier left out) and as always-on
// servers (a staircase: one more server each capacity), the break-even rate and the traffic's
// mean and peak marked, then the comparison's text. The output is deterministic.
func WriteCostHTML(w io.Writer, r *cost.Result) error {
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		return err
	}
	page := struct {
		R                  *cost.Result
		Functions, Servers float64
		Text               string
		Charts             []*chart
	}{R: r, Functions: cost.Cents(r.Functions.TotalUSD), Servers: cost.Cents(r.ServersUSD), Text: text.String(),
		Charts: []*chart{costChart(r)}}
	return costTmpl.Execute(w, page)
}

func costChart(r *cost.Result) *chart {
	be := r.BreakEven
	// Wide enough for the traffic's peak and the crossings; a server's capacity when they never cross.
	xmax := 1.5 * r.Traffic.PeakRPS
	if be.Found {
		xmax = math.Max(xmax, 3*math.Max(be.RPS, be.AlwaysAboveRPS))
	} else {
		xmax = math.Max(xmax, 1.2*r.Servers.CapacityRPS)
	}
	fn := func(x float64) float64 { return be.USDPerRPSMonth * x }
	ymax := math.Max(fn(xmax), r.Servers.Monthly(xmax))
	c := newChart("Monthly cost over a steady rate", "steady rate (req/s)", "USD a month", 0, xmax, 0, ymax*1.05, false)
	var xs, fys, sxs, sys []float64
	prev := r.Servers.Monthly(0)
	for i := 0; i <= costSamples; i++ {
		x := xmax * float64(i) / costSamples
		xs, fys = append(xs, x), append(fys, fn(x))
		// A staircase: the previous count up to this rate, then the new one.
		s := r.Servers.Monthly(x)
		sxs, sys = append(sxs, x, x), append(sys, prev, s)
		prev = s
	}
	c.add("functions", "#1f77b4", false, xs, fys, nil, nil)
	c.add("servers", "#ff7f0e", false, sxs, sys, nil, nil)
	if be.Found {
		c.vline(be.RPS, fmt.Sprintf("break-even %.4g req/s", be.RPS), "#2a9d8f")
	}
	c.vline(r.Traffic.MeanRPS, "traffic mean", "#555")
	if r.Traffic.PeakRPS > r.Traffic.MeanRPS {
		c.vline(r.Traffic.PeakRPS, "traffic peak", "#999")
	}
	return c
}
