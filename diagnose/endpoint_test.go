package diagnose

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// pathTrace has overlapping children, a producer whose consumer runs after the request, and a
// child that ends after its parent.
func pathTrace(id string) *Trace {
	return trace(id, "/api/orders", 100,
		query("a", "SELECT * FROM orders WHERE id = 7", 1, 30),
		call("b", "GET", "http://stock.internal/items/42", 20, 60),
		sp{id: "p", parent: "h", name: "orders publish", kind: KindProducer, start: 60, end: 70, attrs: []string{"messaging.system", "nats"}},
		sp{id: "c", parent: "p", name: "orders process", kind: KindConsumer, start: 70, end: 200, attrs: []string{"messaging.system", "nats"}},
		sp{id: "d", parent: "h", name: "GET", kind: KindClient, start: 90, end: 150, attrs: []string{"db.system", "redis", "db.statement", "GET k"}},
	)
}

func TestEndpointProfileAndCriticalPath(t *testing.T) {
	t.Parallel()
	f := Diagnose([]*Trace{pathTrace("t1")}, Config{})
	if len(f.Endpoints) != 1 {
		t.Fatalf("endpoints = %+v", f.Endpoints)
	}
	ep := f.Endpoints[0]
	got := map[string]float64{}
	total := 0.0
	for _, s := range ep.CriticalPath {
		got[s.Category+" "+s.Operation] += s.MS
		total += s.MS
	}
	want := map[string]float64{
		"cache GET k":      9.5, // clamped to the handler's end at 99.5
		"internal handler": 20.5, "queue orders publish": 10,
		"http GET http://stock.internal/items/{id}": 40,
		"db SELECT * FROM orders WHERE id = ?":      19, // only the part before the HTTP call started
		"internal GET /api/orders":                  1,
	}
	for k, v := range want {
		if math.Abs(got[k]-v) > 0.01 {
			t.Errorf("critical path %q = %.2f ms, want %.2f (all: %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["queue orders process"]; ok {
		t.Errorf("the consumer of a producer is on the critical path: %v", got)
	}
	if math.Abs(total-100) > 0.01 {
		t.Errorf("critical path sums to %.2f ms, want the request's 100", total)
	}
	// Self time: the consumer's 130 ms is asynchronous and not counted; the overlap of the query
	// and the HTTP call counts for both.
	if ep.SelfTimeMS["queue"] != 10 || ep.SelfTimeMS["db"] != 29 || ep.SelfTimeMS["http"] != 40 || ep.SelfTimeMS["cache"] != 9.5 {
		t.Errorf("self time = %v", ep.SelfTimeMS)
	}
	if ep.Count != 1 || ep.P99MS != 100 {
		t.Errorf("profile = %+v", ep)
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	var trs []*Trace
	for i := 1; i <= 100; i++ {
		trs = append(trs, trace(fmt.Sprint("t", i), "/x", float64(i)))
	}
	ep := Diagnose(trs, Config{}).Endpoints[0]
	if ep.Count != 100 || ep.P50MS != 50 || ep.P90MS != 90 || ep.P99MS != 99 || ep.MeanMS != 50.5 {
		t.Errorf("profile = %+v; want count 100, p50 50, p90 90, p99 99, mean 50.5", ep)
	}
}

// TestTailVsMedian: 19 requests of ~40 ms spend their time in one query; the slow ones also wait
// 150 ms on a cache call. The comparison must name the cache call, not the query.
func TestTailVsMedian(t *testing.T) {
	t.Parallel()
	var trs []*Trace
	for i := range 20 {
		end := 40.0 + float64(i%5)
		kids := []sp{query("q", "SELECT * FROM posts LIMIT 20", 1, 31)}
		if i >= 18 {
			end = 200
			kids = append(kids, sp{id: "k", parent: "h", name: "GET", kind: KindClient, start: 31, end: 181,
				attrs: []string{"db.system.name", "redis", "db.query.text", "GET feed:1"}})
		}
		trs = append(trs, trace(fmt.Sprintf("t%02d", i), "/api/feed", end, kids...))
	}
	f := Diagnose(trs, Config{TailTraceIDs: []string{"t18", "t19", "t03"}})
	if len(f.TailVsMedian) != 1 {
		t.Fatalf("tail_vs_median = %+v", f.TailVsMedian)
	}
	tc := f.TailVsMedian[0]
	if strings.Join(tc.TailTraceIDs, ",") != "t19,t18" {
		t.Errorf("tail = %v, want the slowest exemplars at or above P90 (t19, t18)", tc.TailTraceIDs)
	}
	if len(tc.OverRepresented) == 0 || tc.OverRepresented[0].Category != "cache" || tc.OverRepresented[0].DeltaMS != 150 {
		t.Fatalf("over-represented = %+v, want cache first with +150 ms", tc.OverRepresented)
	}
	for _, c := range tc.OverRepresented {
		if c.Category == "db" {
			t.Errorf("db is as large at the median as in the tail, yet listed: %+v", c)
		}
	}
	if !strings.Contains(tc.Summary, "over-represented in the tail: cache +150.0 ms") {
		t.Errorf("summary = %q", tc.Summary)
	}
}

// TestBackgroundTracesAreNoEndpoint: next to traces that requests started, a trace whose root is
// a client span (a poller's query) is counted as background, not profiled as an endpoint; alone,
// such traces are all there is and stay endpoints.
func TestBackgroundTracesAreNoEndpoint(t *testing.T) {
	t.Parallel()
	poll := mk("bg", sp{id: "q", name: "SELECT outbox", kind: KindClient, start: 0, end: 1,
		attrs: []string{"db.system", "sqlite", "db.statement", "SELECT id FROM outbox WHERE sent_at IS NULL"}})
	f := Diagnose([]*Trace{pathTrace("t1"), poll}, Config{})
	if len(f.Endpoints) != 1 || f.Endpoints[0].Endpoint != "GET /api/orders" || f.Input.Background != 1 {
		t.Errorf("endpoints %+v, background %d: want only GET /api/orders and 1 background trace", f.Endpoints, f.Input.Background)
	}
	if f := Diagnose([]*Trace{poll}, Config{}); len(f.Endpoints) != 1 || f.Input.Background != 0 {
		t.Errorf("alone: endpoints %+v, background %d: want the one trace profiled", f.Endpoints, f.Input.Background)
	}
}
