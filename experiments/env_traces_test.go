package experiments

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/result"
)

// otlpTrace is one OTLP/JSON export request: a server span serving path, started at start and
// lasting 10 ms, with queries database spans of 2 ms each, one after the other.
func otlpTrace(n int, path string, start time.Time, queries int) string {
	ns := func(t time.Time) string { return fmt.Sprintf("%q", fmt.Sprint(t.UnixNano())) }
	traceID := fmt.Sprintf("%032x", n+1)
	spans := []string{fmt.Sprintf(`{"traceId":%q,"spanId":"%016x","parentSpanId":"00000000000000ff","name":"GET %s","kind":2,`+
		`"startTimeUnixNano":%s,"endTimeUnixNano":%s,"attributes":[{"key":"url.path","value":{"stringValue":%q}},`+
		`{"key":"http.route","value":{"stringValue":%q}},{"key":"http.request.method","value":{"stringValue":"GET"}}]}`,
		traceID, 1, path, ns(start), ns(start.Add(10*time.Millisecond)), path, path)}
	for q := range queries {
		s := start.Add(time.Duration(q*2) * time.Millisecond)
		spans = append(spans, fmt.Sprintf(`{"traceId":%q,"spanId":"%016x","parentSpanId":"%016x","name":"SELECT","kind":3,`+
			`"startTimeUnixNano":%s,"endTimeUnixNano":%s,"attributes":[{"key":"db.system.name","value":{"stringValue":"sqlite"}},`+
			`{"key":"db.query.text","value":{"stringValue":"SELECT * FROM users WHERE id = ?"}}]}`,
			traceID, q+2, 1, ns(s), ns(s.Add(2*time.Millisecond))))
	}
	return `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"lab"}}]},` +
		`"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}`
}

// TestDiagnoseReadsARunsTraces: traces exported to the experiment's receiver are selected by
// the run's path and window, counted and diagnosed into the measurement LOAD/traces; a run whose
// traces did not arrive is an invalid measurement saying so.
func TestDiagnoseReadsARunsTraces(t *testing.T) {
	t.Parallel()
	e := &Env{name: "t", x: &result.Experiment{}}
	url, err := e.OTLP(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.stopTraces)
	e.traces.wait = 3 * time.Second
	now := time.Now().Add(-time.Second) // the window ends when noteLoad is called
	for i, tr := range []string{
		otlpTrace(0, "/api/posts", now, 6),
		otlpTrace(1, "/api/posts", now.Add(100*time.Millisecond), 6),
		otlpTrace(2, "/api/posts", now.Add(200*time.Millisecond), 6),
		otlpTrace(3, "/api/posts", now.Add(-time.Minute), 1),              // before the window
		otlpTrace(4, "/admin/antipatterns", now.Add(time.Millisecond), 0), // another path
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/traces", bytes.NewBufferString(tr))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("trace %d: %s", i, resp.Status)
		}
	}
	e.noteLoad(Load{Name: "run", Path: "/api/posts?limit=5", Duration: 2 * time.Second}, &result.Load{StartedAt: now.Add(-time.Second), Requests: 3})
	e.noteLoad(Load{Name: "lost", Path: "/api/feed", Duration: 2 * time.Second}, &result.Load{StartedAt: now.Add(-time.Second), Requests: 3})
	tr, err := e.Diagnose(t.Context(), "run", diagnose.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := NewMeasured(e.x.Measurements, nil).Get("run/traces")
	v := m.Values
	if tr.Traces != 3 || v["traces"] != 3 || v["coverage"] != 1 || v["queries_per_request"] != 6 || v["queries_max"] != 6 || !m.Valid {
		t.Errorf("run/traces: %+v valid %v; want 3 traces of 6 queries, all requests covered", v, m.Valid)
	}
	// 6 queries of 2 ms in a 10 ms request: 10 ms of database time (sequential, 12 ms clamped to
	// the request), each within 0.1 ms.
	if math.Abs(v["mean_ms"]-10) > 0.1 || v["self_ms.db"] < 9.9 {
		t.Errorf("run/traces: mean %.2f ms, database %.2f ms; want 10 ms, nearly all database", v["mean_ms"], v["self_ms.db"])
	}
	if v["finding.n_plus_one_db"] != 1 {
		t.Errorf("6 repeated queries: n_plus_one_db not the first finding: %+v", v)
	}
	if _, err := e.Diagnose(t.Context(), "lost", diagnose.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	lost, _ := NewMeasured(e.x.Measurements, nil).Get("lost/traces")
	if lost.Valid || len(lost.InvalidReasons) == 0 || !strings.Contains(lost.InvalidReasons[0], "only 0 of 3 requests") {
		t.Errorf("lost/traces: valid %v %q; want invalid, saying 0 of 3 arrived", lost.Valid, lost.InvalidReasons)
	}
	if _, err := e.Diagnose(t.Context(), "nope", diagnose.DefaultConfig()); err == nil {
		t.Error("diagnose of a run that did not happen: no error")
	}
}

func TestKindsByRank(t *testing.T) {
	t.Parallel()
	got := kindsByRank(map[string]float64{"finding.slow_query": 2, "finding.sync_remote_call": 1, "share_of_p99.slow_query": 0.3, "traces": 9})
	if strings.Join(got, ",") != "sync_remote_call,slow_query" {
		t.Errorf("kindsByRank: %v", got)
	}
}

func TestLinearFit(t *testing.T) {
	t.Parallel()
	slope, icpt, r2 := linearFit([]float64{11, 21, 51, 101}, []float64{60, 110, 260, 510})
	if math.Abs(slope-5) > 1e-9 || math.Abs(icpt-5) > 1e-9 || math.Abs(r2-1) > 1e-9 {
		t.Errorf("a line: slope %v intercept %v R² %v", slope, icpt, r2)
	}
	if _, _, r2 := linearFit([]float64{1, 2, 3, 4}, []float64{1, 10, 1, 10}); r2 > 0.5 {
		t.Errorf("zig-zag: R² %v", r2)
	}
}

func TestParseNs(t *testing.T) {
	t.Parallel()
	if ns, err := parseNs("50, 10,10"); err != nil || fmt.Sprint(ns) != "[10 50]" {
		t.Errorf("parseNs: %v %v", ns, err)
	}
	for _, bad := range []string{"0", "101", "ten", "10,,20"} {
		if _, err := parseNs(bad); err == nil || !strings.Contains(err.Error(), "1 to 100") {
			t.Errorf("parseNs(%q): %v", bad, err)
		}
	}
}

// FuzzParseNs: any text is refused with an error or read as sorted, distinct Ns from 1 to 100.
func FuzzParseNs(f *testing.F) {
	for _, s := range []string{"10,20,50,100", "50, 10,10", "0", "101", "ten", "10,,20", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := parseNs(s)
		if err != nil {
			return
		}
		for i, n := range ns {
			if n < 1 || n > 100 || i > 0 && n <= ns[i-1] {
				t.Fatalf("parseNs(%q) = %v", s, ns)
			}
		}
	})
}
