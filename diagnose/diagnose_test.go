package diagnose

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"SELECT * FROM users WHERE id = 42", "SELECT * FROM users WHERE id = ?"},
		{"SELECT * FROM users WHERE name = 'o''brien'", "SELECT * FROM users WHERE name = ?"},
		{"SELECT * FROM users WHERE id IN (1, 2,3)", "SELECT * FROM users WHERE id IN (?)"},
		{"SELECT *  FROM t2 WHERE id = $1", "SELECT * FROM t2 WHERE id = ?"},
		{"select 1.5", "select ?"},
		{"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'),(3,'z')", "INSERT INTO t (a, b) VALUES (?, ?), ..."},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var t0 = time.Unix(1_700_000_000, 0)

// fixture builds a trace: a root GET /api/posts of rootMS with n queries of eachMS under one
// handler span, sequential (gap between starts) or concurrent, with a noise span between repeats.
func fixture(id string, rootMS, n, eachMS int, concurrent bool) *Trace {
	ms := func(v int) time.Time { return t0.Add(time.Duration(v) * time.Millisecond) }
	tr := &Trace{ID: id}
	tr.Spans = append(tr.Spans,
		&Span{TraceID: id, SpanID: "r", Name: "GET", Start: ms(0), End: ms(rootMS),
			Attrs: map[string]string{"http.route": "/api/posts", "http.request.method": "GET"}},
		&Span{TraceID: id, SpanID: "h", ParentID: "r", Name: "handler", Start: ms(1), End: ms(rootMS - 1), Attrs: map[string]string{}})
	at := 2
	for i := range n {
		tr.Spans = append(tr.Spans, &Span{TraceID: id, SpanID: fmt.Sprint("q", i), ParentID: "h", Name: "query",
			Start: ms(at), End: ms(at + eachMS),
			Attrs: map[string]string{"db.system.name": "postgresql", "db.query.text": fmt.Sprintf("SELECT name FROM users WHERE id = %d", i)}})
		tr.Spans = append(tr.Spans, &Span{TraceID: id, SpanID: fmt.Sprint("n", i), ParentID: "h", Name: "sql.conn.reset",
			Start: ms(at), End: ms(at), Attrs: map[string]string{}})
		if !concurrent {
			at += eachMS
		}
	}
	return tr
}

func TestNPlusOneDB(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		traces    []*Trace
		wantFound bool
		wantCount int
		wantLow   bool // found below NPlusOneMinTotal: low severity, with a what-if
	}{
		{"sequential 20x", []*Trace{fixture("a1", 100, 20, 3, false)}, true, 20, false},
		{"concurrent repeats", []*Trace{fixture("a2", 100, 10, 60, true)}, true, 10, false},
		{"near miss: 4 repeats", []*Trace{fixture("a3", 300, 4, 50, false)}, false, 0, false},
		{"low: 49ms total", []*Trace{fixture("a4", 100, 7, 7, false)}, true, 7, true},
		{"low: concurrent union under 50ms", []*Trace{fixture("a5", 100, 10, 20, true)}, true, 10, true},
		{"low: 20 sub-millisecond queries", []*Trace{fixture("a6", 3, 20, 0, false)}, true, 20, true},
		{"above the floor in one trace: not low", []*Trace{fixture("a7", 100, 20, 3, false), fixture("a8", 3, 20, 0, false)}, true, 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Diagnose(tc.traces, Config{})
			if !tc.wantFound {
				if len(got.Findings) != 0 {
					t.Fatalf("want no finding, got %+v", got.Findings)
				}
				return
			}
			if len(got.Findings) != 1 {
				t.Fatalf("want 1 finding, got %+v", got.Findings)
			}
			f := got.Findings[0]
			if f.Kind != "n_plus_one_db" || f.Endpoint != "GET /api/posts" || f.Evidence.Count != tc.wantCount ||
				f.Evidence.Statement != "SELECT name FROM users WHERE id = ?" || f.EstimatedSavingMS < 0 || f.EstimatedSavingMS > f.Evidence.TotalMS {
				t.Errorf("unexpected finding %+v", f)
			}
			if low := f.Severity == result.SeverityLow; low != tc.wantLow {
				t.Errorf("severity %q, want low = %v", f.Severity, tc.wantLow)
			}
			whatIf := fmt.Sprintf("%d queries per request; at 1 ms per round trip this is +%d ms", tc.wantCount, tc.wantCount)
			if tc.wantLow && (f.Evidence.WhatIfMS != float64(tc.wantCount) || !strings.Contains(f.Summary, whatIf)) {
				t.Errorf("low finding lacks the what-if %q: %+v", whatIf, f)
			}
			if !tc.wantLow && (f.Evidence.WhatIfMS != 0 || len(f.Evidence.TraceIDs) != 1 || f.Evidence.TraceIDs[0] != tc.traces[0].ID) {
				t.Errorf("finding from the trace above the floor has a what-if or other evidence: %+v", f)
			}
		})
	}
}

func TestPreferTraceIDs(t *testing.T) {
	t.Parallel()
	trs := []*Trace{fixture("a", 100, 20, 3, false), fixture("b", 90, 20, 3, false), fixture("c", 80, 20, 3, false)}
	got := Diagnose(trs, Config{PreferTraceIDs: []string{"zz", "c"}, MaxEvidence: 2})
	if ids := strings.Join(got.Findings[0].Evidence.TraceIDs, ","); ids != "c,a" {
		t.Errorf("evidence = %s, want c,a (preferred first, then slowest)", ids)
	}
}

const line = `{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{},"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","parentSpanId":"","name":"GET /x","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000050000000","attributes":[{"key":"http.route","value":{"stringValue":"/x"}},{"key":"n","value":{"intValue":"3"}}],"status":{}}]}]}]}`

func TestReadJSONL(t *testing.T) {
	t.Parallel()
	trs, err := ReadJSONL(strings.NewReader(line + "\n\n" + line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 1 || len(trs[0].Spans) != 1 || trs[0].Spans[0].Duration() != 50*time.Millisecond ||
		trs[0].Spans[0].Attrs["n"] != "3" || trs[0].Spans[0].Kind != KindServer || Endpoint(trs[0]) != "/x" {
		t.Fatalf("unexpected %+v", trs)
	}
	if _, err := ReadJSONL(strings.NewReader("garbage\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("garbage: err = %v, want one naming line 1", err)
	}
}

func FuzzReadJSONL(f *testing.F) {
	f.Add(line)
	f.Add("{}")
	f.Add(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"a","spanId":"b","startTimeUnixNano":"x"}]}]}]}`)
	f.Add(edgeLines("0000000000000000000000000000000a", 1_700_000_000_000_000_000) + edgeLines("0000000000000000000000000000000b", 1_700_000_001_000_000_000))
	for _, tc := range badInput {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in, err := Read(strings.NewReader(s), ReadConfig{MaxLineBytes: 1 << 12, MaxAttrBytes: 64, MaxSpans: 1000})
		if err != nil {
			return
		}
		if in.Spans > 1000 {
			t.Fatalf("%d spans kept, over the limit of 1000", in.Spans)
		}
		f := Analyze(in, Config{})
		for _, x := range f.Findings {
			if x.ShareOfP99 < 0 || x.ShareOfP99 > 1 || x.EstimatedSavingMS < 0 {
				t.Fatalf("finding out of range: %+v", x)
			}
		}
	})
}

func TestSlowQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		eachMS int
		want   int
	}{
		{"600ms query fires", 600, 1},
		{"near miss: 499ms", 499, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Diagnose([]*Trace{fixture("s", tc.eachMS+10, 1, tc.eachMS, false)}, Config{})
			if len(got.Findings) != tc.want {
				t.Fatalf("want %d findings, got %+v", tc.want, got.Findings)
			}
			if tc.want == 1 && (got.Findings[0].Kind != "slow_query" || got.Findings[0].EstimatedSavingMS != float64(tc.eachMS-500)) {
				t.Errorf("unexpected %+v", got.Findings[0])
			}
		})
	}
}
