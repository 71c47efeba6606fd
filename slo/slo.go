// Package slo parses service level objectives such as "p99<200ms,errors<0.1%" and checks them
// against a load result. Parsing and checking are pure functions.
package slo

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/result"
)

// ErrSyntax is returned (wrapped) for an expression that does not parse.
var ErrSyntax = errors.New("bad SLO")

// Objective is a parsed SLO: every clause must hold. The zero value has no clauses and always passes.
type Objective struct {
	Expr    string
	Clauses []Clause
}

// ErrorBudgetDefault is the error budget, in percent of requests, that load gives an SLO without
// an errors clause (WithErrorBudget); sweep's default for a passing step is the same.
const ErrorBudgetDefault = 0.1

// WithErrorBudget returns o with an implicit clause errors<=pct% when o has no errors clause; o
// unchanged otherwise. Latency percentiles count every request, failed ones with the time they
// took to fail, so a target failing fast would pass a latency objective by its errors alone: an
// objective about latency is also one about errors.
func (o Objective) WithErrorBudget(pct float64) Objective {
	for _, c := range o.Clauses {
		if c.Metric == "errors" {
			return o
		}
	}
	o.Clauses = append(slices.Clip(o.Clauses), Clause{
		Expr: fmt.Sprintf("errors<=%g%%", pct), Metric: "errors", Op: "<=", Threshold: pct, Unit: "%", Implicit: true,
	})
	return o
}

// Clause is one comparison, such as p99<200ms.
type Clause struct {
	Expr   string
	Metric string // "p<N>" (latency percentile), "mean", "max", "errors" (% of requests), "rps" (achieved)
	// Quantile is the fraction for a percentile metric (0.99 for p99).
	Quantile  float64
	Op        string  // "<", "<=", ">", ">="
	Threshold float64 // ms for latency metrics, % for errors, requests/s for rps
	Unit      string  // "ms", "%", "rps"
	// Implicit marks the clause WithErrorBudget added.
	Implicit bool
}

const validForm = `want clauses like p99<200ms, p99.9<=1s, mean<50ms, max<2s, errors<0.1%, rps>=500, joined by commas`

// Parse reads an expression of comma-separated clauses "METRIC OP VALUE".
func Parse(expr string) (Objective, error) {
	obj := Objective{Expr: expr}
	if strings.TrimSpace(expr) == "" {
		return obj, fmt.Errorf("%w: empty expression: %s", ErrSyntax, validForm)
	}
	for part := range strings.SplitSeq(expr, ",") {
		c, err := parseClause(strings.TrimSpace(part))
		if err != nil {
			return Objective{}, err
		}
		obj.Clauses = append(obj.Clauses, c)
	}
	return obj, nil
}

func parseClause(s string) (Clause, error) {
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return Clause{}, fmt.Errorf("%w %q: no comparison (< <= > >=): %s", ErrSyntax, s, validForm)
	}
	c := Clause{Expr: s, Metric: strings.ToLower(strings.TrimSpace(s[:i])), Op: s[i : i+1]}
	rest := s[i+1:]
	if strings.HasPrefix(rest, "=") {
		c.Op += "="
		rest = rest[1:]
	}
	val := strings.TrimSpace(rest)
	if val == "" {
		return Clause{}, fmt.Errorf("%w %q: missing value after %s: %s", ErrSyntax, s, c.Op, validForm)
	}
	switch {
	case c.Metric == "errors":
		num, ok := strings.CutSuffix(val, "%")
		f, err := strconv.ParseFloat(num, 64)
		if !ok || err != nil || f < 0 || f > 100 {
			return Clause{}, fmt.Errorf("%w %q: error rate %q: want a percentage between 0%% and 100%%, such as 0.1%%", ErrSyntax, s, val)
		}
		c.Threshold, c.Unit = f, "%"
	case c.Metric == "rps":
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || f < 0 || isNaNOrInf(f) {
			return Clause{}, fmt.Errorf("%w %q: rate %q: want a number of requests per second, such as 500", ErrSyntax, s, val)
		}
		c.Threshold, c.Unit = f, "rps"
	case c.Metric == "mean" || c.Metric == "max" || strings.HasPrefix(c.Metric, "p"):
		if strings.HasPrefix(c.Metric, "p") && c.Metric != "p" {
			q, err := strconv.ParseFloat(c.Metric[1:], 64)
			if err != nil || q <= 0 || q > 100 || isNaNOrInf(q) {
				return Clause{}, fmt.Errorf("%w %q: percentile %q: want p followed by a number in (0, 100], such as p99 or p99.9", ErrSyntax, s, c.Metric)
			}
			c.Quantile = q / 100
		} else if c.Metric != "mean" && c.Metric != "max" {
			return Clause{}, fmt.Errorf("%w %q: unknown metric %q: %s", ErrSyntax, s, c.Metric, validForm)
		}
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return Clause{}, fmt.Errorf("%w %q: latency %q: want a positive duration such as 200ms, 1.5s or 500us", ErrSyntax, s, val)
		}
		c.Threshold, c.Unit = float64(d)/float64(time.Millisecond), "ms"
	default:
		return Clause{}, fmt.Errorf("%w %q: unknown metric %q: %s", ErrSyntax, s, c.Metric, validForm)
	}
	return c, nil
}

func isNaNOrInf(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }

// Check evaluates the objective on a load result. Latency percentiles are read from the full
// histogram (measured from the intended send time), so any percentile is exact to its precision;
// they count every request, failed ones with the time they took to fail (see WithErrorBudget).
// An objective never passes on a run that proves nothing: an invalid one (its verdict), or one
// in which no request succeeded; Reason then says which, and the checks are still reported.
func (o Objective) Check(l *result.Load) *result.SLO {
	out := &result.SLO{Expr: o.Expr, Pass: true, Checks: []result.Check{}}
	lat, _ := hist.Decode(l.Histograms.Latency) // nil when absent: fall back to the summary
	for _, c := range o.Clauses {
		actual := c.actual(l, lat)
		pass := compare(actual, c.Op, c.Threshold)
		out.Pass = out.Pass && pass
		out.Checks = append(out.Checks, result.Check{
			Expr: c.Expr, Metric: c.Metric, Op: c.Op, Threshold: c.Threshold, Actual: actual, Unit: c.Unit, Pass: pass, Implicit: c.Implicit,
		})
	}
	switch {
	case !l.Verdict.Valid:
		out.Reason = "not judged: the run is invalid"
		if len(l.Verdict.Reasons) > 0 {
			out.Reason += " (" + l.Verdict.Reasons[0] + ")"
		}
	case l.Requests <= l.Errors:
		out.Reason = fmt.Sprintf("no request succeeded (%d of %d failed)", l.Errors, l.Requests)
	}
	if out.Reason != "" {
		out.Pass = false
	}
	return out
}

func (c Clause) actual(l *result.Load, lat *hist.Histogram) float64 {
	switch c.Metric {
	case "errors":
		if l.Requests == 0 {
			return 0
		}
		return 100 * float64(l.Errors) / float64(l.Requests)
	case "rps":
		return l.AchievedRPS
	case "mean":
		return l.LatencyMS.Mean
	case "max":
		return l.LatencyMS.Max
	}
	if lat != nil {
		return float64(lat.Quantile(c.Quantile)) / float64(time.Millisecond)
	}
	switch c.Quantile {
	case 0.5:
		return l.LatencyMS.P50
	case 0.9:
		return l.LatencyMS.P90
	case 0.95:
		return l.LatencyMS.P95
	case 0.99:
		return l.LatencyMS.P99
	case 0.999:
		return l.LatencyMS.P999
	}
	return math.NaN() // unknowable without the histogram: the check fails

}

func compare(actual float64, op string, threshold float64) bool {
	switch op {
	case "<":
		return actual < threshold
	case "<=":
		return actual <= threshold
	case ">":
		return actual > threshold
	default:
		return actual >= threshold
	}
}
