package slo_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr string
		want []slo.Clause
	}{
		{"p99<200ms", []slo.Clause{{Expr: "p99<200ms", Metric: "p99", Quantile: 0.99, Op: "<", Threshold: 200, Unit: "ms"}}},
		{"p99<200ms, p99.9<=1s,errors<0.1%", []slo.Clause{
			{Expr: "p99<200ms", Metric: "p99", Quantile: 0.99, Op: "<", Threshold: 200, Unit: "ms"},
			{Expr: "p99.9<=1s", Metric: "p99.9", Quantile: 0.999, Op: "<=", Threshold: 1000, Unit: "ms"},
			{Expr: "errors<0.1%", Metric: "errors", Op: "<", Threshold: 0.1, Unit: "%"},
		}},
		{"P50 < 500us", []slo.Clause{{Expr: "P50 < 500us", Metric: "p50", Quantile: 0.5, Op: "<", Threshold: 0.5, Unit: "ms"}}},
		{"mean<50ms,max<2s", []slo.Clause{
			{Expr: "mean<50ms", Metric: "mean", Op: "<", Threshold: 50, Unit: "ms"},
			{Expr: "max<2s", Metric: "max", Op: "<", Threshold: 2000, Unit: "ms"},
		}},
		{"rps>=500", []slo.Clause{{Expr: "rps>=500", Metric: "rps", Op: ">=", Threshold: 500, Unit: "rps"}}},
	} {
		got, err := slo.Parse(tc.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		if len(got.Clauses) != len(tc.want) {
			t.Errorf("Parse(%q) = %d clauses, want %d", tc.expr, len(got.Clauses), len(tc.want))
			continue
		}
		for i := range tc.want {
			g, w := got.Clauses[i], tc.want[i]
			if g.Expr != w.Expr || g.Metric != w.Metric || g.Op != w.Op || g.Unit != w.Unit ||
				!near(g.Threshold, w.Threshold) || !near(g.Quantile, w.Quantile) {
				t.Errorf("Parse(%q) clause %d = %+v, want %+v", tc.expr, i, g, w)
			}
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestParseErrorsNameTheBadValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ expr, mention string }{
		{"", "empty"},
		{"p99", "no comparison"},
		{"p99<", "missing value"},
		{"p99<fast", `"fast"`},
		{"p99<-5ms", `"-5ms"`},
		{"p101<1s", `"p101"`},
		{"pxx<1s", `"pxx"`},
		{"latency<1s", `"latency"`},
		{"errors<0.1", `"0.1"`},
		{"errors<150%", `"150%"`},
		{"rps>lots", `"lots"`},
		{"p99<200ms,,", "no comparison"},
	} {
		_, err := slo.Parse(tc.expr)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", tc.expr)
			continue
		}
		if !errors.Is(err, slo.ErrSyntax) || !strings.Contains(err.Error(), tc.mention) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) error = %q: want one line wrapping ErrSyntax and mentioning %s", tc.expr, err, tc.mention)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	h := hist.New()
	for i := 1; i <= 1000; i++ { // 1..1000 ms
		h.Record(time.Duration(i) * time.Millisecond)
	}
	enc, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	l := &result.Load{
		Requests: 1000, Errors: 2, AchievedRPS: 400,
		LatencyMS:  result.Summarize(h),
		Histograms: result.Histograms{Latency: enc},
		Verdict:    result.Verdict{Valid: true},
	}
	for _, tc := range []struct {
		expr string
		pass bool
	}{
		{"p99<995ms", true},
		{"p99<985ms", false},
		{"p75<751ms", true}, // any percentile, read from the histogram
		{"p75<740ms", false},
		{"errors<0.3%", true},
		{"errors<0.2%", false},
		{"errors<=0.2%", true},
		{"rps>=400", true},
		{"rps>400", false},
		{"max<1s", false},
		{"mean<501ms", true},
		{"p50<600ms,errors<0.1%", false},
	} {
		obj, err := slo.Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		got := obj.Check(l)
		if got.Pass != tc.pass {
			t.Errorf("%s: pass = %v, want %v (checks %+v)", tc.expr, got.Pass, tc.pass, got.Checks)
		}
	}
}

// TestNeverPassesOnARunThatProvesNothing: an invalid run, or one in which no request succeeded,
// fails every objective, however good its numbers, and says why.
func TestNeverPassesOnARunThatProvesNothing(t *testing.T) {
	t.Parallel()
	obj, err := slo.Parse("p99<100ms")
	if err != nil {
		t.Fatal(err)
	}
	fast := result.Summary{P99: 1}
	for _, tc := range []struct {
		name    string
		l       result.Load
		pass    bool
		mention string
	}{
		{"valid and answered", result.Load{Requests: 100, LatencyMS: fast, Verdict: result.Verdict{Valid: true}}, true, ""},
		{"nothing measured", result.Load{Verdict: result.Verdict{Reasons: []string{"no request was measured"}}}, false, "not judged: the run is invalid (no request was measured)"},
		{"every answer a 500", result.Load{Requests: 100, Errors: 100, LatencyMS: fast, Verdict: result.Verdict{Valid: true}}, false, "no request succeeded (100 of 100 failed)"},
		{"every request timed out", result.Load{Requests: 50, Errors: 50, Verdict: result.Verdict{Reasons: []string{"no request was answered: timed out ×50"}}}, false, "timed out ×50"},
	} {
		got := obj.Check(&tc.l)
		if got.Pass != tc.pass || !strings.Contains(got.Reason, tc.mention) {
			t.Errorf("%s: pass %v, reason %q; want pass %v, reason mentioning %q", tc.name, got.Pass, got.Reason, tc.pass, tc.mention)
		}
	}
}

func TestWithErrorBudget(t *testing.T) {
	t.Parallel()
	obj, err := slo.Parse("p99<100ms")
	if err != nil {
		t.Fatal(err)
	}
	l := &result.Load{Requests: 1000, Errors: 5, LatencyMS: result.Summary{P99: 1}, Verdict: result.Verdict{Valid: true}}
	got := obj.WithErrorBudget(0.1).Check(l)
	if got.Pass || len(got.Checks) != 2 || !got.Checks[1].Implicit || got.Checks[1].Expr != "errors<=0.1%" || got.Checks[1].Pass {
		t.Errorf("0.5%% errors against an implicit 0.1%% budget: %+v, want the implicit check errors<=0.1%% to fail", got)
	}
	if len(obj.Clauses) != 1 {
		t.Errorf("WithErrorBudget changed the objective it was called on: %+v", obj.Clauses)
	}
	own, err := slo.Parse("p99<100ms,errors<1%")
	if err != nil {
		t.Fatal(err)
	}
	if got := own.WithErrorBudget(0.1).Check(l); !got.Pass || len(got.Checks) != 2 {
		t.Errorf("an SLO with its own errors clause: %+v, want it alone to judge errors", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"p99<200ms", "p99<200ms,p99.9<1s,errors<0.1%", "rps>=5", "mean<=1s", "p<1", "errors<%", ">", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		obj, err := slo.Parse(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error for %q", s)
			}
			return
		}
		for _, c := range obj.Clauses {
			if c.Threshold < 0 || c.Threshold != c.Threshold {
				t.Fatalf("Parse(%q) accepted threshold %v", s, c.Threshold)
			}
		}
		obj.Check(&result.Load{}) // must not panic on an empty result
	})
}
