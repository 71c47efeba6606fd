package diagnose

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sp is a synthetic span: times in ms from t0, attributes as key, value pairs.
type sp struct {
	id, parent, name string
	kind             SpanKind
	start, end       float64
	attrs            []string
}

func at(v float64) time.Time { return t0.Add(time.Duration(v * float64(time.Millisecond))) }

func mk(id string, spans ...sp) *Trace {
	tr := &Trace{ID: id}
	for _, s := range spans {
		a := map[string]string{}
		for i := 0; i+1 < len(s.attrs); i += 2 {
			a[s.attrs[i]] = s.attrs[i+1]
		}
		tr.Spans = append(tr.Spans, &Span{TraceID: id, SpanID: s.id, ParentID: s.parent, Name: s.name, Kind: s.kind,
			Start: at(s.start), End: at(s.end), Attrs: a})
	}
	return tr
}

func server(route string, end float64) sp {
	return sp{id: "r", name: "GET " + route, kind: KindServer, start: 0, end: end,
		attrs: []string{"http.route", route, "http.request.method", "GET"}}
}

func handler(end float64) sp {
	return sp{id: "h", parent: "r", name: "handler", kind: KindInternal, start: 0.5, end: end}
}

func query(id, stmt string, start, end float64) sp {
	return sp{id: id, parent: "h", name: "SELECT", kind: KindClient, start: start, end: end,
		attrs: []string{"db.system.name", "postgresql", "db.query.text", stmt}}
}

func call(id, method, url string, start, end float64, attrs ...string) sp {
	return sp{id: id, parent: "h", name: method, kind: KindClient, start: start, end: end,
		attrs: append([]string{"http.request.method", method, "url.full", url}, attrs...)}
}

// seq returns n spans made by f(i, start, end), each each ms long, one after the other from start.
func seq(n int, start, each float64, f func(i int, s, e float64) sp) []sp {
	var out []sp
	for i := range n {
		out = append(out, f(i, start+float64(i)*each, start+float64(i+1)*each))
	}
	return out
}

// par returns n spans made by f, all running from start to start+each.
func par(n int, start, each float64, f func(i int, s, e float64) sp) []sp {
	var out []sp
	for i := range n {
		out = append(out, f(i, start, start+each))
	}
	return out
}

func trace(id, route string, end float64, children ...sp) *Trace {
	return mk(id, append([]sp{server(route, end), handler(end - 0.5)}, children...)...)
}

func usersByID(i int, s, e float64) sp {
	return query(fmt.Sprint("q", i), fmt.Sprintf("SELECT name FROM users WHERE id = %d", i+1), s, e)
}

func userAPI(i int, s, e float64) sp {
	return call(fmt.Sprint("c", i), "GET", fmt.Sprintf("http://users.internal:8080/users/%d?fields=name&v=%d", 100+i, i), s, e)
}

func shipLog(id string, s, e float64) sp {
	return call(id, "POST", "http://127.0.0.1:9999/logs", s, e, "peer.service", "log-collector", "server.address", "127.0.0.1")
}

// goldenCases are synthetic traces for every detector: one that fires and near misses that must not.
var goldenCases = []struct {
	name string
	want result.Kind // the kind that must be found, or "" for none
	tr   []*Trace
}{
	{"n_plus_one_db", result.KindNPlusOneDB, []*Trace{trace("a1", "/api/posts", 100, seq(20, 1, 3, usersByID)...)}},
	{"n_plus_one_db_near_miss_4_repeats", "", []*Trace{trace("a2", "/api/posts", 300, seq(4, 1, 50, usersByID)...)}},
	{"n_plus_one_db_low_49ms", result.KindNPlusOneDB, []*Trace{trace("a3", "/api/posts", 100, seq(7, 1, 7, usersByID)...)}},
	{"n_plus_one_http", result.KindNPlusOneHTTP, []*Trace{trace("b1", "/api/feed", 100, seq(6, 1, 12, userAPI)...)}},
	{"n_plus_one_http_near_miss_4_repeats", "", []*Trace{trace("b2", "/api/feed", 300, seq(4, 1, 50, userAPI)...)}},
	{"n_plus_one_http_near_miss_40ms_union", "", []*Trace{trace("b3", "/api/feed", 100, par(8, 1, 40, userAPI)...)}},
	{"consecutive_db", result.KindConsecutiveDB, []*Trace{trace("c1", "/api/stats", 200,
		query("s1", "SELECT count(*) FROM users", 1, 61), query("s2", "SELECT count(*) FROM posts", 61, 121),
		query("s3", "SELECT count(*) FROM comments", 121, 181))}},
	{"consecutive_db_near_miss_parallel", "", []*Trace{trace("c2", "/api/stats", 200,
		query("s1", "SELECT count(*) FROM users", 1, 61), query("s2", "SELECT count(*) FROM posts", 1, 61),
		query("s3", "SELECT count(*) FROM comments", 1, 61))}},
	{"consecutive_db_near_miss_dependent", "", []*Trace{trace("c3", "/api/stats", 200,
		query("s1", "SELECT id FROM users WHERE email = $1", 1, 61), query("s2", "SELECT * FROM posts WHERE author_id = $1", 61, 121),
		query("s3", "SELECT * FROM comments WHERE post_id = $1", 121, 181))}},
	{"consecutive_http", result.KindConsecutiveHTTP, []*Trace{trace("d1", "/api/checkout", 3200,
		call("h1", "GET", "http://inventory.internal/stock", 1, 1001), call("h2", "GET", "http://pricing.internal/quote", 1010, 2010),
		call("h3", "GET", "http://fraud.internal/score", 2020, 3020))}},
	{"consecutive_http_near_miss_parallel", "", []*Trace{trace("d2", "/api/checkout", 1200,
		call("h1", "GET", "http://inventory.internal/stock", 1, 1001), call("h2", "GET", "http://pricing.internal/quote", 1, 1001),
		call("h3", "GET", "http://fraud.internal/score", 1, 1001))}},
	{"consecutive_http_near_miss_2_calls", "", []*Trace{trace("d3", "/api/checkout", 3200,
		call("h1", "GET", "http://inventory.internal/stock", 1, 1501), call("h2", "GET", "http://pricing.internal/quote", 1510, 3010))}},
	{"slow_query", result.KindSlowQuery, []*Trace{trace("e1", "/api/search", 620, query("q", "SELECT * FROM posts WHERE body LIKE '%x%'", 1, 601))}},
	{"slow_query_near_miss_499ms", "", []*Trace{trace("e2", "/api/search", 620, query("q", "SELECT * FROM posts WHERE body LIKE '%x%'", 1, 500))}},
	{"sync_remote_call_logging", result.KindSyncRemoteCall, []*Trace{trace("f1", "/api/posts", 100,
		query("q", "SELECT * FROM posts LIMIT 20", 1, 21), shipLog("l", 22, 82))}},
	{"sync_remote_call_email_once", result.KindSyncRemoteCall, []*Trace{trace("f2", "/api/invites", 100,
		query("q", "INSERT INTO invites (email) VALUES ($1)", 1, 11),
		sp{id: "m", parent: "h", name: "smtp send", kind: KindClient, start: 12, end: 92,
			attrs: []string{"network.protocol.name", "smtp", "server.address", "127.0.0.1"}})}},
	{"sync_remote_call_near_miss_off_critical_path", "", []*Trace{trace("f3", "/api/posts", 100,
		query("q", "SELECT * FROM posts LIMIT 20", 1, 90), shipLog("l", 10, 40))}},
	{"sync_remote_call_near_miss_critical_dependency", "", []*Trace{trace("f4", "/api/checkout", 100,
		call("p", "POST", "http://payments.internal/charges", 1, 90))}},
	{"pool_wait", result.KindPoolWait, []*Trace{trace("g1", "/api/posts", 100,
		sp{id: "w", parent: "h", name: "pool.acquire", kind: KindInternal, start: 1, end: 31, attrs: []string{"db.system.name", "postgresql"}},
		query("q", "SELECT * FROM posts LIMIT 20", 31, 41))}},
	{"pool_wait_attribute", result.KindPoolWait, []*Trace{trace("g2", "/api/posts", 100,
		query("q", "SELECT * FROM posts LIMIT 20", 1, 41), sp{id: "x", parent: "h", name: "SELECT", kind: KindClient, start: 41, end: 45,
			attrs: []string{"db.system", "mysql", "db.statement", "SELECT 1", "db.client.connection.wait_time", "0.025"}})}},
	{"pool_wait_near_miss_5ms", "", []*Trace{trace("g3", "/api/posts", 100,
		sp{id: "w", parent: "h", name: "pool.acquire", kind: KindInternal, start: 1, end: 6},
		query("q", "SELECT * FROM posts LIMIT 20", 6, 41))}},
	{"large_payload", result.KindLargePayload, []*Trace{trace("h1", "/api/export", 300,
		call("x", "GET", "http://storage.internal/blobs/9f86d081884c7d65", 1, 201, "http.response.body.size", "2000000"))}},
	{"large_payload_old_attribute", result.KindLargePayload, []*Trace{trace("h2", "/api/export", 300,
		sp{id: "x", parent: "h", name: "GET", kind: KindClient, start: 1, end: 201,
			attrs: []string{"http.method", "GET", "http.url", "http://storage.internal/blobs/1", "http.response_content_length", "900000"}})}},
	{"large_payload_near_miss", "", []*Trace{trace("h3", "/api/export", 300,
		call("x", "GET", "http://storage.internal/blobs/9f86d081884c7d65", 1, 201, "http.response.body.size", "299999"))}},

	{"tail_latency", result.KindTailLatency, checkouts(40, 3, 5000)},
	{"tail_latency_near_miss_uniform", "", checkouts(40, 0, 0)},
}

// checkouts is n requests to POST /api/checkout: a query of 20 to 24 ms, then a payment call of
// 50 ms, except in the last slow requests where the payment takes slowMS.
func checkouts(n, slow int, slowMS float64) []*Trace {
	var trs []*Trace
	for i := range n {
		q := 20 + float64(i%5)
		pay := 50.0
		if i >= n-slow {
			pay = slowMS
		}
		end := 1 + q + pay + 3
		trs = append(trs, trace(fmt.Sprintf("co%02d", i), "/api/checkout", end,
			query("q", "SELECT * FROM carts WHERE id = $1", 1, 1+q),
			call("p", "POST", "http://payments.internal/charges", 1+q, 1+q+pay)))
	}
	return trs
}

func TestDetectorsGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := Diagnose(tc.tr, Config{})
			var kinds []result.Kind
			for _, x := range f.Findings {
				kinds = append(kinds, x.Kind)
			}
			if tc.want == "" && len(kinds) != 0 {
				t.Errorf("near miss: want no finding, got %v", kinds)
			}
			if tc.want != "" && (len(kinds) != 1 || kinds[0] != tc.want) {
				t.Errorf("want exactly one %s, got %v", tc.want, kinds)
			}
			for _, x := range f.Findings {
				if x.EstimatedSavingMS <= 0 || x.ShareOfP99 <= 0 || x.Remedy == "" || len(x.Evidence.TraceIDs) == 0 {
					t.Errorf("finding lacks saving, share, remedy or evidence: %+v", x)
				}
			}
			golden(t, tc.name, f)
		})
	}
}

func golden(t *testing.T, name string, f *result.Findings) {
	t.Helper()
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", path, b.String())
	}
}
