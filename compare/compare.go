package compare

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/result"
)

// Config sets how changes are judged. The zero value uses the defaults.
type Config struct {
	// Threshold is the relative change for the worse (0.10 = 10 %) beyond which a significant
	// change is a regression; default ThresholdDefault (0.10).
	Threshold float64
	// Confidence is the confidence level of the intervals and tests; default
	// ConfidenceDefault (0.95).
	Confidence float64
}

// Defaults of Config, which zero fields stand for.
const (
	ThresholdDefault  = 0.10
	ConfidenceDefault = 0.95
)

func (c Config) withDefaults() Config {
	if c.Threshold <= 0 {
		c.Threshold = ThresholdDefault
	}
	if c.Confidence <= 0 || c.Confidence >= 1 {
		c.Confidence = ConfidenceDefault
	}
	return c
}

// Significance is the judgement of one change.
type Significance string

const (
	// Significant: the change is larger than the measurement's own uncertainty.
	Significant Significance = "significant"
	// NotSignificant: the change is within the uncertainty (e.g. the confidence intervals of
	// the two percentiles overlap).
	NotSignificant Significance = "not significant"
	// Unknown: the inputs carry no measure of uncertainty (a maximum, a summary without
	// histogram); such a change is never a regression.
	Unknown Significance = "no test"
)

// Row is one metric of both results.
type Row struct {
	// Group is the endpoint and condition a doctor row belongs to; "" otherwise.
	Group string
	// Metric is the name shown: "p99", "error rate", "max rate under SLO", ...
	Metric string
	// Unit is "ms", "req/s" or "%".
	Unit      string
	Base, New float64
	// Change is (New − Base) / Base; NaN when Base is 0.
	Change float64
	// Ratio shows the change as New/Base ("3.4×") instead of a percentage: for rates.
	Ratio bool
	// BaseCI and NewCI are the confidence intervals of Base and New, when known.
	BaseCI, NewCI *[2]float64
	Significance  Significance
	// HigherIsBetter is the metric's direction: false for latencies and errors.
	HigherIsBetter bool
	// Regression is true for a significant change for the worse beyond the threshold.
	Regression bool
}

// Worse reports whether the row changed for the worse.
func (r Row) Worse() bool {
	if r.HigherIsBetter {
		return r.New < r.Base
	}
	return r.New > r.Base
}

// Comparison is two results side by side.
type Comparison struct {
	// Kind is the results' schema: result.LoadSchema, result.SweepSchema or result.DoctorSchema.
	Kind      string
	Base, New string // names (file paths) of the results
	// BaseDesc and NewDesc describe each run in a few words.
	BaseDesc, NewDesc string
	Threshold         float64
	Rows              []Row
	// Warnings say why the two results may not be comparable at all: different targets, open
	// vs closed model. They are printed before everything else.
	Warnings []string
	// Notes are caveats: invalid runs, missing histograms, different offered rates.
	Notes []string
}

// warnTargets warns when base and next measured different targets.
func (c *Comparison) warnTargets(base, next string) {
	if base != next {
		c.Warnings = append(c.Warnings, fmt.Sprintf("different targets (%s vs %s): a change may be the target's, not the code's", base, next))
	}
}

// Regressions returns the rows that regressed.
func (c *Comparison) Regressions() []Row {
	var out []Row
	for _, r := range c.Rows {
		if r.Regression {
			out = append(out, r)
		}
	}
	return out
}

// ErrMismatch is returned when the two results are not of one kind.
var ErrMismatch = errors.New("results of different kinds")

// judge fills Change and Regression from Base, New and Significance.
func judge(r Row, cfg Config) Row {
	r.Change = math.NaN()
	if r.Base != 0 {
		r.Change = (r.New - r.Base) / r.Base
	}
	beyond := math.IsNaN(r.Change) && r.New != r.Base || math.Abs(r.Change) > cfg.Threshold
	r.Regression = r.Worse() && beyond && r.Significance == Significant
	return r
}

var percentiles = []struct {
	name string
	q    float64
	get  func(result.Summary) float64
}{
	{"p50", 0.50, func(s result.Summary) float64 { return s.P50 }},
	{"p90", 0.90, func(s result.Summary) float64 { return s.P90 }},
	{"p99", 0.99, func(s result.Summary) float64 { return s.P99 }},
	{"p99.9", 0.999, func(s result.Summary) float64 { return s.P999 }},
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// latencyRows compares two latency distributions: each percentile with its order-statistic
// confidence interval when both histograms are given (nil when not), and the maximum.
func latencyRows(group string, base, next result.Summary, bh, nh *hist.Histogram, cfg Config) []Row {
	var rows []Row
	for _, p := range percentiles {
		r := Row{Group: group, Metric: p.name, Unit: "ms", Base: p.get(base), New: p.get(next), Significance: Unknown}
		if bh != nil && nh != nil {
			bl, bu, ok1 := QuantileCI(bh, p.q, cfg.Confidence)
			nl, nu, ok2 := QuantileCI(nh, p.q, cfg.Confidence)
			if ok1 && ok2 {
				r.BaseCI = &[2]float64{msOf(bl), msOf(bu)}
				r.NewCI = &[2]float64{msOf(nl), msOf(nu)}
				r.Significance = Significant
				if Overlap(bl, bu, nl, nu) {
					r.Significance = NotSignificant
				}
			}
		}
		rows = append(rows, judge(r, cfg))
	}
	// The maximum is one sample: no interval can be given for it.
	rows = append(rows, judge(Row{Group: group, Metric: "max", Unit: "ms", Base: base.Max, New: next.Max, Significance: Unknown}, cfg))
	return rows
}

func errorRow(group string, be, bn, ne, nn int64, cfg Config) Row {
	r := Row{Group: group, Metric: "error rate", Unit: "%", Base: pct(be, bn), New: pct(ne, nn), Significance: NotSignificant}
	if _, sig := TwoProportions(be, bn, ne, nn, cfg.Confidence); sig {
		r.Significance = Significant
	}
	return judge(r, cfg)
}

func pct(e, n int64) float64 {
	if n == 0 {
		return 0
	}
	return 100 * float64(e) / float64(n)
}

// Loads compares two load results: latency percentiles (with confidence intervals from the
// latency histograms), the maximum, the error rate (two-proportion test) and the achieved rate.
func Loads(base, next *result.Load, cfg Config) *Comparison {
	cfg = cfg.withDefaults()
	c := &Comparison{Kind: result.LoadSchema, Threshold: cfg.Threshold, BaseDesc: loadDesc(base), NewDesc: loadDesc(next)}
	bh, err1 := hist.Decode(base.Histograms.Latency)
	nh, err2 := hist.Decode(next.Histograms.Latency)
	if err1 != nil || err2 != nil {
		bh, nh = nil, nil
		c.Notes = append(c.Notes, "a latency histogram is missing or unreadable: percentile changes are not tested")
	}
	c.Rows = latencyRows("", base.LatencyMS, next.LatencyMS, bh, nh, cfg)
	c.Rows = append(c.Rows, errorRow("", base.Errors, base.Requests, next.Errors, next.Requests, cfg))
	// The achieved rate follows the offered one in an open-model run, so it is shown, not judged.
	c.Rows = append(c.Rows, judge(Row{Metric: "achieved rate", Unit: "req/s", Base: base.AchievedRPS, New: next.AchievedRPS, HigherIsBetter: true, Ratio: true, Significance: Unknown}, cfg))
	for _, l := range []struct {
		name string
		r    *result.Load
	}{{"base", base}, {"new", next}} {
		if !l.r.Verdict.Valid && len(l.r.Verdict.Reasons) > 0 {
			c.Notes = append(c.Notes, fmt.Sprintf("the %s run is invalid (%s): its latencies are the generator's as much as the target's", l.name, l.r.Verdict.Reasons[0]))
		}
	}
	c.warnTargets(base.Target, next.Target)
	if base.Model != next.Model {
		c.Warnings = append(c.Warnings, fmt.Sprintf("different load models (%s vs %s): a closed model waits for each answer, so its latencies leave out the queueing an open model measures; the numbers are not comparable", base.Model, next.Model))
	}
	if base.OfferedRPS != next.OfferedRPS {
		c.Notes = append(c.Notes, fmt.Sprintf("offered rates differ (%g vs %g req/s): latency depends on load", base.OfferedRPS, next.OfferedRPS))
	}
	return c
}

func loadDesc(l *result.Load) string {
	return fmt.Sprintf("%s, %g req/s offered for %gs, %d requests", l.Target, l.OfferedRPS, l.DurationS, l.Requests)
}

// Sweeps compares two sweeps: the maximum rate under the SLO (significant when the change is
// larger than both searches' precision), the knee and the recommended rate.
func Sweeps(base, next *result.Sweep, cfg Config) *Comparison {
	cfg = cfg.withDefaults()
	c := &Comparison{Kind: result.SweepSchema, Threshold: cfg.Threshold,
		BaseDesc: fmt.Sprintf("%s, SLO %s, %d steps", base.Target, base.SLO, len(base.Steps)),
		NewDesc:  fmt.Sprintf("%s, SLO %s, %d steps", next.Target, next.SLO, len(next.Steps))}
	c.warnTargets(base.Target, next.Target)
	prec := max(sweepPrecision(base), sweepPrecision(next))
	sig := Unknown
	if prec > 0 && base.MaxRPSUnderSLO > 0 {
		sig = NotSignificant
		if math.Abs(next.MaxRPSUnderSLO/base.MaxRPSUnderSLO-1) > prec {
			sig = Significant
		}
	}
	c.Rows = append(c.Rows,
		judge(Row{Metric: "max rate under SLO", Unit: "req/s", Base: base.MaxRPSUnderSLO, New: next.MaxRPSUnderSLO, HigherIsBetter: true, Ratio: true, Significance: sig}, cfg),
		judge(Row{Metric: "recommended rate", Unit: "req/s", Base: base.RecommendedRPS, New: next.RecommendedRPS, HigherIsBetter: true, Ratio: true, Significance: sig}, cfg),
		judge(Row{Metric: "knee", Unit: "req/s", Base: base.KneeRPS, New: next.KneeRPS, HigherIsBetter: true, Ratio: true, Significance: Unknown}, cfg),
		judge(Row{Metric: "peak achieved rate", Unit: "req/s", Base: base.PeakAchievedRPS, New: next.PeakAchievedRPS, HigherIsBetter: true, Ratio: true, Significance: Unknown}, cfg),
	)
	if prec > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("a maximum is known within the search precision (±%.0f %%): smaller changes are not significant", 100*prec))
	}
	if base.SLO != next.SLO {
		c.Notes = append(c.Notes, fmt.Sprintf("the SLOs differ (%s vs %s)", base.SLO, next.SLO))
	}
	if base.MaxIsLowerBound || next.MaxIsLowerBound {
		c.Notes = append(c.Notes, "a maximum is a lower bound (the generator or the rate limit stopped the search)")
	}
	return c
}

// sweepPrecision reads the search precision the sweep echoed in its config; 0 when absent
// (a fixed-steps sweep has none).
func sweepPrecision(s *result.Sweep) float64 {
	var cfg struct {
		Sweep struct {
			Precision float64 `json:"precision"`
			Steps     []float64
		} `json:"sweep"`
	}
	if len(s.Config) == 0 || json.Unmarshal(s.Config, &cfg) != nil || len(cfg.Sweep.Steps) > 0 {
		return 0
	}
	return cfg.Sweep.Precision
}

// Doctors compares two doctor runs per endpoint and condition found in both. loads holds the
// full load results of the measurements by their File names, base and new separately, when they
// could be read: then the percentiles are tested, else only shown.
func Doctors(base, next *result.Doctor, baseLoads, newLoads map[string]*result.Load, cfg Config) *Comparison {
	cfg = cfg.withDefaults()
	c := &Comparison{Kind: result.DoctorSchema, Threshold: cfg.Threshold,
		BaseDesc: fmt.Sprintf("%s, %d measurements", base.Target, len(base.Measurements)),
		NewDesc:  fmt.Sprintf("%s, %d measurements", next.Target, len(next.Measurements))}
	c.warnTargets(base.Target, next.Target)
	// A measurement is one endpoint in one condition along one path (with doctor --edge, the
	// same endpoint is measured through the edge and direct).
	type key struct {
		endpoint string
		cond     result.Condition
		path     result.Path
	}
	keyOf := func(m result.Measurement) key { return key{m.Endpoint, m.Condition, m.Path} }
	label := func(m result.Measurement) string {
		if m.Path != "" {
			return m.Endpoint + " (" + string(m.Condition) + ", " + string(m.Path) + ")"
		}
		return m.Endpoint + " (" + string(m.Condition) + ")"
	}
	nm := map[key]result.Measurement{}
	for _, m := range next.Measurements {
		nm[keyOf(m)] = m
	}
	untested := false
	for _, b := range base.Measurements {
		n, ok := nm[keyOf(b)]
		if !ok {
			c.Notes = append(c.Notes, label(b)+" is only in the base run")
			continue
		}
		delete(nm, keyOf(b))
		group := label(b)
		var bh, nh *hist.Histogram
		if bl, nl := baseLoads[b.File], newLoads[n.File]; bl != nil && nl != nil {
			bh, _ = hist.Decode(bl.Histograms.Latency)
			nh, _ = hist.Decode(nl.Histograms.Latency)
		}
		if bh == nil || nh == nil {
			bh, nh, untested = nil, nil, true
		}
		for _, r := range latencyRows(group, b.LatencyMS, n.LatencyMS, bh, nh, cfg) {
			if r.Metric == "p50" || r.Metric == "p99" {
				c.Rows = append(c.Rows, r)
			}
		}
		c.Rows = append(c.Rows, errorRow(group, b.Errors, b.Requests, n.Errors, n.Requests, cfg))
	}
	for _, m := range next.Measurements {
		if _, ok := nm[keyOf(m)]; ok {
			c.Notes = append(c.Notes, label(m)+" is only in the new run")
		}
	}
	if untested {
		c.Notes = append(c.Notes, "some load results beside the doctor reports were missing: their percentiles are shown, not tested")
	}
	return c
}
