package diagnose

import (
	"fmt"
	"maps"
	"math"
	"strings"
	"testing"

	"github.com/headroom/headroom/result"
)

// The spans of the edge tier as the contract (issue 21) names them: the edge node's server span,
// its function spans, its origin fetch and, as the fetch's child, the origin's server span.

// edgeSrv is the edge node's server span of a request answeredBy (edge.answered_by) that ends
// at end ms; attrs add to or override the defaults.
func edgeSrv(method, path string, end float64, answeredBy string, attrs ...string) sp {
	hit := "false"
	if answeredBy == "cache" {
		hit = "true"
	}
	return sp{id: "e", name: "edge " + method + " " + path, kind: KindServer, start: 0, end: end,
		attrs: append([]string{"service.name", "headroom-edge", "headroom.tier", "edge", "http.request.method", method, "url.path", path,
			"http.response.status_code", "200", "edge.cache.hit", hit, "edge.cache.key", method + " " + path,
			"edge.answered_by", answeredBy}, attrs...)}
}

// fn is an edge function span under the edge span.
func fn(name, outcome string, s, e float64) sp {
	return sp{id: "fn-" + name, parent: "e", name: "edge.function " + name, kind: KindInternal, start: s, end: e,
		attrs: []string{"edge.function.name", name, "edge.isolate.cold", "false", "edge.function.outcome", outcome}}
}

// fetch is the edge's origin fetch, answered with status.
func fetch(s, e float64, status string, attrs ...string) sp {
	return sp{id: "f", parent: "e", name: "edge → origin", kind: KindClient, start: s, end: e,
		attrs: append([]string{"peer.service", "origin", "server.address", "127.0.0.1", "http.response.status_code", status,
			"edge.origin.pool", "main"}, attrs...)}
}

// origin is the origin's server span: under the fetch f, or the root when parent is "".
func origin(parent, method, route string, s, e float64, status string, attrs ...string) sp {
	return sp{id: "o", parent: parent, name: method + " " + route, kind: KindServer, start: s, end: e,
		attrs: append([]string{"service.name", "headroom-lab", "http.route", route, "http.request.method", method, "url.path", route,
			"http.response.status_code", status}, attrs...)}
}

// shifted is a trace whose spans all start startMS later: requests spread over time.
func shifted(id string, startMS float64, spans ...sp) *Trace {
	for i := range spans {
		spans[i].start += startMS
		spans[i].end += startMS
	}
	return mk(id, spans...)
}

// meViaEdge is n requests GET /api/me through the edge, 100 ms apart, each forwarded to the
// origin across an 80 ms link, where the origin rejects it (401, reason) in 2 ms.
func meViaEdge(n int, reason string) []*Trace {
	var trs []*Trace
	for i := range n {
		trs = append(trs, shifted(fmt.Sprintf("me%02d", i), float64(i)*100,
			edgeSrv("GET", "/api/me", 84, "origin", "http.response.status_code", "401", "edge.cache.storable", "false"),
			fetch(1, 83, "401"),
			origin("f", "GET", "/api/me", 41, 43, "401", "lab.auth.source", "none", "lab.auth.rejected", reason)))
	}
	return trs
}

// meRejectedAtEdge is n requests GET /api/me that the edge's auth function answers with 401.
func meRejectedAtEdge(n int) []*Trace {
	var trs []*Trace
	for i := range n {
		trs = append(trs, shifted(fmt.Sprintf("ma%02d", i), float64(i)*100,
			edgeSrv("GET", "/api/me", 0.4, "function:auth", "http.response.status_code", "401",
				"edge.cache.status", "headroom-edge; fwd=bypass; detail=auth"),
			fn("auth", "respond", 0.05, 0.3)))
	}
	return trs
}

// meDirect is n requests GET /api/me to the origin without an edge, rejected there (401, reason)
// in 2 ms.
func meDirect(n int, reason string) []*Trace {
	var trs []*Trace
	for i := range n {
		trs = append(trs, shifted(fmt.Sprintf("md%02d", i), float64(i)*100,
			origin("", "GET", "/api/me", 0, 2, "401", "lab.auth.source", "none", "lab.auth.rejected", reason)))
	}
	return trs
}

// catalogViaEdge is n requests GET /api/catalog through the edge, everyMS apart, each fetched
// from the origin (40 ms past the edge, 10 of them at the origin) with the answer etag(i); the
// origin's headers make it unstorable.
func catalogViaEdge(n int, everyMS float64, etag func(i int) string) []*Trace {
	var trs []*Trace
	for i := range n {
		trs = append(trs, shifted(fmt.Sprintf("ca%02d", i), float64(i)*everyMS,
			edgeSrv("GET", "/api/catalog", 42, "origin", "edge.cache.storable", "false",
				"edge.cache.status", "headroom-edge; fwd=uri-miss"),
			fetch(1, 41, "200", "http.response.header.etag", etag(i)),
			origin("f", "GET", "/api/catalog", 16, 26, "200", "lab.auth.source", "none",
				"http.response.header.etag", etag(i), "http.response.header.cache-control", "no-store", "http.response.body.size", "5120")))
	}
	return trs
}

func sameETag(int) string { return `"v1"` }

// catalogCached is n requests GET /api/catalog through the edge, 1 s apart: the first a miss
// the edge stores, the others cache hits.
func catalogCached(n int) []*Trace {
	trs := []*Trace{shifted("cc00", 0,
		edgeSrv("GET", "/api/catalog", 42, "origin", "edge.cache.storable", "true", "edge.cache.status", "headroom-edge; fwd=uri-miss; stored"),
		fetch(1, 41, "200", "http.response.header.etag", `"v1"`),
		origin("f", "GET", "/api/catalog", 16, 26, "200", "lab.auth.source", "none", "http.response.header.etag", `"v1"`))}
	for i := 1; i < n; i++ {
		trs = append(trs, shifted(fmt.Sprintf("cc%02d", i), float64(i)*1000,
			edgeSrv("GET", "/api/catalog", 0.3, "cache", "edge.cache.status", "headroom-edge; hit; ttl=52")))
	}
	return trs
}

// catalogRevalidated is n requests GET /api/catalog through the edge, 1 s apart, each answered
// from the cache while the edge revalidates the entry with the origin in the background
// (stale-while-revalidate): the requests did not wait for the origin.
func catalogRevalidated(n int) []*Trace {
	var trs []*Trace
	for i := range n {
		trs = append(trs, shifted(fmt.Sprintf("cr%02d", i), float64(i)*1000,
			edgeSrv("GET", "/api/catalog", 0.4, "cache", "edge.cache.storable", "true",
				"edge.cache.status", "headroom-edge; hit; fwd=stale"),
			fetch(0.3, 40, "304", "http.response.header.etag", `"v1"`),
			origin("f", "GET", "/api/catalog", 15, 25, "304", "lab.auth.source", "none", "http.response.header.etag", `"v1"`)))
	}
	return trs
}

// catalogDirect is n requests GET /api/catalog to the origin without an edge, 1 s apart, 10 ms
// each, answered with etag (none when "").
func catalogDirect(n int, etag string) []*Trace {
	var trs []*Trace
	for i := range n {
		attrs := []string{"lab.auth.source", "none"}
		if etag != "" {
			attrs = append(attrs, "http.response.header.etag", etag)
		}
		trs = append(trs, shifted(fmt.Sprintf("cd%02d", i), float64(i)*1000, origin("", "GET", "/api/catalog", 0, 10, "200", attrs...)))
	}
	return trs
}

// catalogAuthenticated is catalogViaEdge for signed-in users: the edge's auth function let each
// request through and the origin trusted the edge's identity; the answer is per user.
func catalogAuthenticated(n int) []*Trace {
	var trs []*Trace
	for i := range n {
		trs = append(trs, shifted(fmt.Sprintf("cu%02d", i), float64(i)*1000,
			edgeSrv("GET", "/api/catalog", 42, "origin", "edge.cache.storable", "false"),
			fn("auth", "continue", 0.1, 0.5),
			fetch(1, 41, "200", "http.response.header.etag", `"v1"`),
			origin("f", "GET", "/api/catalog", 16, 26, "200", "lab.auth.source", "edge", "http.response.header.etag", `"v1"`)))
	}
	return trs
}

// mixedEdge is the breakdown's case: GET /page/home through the edge, 20 requests: 10 cache
// hits (0.5 ms), 4 answered by an edge function (0.2 ms), 5 fetched from the origin (edge 2 ms,
// link 80 ms, origin 5+i ms) and 1 fetched whose origin span was not collected.
func mixedEdge() []*Trace {
	var trs []*Trace
	id := func(i int) string { return fmt.Sprintf("mx%02d", i) }
	for i := range 10 {
		trs = append(trs, shifted(id(i), float64(i)*5000, edgeSrv("GET", "/page/home", 0.5, "cache")))
	}
	for i := 10; i < 14; i++ {
		trs = append(trs, shifted(id(i), float64(i)*5000, edgeSrv("GET", "/page/home", 0.2, "function:filter",
			"http.response.status_code", "403"), fn("filter", "respond", 0.05, 0.15)))
	}
	for i := 14; i < 19; i++ {
		o := 5 + float64(i-14)
		trs = append(trs, shifted(id(i), float64(i)*5000,
			edgeSrv("GET", "/page/home", 2+80+o, "origin", "edge.cache.storable", "true"),
			fetch(1, 1+80+o, "200"),
			origin("f", "GET", "/page/home", 41, 41+o, "200", "lab.auth.source", "none")))
	}
	trs = append(trs, shifted(id(19), 19*5000, edgeSrv("GET", "/page/home", 90, "origin"), fetch(1, 89, "200")))
	return trs
}

var edgeGoldenCases = []struct {
	name string
	want result.Kind
	tr   []*Trace
}{
	{"edge_rejectable", result.KindEdgeRejectable, meViaEdge(10, "missing")},
	{"edge_rejectable_without_edge", result.KindEdgeRejectable, meDirect(10, "expired")},
	{"edge_rejectable_near_miss_rejected_at_edge", "", meRejectedAtEdge(10)},
	{"edge_rejectable_near_miss_revoked", "", meViaEdge(10, "revoked")},
	{"edge_rejectable_near_miss_4_requests", "", meViaEdge(EdgeRejectableMinRequests-1, "invalid")},
	{"edge_cacheable", result.KindEdgeCacheable, catalogViaEdge(8, 2000, sameETag)},
	{"edge_cacheable_without_edge", result.KindEdgeCacheable, catalogDirect(6, `"v7"`)},
	{"edge_cacheable_near_miss_cached", "", catalogCached(20)},
	{"edge_cacheable_near_miss_changing_answer", "", catalogViaEdge(8, 2000, func(i int) string { return fmt.Sprintf(`"v%d"`, i) })},
	{"edge_cacheable_near_miss_over_a_minute_apart", "", catalogViaEdge(8, 61000, sameETag)},
	{"edge_cacheable_near_miss_authenticated", "", catalogAuthenticated(8)},
	{"edge_cacheable_near_miss_revalidated_in_background", "", catalogRevalidated(8)},
	{"edge_cacheable_near_miss_no_etag_without_edge", "", catalogDirect(8, "")},
	{"edge_breakdown", "", mixedEdge()},
}

func isEdgeKind(k result.Kind) bool {
	return k == result.KindEdgeCacheable || k == result.KindEdgeRejectable
}

// TestEdgeGolden: each edge finding fires on the traces that show it, and not on the near misses
// (cached traffic, rejections the edge already makes); the output is pinned by golden files. The
// other detectors may fire too (the requests the edge forwards are the tail of a mix of hits and
// misses: tail_latency); the golden files pin them.
func TestEdgeGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range edgeGoldenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := Diagnose(tc.tr, Config{})
			var kinds []result.Kind
			for _, x := range f.Findings {
				if isEdgeKind(x.Kind) {
					kinds = append(kinds, x.Kind)
				}
			}
			if tc.want == "" && len(kinds) != 0 {
				t.Errorf("near miss: want no edge finding, got %v", kinds)
			}
			if tc.want != "" && (len(kinds) != 1 || kinds[0] != tc.want) {
				t.Errorf("want exactly one edge finding, %s, got %v", tc.want, kinds)
			}
			checkBounded(t, f)
			for _, x := range f.Findings {
				if !isEdgeKind(x.Kind) {
					continue
				}
				if x.EstimatedSavingMS <= 0 || x.ShareOfP99 <= 0 || x.Remedy == "" || len(x.Evidence.TraceIDs) == 0 ||
					x.Evidence.Count == 0 || x.Evidence.RequestShare <= 0 {
					t.Errorf("finding lacks saving, share, remedy or evidence: %+v", x)
				}
			}
			golden(t, tc.name, f)
		})
	}
}

func TestEdgeRejectableEvidence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		trs        []*Trace
		total      float64 // ms each: past the edge, or at the origin without one
		reasons    map[string]int
		lowerBound bool
	}{
		{"past the edge", meViaEdge(10, "missing"), 82, map[string]int{"401 missing": 10}, false},
		{"without an edge", meDirect(10, "expired"), 2, map[string]int{"401 expired": 10}, true},
		{"among accepted requests", append(meViaEdge(6, "invalid"), meRejectedAtEdge(6)...), 82, map[string]int{"401 invalid": 6}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x, ok := edgeFinding1(Diagnose(tc.trs, Config{}))
			if !ok {
				t.Fatal("want one edge finding")
			}
			n := 0
			for _, c := range tc.reasons {
				n += c
			}
			if x.Kind != result.KindEdgeRejectable || x.Endpoint != Endpoint(tc.trs[0]) || x.Evidence.TotalMS != tc.total ||
				x.EstimatedSavingMS != tc.total || x.Evidence.Count != n || !maps.Equal(x.Evidence.Reasons, tc.reasons) ||
				x.Evidence.RequestShare != float64(n)/float64(len(tc.trs)) {
				t.Errorf("unexpected %+v", x)
			}
			if lb := strings.Contains(x.Summary, "a lower bound"); lb != tc.lowerBound {
				t.Errorf("summary says a lower bound: %v, want %v: %s", lb, tc.lowerBound, x.Summary)
			}
		})
	}
}

// edgeFinding1 is the one edge finding of f, if it has exactly one.
func edgeFinding1(f *result.Findings) (result.Finding, bool) {
	var out []result.Finding
	for _, x := range f.Findings {
		if isEdgeKind(x.Kind) {
			out = append(out, x)
		}
	}
	if len(out) != 1 {
		return result.Finding{}, false
	}
	return out[0], true
}

func TestEdgeCacheableEvidence(t *testing.T) {
	t.Parallel()
	got := Diagnose(catalogViaEdge(8, 2000, sameETag), Config{MaxEvidence: 3})
	if len(got.Findings) != 1 {
		t.Fatalf("want one finding, got %+v", got.Findings)
	}
	x := got.Findings[0]
	// 8 fetches of one answer: the 7 after the first repeat it, each 40 ms past the edge.
	if x.Kind != result.KindEdgeCacheable || x.Evidence.Operation != "GET /api/catalog" || x.Evidence.Count != 7 ||
		x.Evidence.TotalMS != 40 || x.EstimatedSavingMS != 40 || !maps.Equal(x.Evidence.Answers, map[string]int{`etag "v1"`: 7}) ||
		x.Evidence.RequestShare != 0.875 || len(x.Evidence.TraceIDs) != 3 {
		t.Errorf("unexpected %+v", x)
	}
	for _, want := range []string{"7×", "280 ms in all", "unstorable", "Cache-Control: no-store"} {
		if !strings.Contains(x.Summary, want) {
			t.Errorf("summary lacks %q: %s", want, x.Summary)
		}
	}
	// Without an ETag, status and size say the answers are the same.
	noETag := catalogViaEdge(8, 2000, func(int) string { return "" })
	if got := Diagnose(noETag, Config{}); len(got.Findings) != 1 ||
		!maps.Equal(got.Findings[0].Evidence.Answers, map[string]int{"200, 5120 bytes": 7}) {
		t.Errorf("status and size: %+v", got.Findings)
	}
}

func TestEdgeBreakdown(t *testing.T) {
	t.Parallel()
	got := Diagnose(mixedEdge(), Config{})
	if len(got.Edge) != 1 {
		t.Fatalf("want one edge breakdown, got %+v", got.Edge)
	}
	b := got.Edge[0]
	want := result.EdgeBreakdown{Endpoint: "edge GET /page/home", Requests: 20,
		AnsweredBy:     map[string]int{"cache": 10, "function:filter": 4, "origin": 6},
		AnsweredAtEdge: 0.7,
		// Edge time: 0.2 ms (4), 0.5 ms (10), 2 ms (5), and 90 − 88 = 2 ms for the one whose
		// origin span is missing.
		Edge:         result.TierTime{Requests: 20, P50MS: 0.5, P99MS: 2},
		Link:         result.TierTime{Requests: 5, P50MS: 80, P99MS: 80},
		Origin:       result.TierTime{Requests: 5, P50MS: 7, P99MS: 9},
		OriginUnseen: 1}
	if b.Endpoint != want.Endpoint || b.Requests != want.Requests || !maps.Equal(b.AnsweredBy, want.AnsweredBy) ||
		b.AnsweredAtEdge != want.AnsweredAtEdge || b.Edge != want.Edge || b.Link != want.Link || b.Origin != want.Origin ||
		b.OriginUnseen != want.OriginUnseen {
		t.Errorf("breakdown\n got %+v\nwant %+v", b, want)
	}
	// Traces without an edge have no breakdown.
	if got := Diagnose(meDirect(5, "missing"), Config{}); got.Edge != nil {
		t.Errorf("no edge in the traces, yet %+v", got.Edge)
	}
}

// TestEdgeSkewedOrigin: an origin span longer than its fetch (clocks of two hosts) is clamped to
// the fetch: the link is never negative, the origin never more than the fetch.
func TestEdgeSkewedOrigin(t *testing.T) {
	t.Parallel()
	var trs []*Trace
	for i := range 5 {
		trs = append(trs, shifted(fmt.Sprint("sk", i), float64(i)*100,
			edgeSrv("GET", "/api/me", 30, "origin"), fetch(1, 21, "401"),
			origin("f", "GET", "/api/me", -5, 40, "401", "lab.auth.rejected", "missing")))
	}
	got := Diagnose(trs, Config{})
	b := got.Edge[0]
	if b.Link.P99MS != 0 || b.Origin.P50MS != 20 || b.Edge.P50MS != 10 {
		t.Errorf("unexpected breakdown %+v", b)
	}
	checkBounded(t, got)
}

// edgeLine is one OTLP JSON request of the edge node and one of the origin, as the lab exports
// them (resources, bool and int attributes, the ETag as a string array).
func edgeLines(trace string, startNS int64) string {
	attr := func(k, v string) string { return fmt.Sprintf(`{"key":%q,"value":{"stringValue":%q}}`, k, v) }
	b := func(k string, v bool) string { return fmt.Sprintf(`{"key":%q,"value":{"boolValue":%v}}`, k, v) }
	i := func(k string, v int) string { return fmt.Sprintf(`{"key":%q,"value":{"intValue":"%d"}}`, k, v) }
	res := func(svc string, spans ...string) string {
		return `{"resourceSpans":[{"resource":{"attributes":[` + attr("service.name", svc) + `]},"scopeSpans":[{"scope":{"name":"x"},"spans":[` +
			strings.Join(spans, ",") + `]}]}]}`
	}
	span := func(id, parent, name string, kind int, s, e int64, attrs ...string) string {
		return fmt.Sprintf(`{"traceId":%q,"spanId":%q,"parentSpanId":%q,"name":%q,"kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s]}`,
			trace, id, parent, name, kind, startNS+s, startNS+e, strings.Join(attrs, ","))
	}
	const ms = 1_000_000
	etag := `{"key":"http.response.header.etag","value":{"arrayValue":{"values":[{"stringValue":"\"v1\""}]}}}`
	edge := res("headroom-edge",
		span("e1", "", "edge GET /static/logo.png", 2, 0, 42*ms, attr("headroom.tier", "edge"), attr("http.request.method", "GET"),
			attr("url.path", "/static/logo.png"), i("http.response.status_code", 200), attr("edge.cache.status", "headroom-edge; fwd=uri-miss"),
			b("edge.cache.hit", false), b("edge.cache.storable", false), attr("edge.cache.key", "GET /static/logo.png"), attr("edge.answered_by", "origin")),
		span("e2", "e1", "edge → origin", 3, 1*ms, 41*ms, attr("peer.service", "origin"), attr("server.address", "127.0.0.1"),
			i("http.response.status_code", 200), attr("edge.origin.pool", "main")))
	lab := res("headroom-lab",
		span("o1", "e2", "GET /static/logo.png", 2, 16*ms, 26*ms, attr("http.request.method", "GET"), attr("url.path", "/static/logo.png"),
			i("http.response.status_code", 200), attr("lab.auth.source", "none"), etag))
	return edge + "\n" + lab + "\n"
}

// TestEdgeFromOTLP reads the edge's spans as the lab writes them, through the decoder.
func TestEdgeFromOTLP(t *testing.T) {
	t.Parallel()
	var in strings.Builder
	for k := range 6 {
		in.WriteString(edgeLines(fmt.Sprintf("%032x", k+1), 1_700_000_000_000_000_000+int64(k)*1_000_000_000))
	}
	got, err := Read(strings.NewReader(in.String()), ReadConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f := Analyze(got, Config{})
	if len(f.Findings) != 1 || f.Findings[0].Kind != result.KindEdgeCacheable ||
		!maps.Equal(f.Findings[0].Evidence.Answers, map[string]int{`etag "v1"`: 5}) {
		t.Fatalf("want one edge_cacheable of ETag \"v1\", got %+v", f.Findings)
	}
	if len(f.Edge) != 1 || f.Edge[0].Link.P50MS != 30 || f.Edge[0].Origin.P50MS != 10 || f.Edge[0].Edge.P50MS != 2 {
		t.Errorf("unexpected breakdown %+v", f.Edge)
	}
}

func TestArrayAttribute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ value, want string }{
		{`{"arrayValue":{"values":[{"stringValue":"\"v1\""}]}}`, `"v1"`},
		{`{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"3"},{"boolValue":true},{"doubleValue":1.5}]}}`, "a, 3, true, 1.5"},
		{`{"arrayValue":{"values":[{"arrayValue":{"values":[{"stringValue":"nested"}]}},{"stringValue":"b"}]}}`, "b"},
		{`{"arrayValue":{"values":[]}}`, "<absent>"},
		{`{"arrayValue":{}}`, "<absent>"},
	} {
		line := otlpLine(jsonSpan("t1", "a", "", 0, 100, `{"key":"k","value":`+tc.value+`}`))
		in, err := Read(strings.NewReader(line), ReadConfig{})
		if err != nil {
			t.Fatalf("%s: %v", tc.value, err)
		}
		v, ok := in.Traces[0].Spans[0].Attrs["k"]
		if !ok {
			v = "<absent>"
		}
		if v != tc.want {
			t.Errorf("%s: got %q, want %q", tc.value, v, tc.want)
		}
	}
}

// FuzzEdge builds requests through the edge from arbitrary times, statuses, answers and
// attributes: whatever the edge analysis reports stays within what the requests took.
func FuzzEdge(f *testing.F) {
	f.Add(uint8(10), int64(84_000), int64(1000), int64(83_000), int64(41_000), int64(43_000), uint16(401), "origin", "missing", `"v1"`, int64(100_000), true)
	f.Add(uint8(8), int64(42_000), int64(1000), int64(41_000), int64(16_000), int64(26_000), uint16(200), "origin", "", `"v1"`, int64(2_000_000), true)
	f.Add(uint8(3), int64(500), int64(-9e15), int64(9e15), int64(math.MinInt64/4), int64(math.MaxInt64/4), uint16(304), "cache", "", "", int64(0), false)
	f.Add(uint8(200), int64(0), int64(0), int64(0), int64(0), int64(0), uint16(403), "function:auth", "revoked", "x", int64(-1), true)
	f.Fuzz(func(t *testing.T, n uint8, edgeUS, fetchS, fetchE, originS, originE int64, st uint16, answeredBy, reason, etag string, everyUS int64, withOrigin bool) {
		us := func(v int64) float64 { return float64(v) / 1000 }
		var trs []*Trace
		for i := range int(n%60) + 1 {
			spans := []sp{edgeSrv("GET", "/x", us(edgeUS), answeredBy), fetch(us(fetchS), us(fetchE), fmt.Sprint(st), "http.response.header.etag", etag)}
			if withOrigin {
				spans = append(spans, origin("f", "GET", "/x", us(originS), us(originE), fmt.Sprint(st), "lab.auth.rejected", reason,
					"http.response.header.etag", etag))
			}
			tr := shifted(fmt.Sprint("fz", i), float64(i)*us(everyUS), spans...)
			for _, s := range tr.Spans { // as Read repairs it
				if s.End.Before(s.Start) {
					s.End = s.Start
				}
			}
			trs = append(trs, tr)
		}
		got := Diagnose(trs, Config{MaxEvidence: 3})
		checkBounded(t, got)
		for _, b := range got.Edge {
			if b.Requests < 1 || b.AnsweredAtEdge < 0 || b.AnsweredAtEdge > 1 || b.Link.Requests+b.OriginUnseen > b.Requests ||
				b.Link.Requests != b.Origin.Requests || b.Edge.Requests != b.Requests {
				t.Fatalf("breakdown counts out of range: %+v", b)
			}
			for _, tt := range []result.TierTime{b.Edge, b.Link, b.Origin} {
				if tt.P50MS < 0 || tt.P50MS > tt.P99MS || math.IsNaN(tt.P99MS) || math.IsInf(tt.P99MS, 0) {
					t.Fatalf("tier time out of range: %+v", b)
				}
			}
		}
		for _, x := range got.Findings {
			if (x.Kind == result.KindEdgeCacheable || x.Kind == result.KindEdgeRejectable) &&
				(x.Evidence.Count < 1 || x.Evidence.RequestShare <= 0 || x.Evidence.RequestShare > 1 || len(x.Evidence.TraceIDs) > 3) {
				t.Fatalf("edge evidence out of range: %+v", x)
			}
		}
	})
}
