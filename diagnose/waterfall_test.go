package diagnose

import (
	"testing"
	"time"
)

func TestWaterfall(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// root 0–100 ms: a remote call 10–90 that the request waits for and, inside its window, a
	// concurrent query 20–30 that finishes first: the query is off the critical path.
	tr := &Trace{ID: "t1", Spans: []*Span{
		{TraceID: "t1", SpanID: "c", ParentID: "r", Name: "POST logsink", Kind: KindClient, Start: at(10), End: at(90)},
		{TraceID: "t1", SpanID: "r", Name: "GET /api/posts", Kind: KindServer, Start: at(0), End: at(100), Attrs: map[string]string{"http.route": "/api/posts", "http.request.method": "GET"}},
		{TraceID: "t1", SpanID: "q", ParentID: "r", Name: "SELECT posts", Kind: KindClient, Start: at(20), End: at(30), Attrs: map[string]string{"db.statement": "SELECT * FROM posts"}},
	}}
	v := Waterfall(tr)
	if v == nil || len(v.Spans) != 3 {
		t.Fatalf("waterfall %+v, want 3 spans", v)
	}
	if v.DurationMS != 100 {
		t.Errorf("duration %v ms, want 100", v.DurationMS)
	}
	want := []struct {
		id       string
		depth    int
		start    float64
		critical bool
	}{{"r", 0, 0, true}, {"c", 1, 10, true}, {"q", 1, 20, false}}
	for i, w := range want {
		s := v.Spans[i]
		if s.SpanID != w.id || s.Depth != w.depth || s.StartMS != w.start || s.Critical != w.critical {
			t.Errorf("span %d = %+v, want id %s depth %d start %v critical %v", i, s, w.id, w.depth, w.start, w.critical)
		}
	}
	if Waterfall(&Trace{ID: "x"}) != nil {
		t.Error("a trace without a root has no waterfall")
	}
}
