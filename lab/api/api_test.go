package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/cache/memory"
	"github.com/headroom/headroom/lab/deps"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/lab/store/postgres/pgtest"
	"github.com/headroom/headroom/lab/store/sqlite"
)

// env is one lab API on a seeded SQLite store, with its spans recorded in memory.
type env struct {
	url   string
	api   *api.API
	store lab.Store
	spans *tracetest.SpanRecorder
	reg   *prometheus.Registry
	sw    *lab.Switches
}

type option func(*api.Config)

// engine is a storage engine the switch tests run on.
type engine struct {
	name string
	open func(t *testing.T, tp trace.TracerProvider) lab.Store
	// indexed is a fragment of the indexed search statement.
	indexed string
}

var (
	sqliteEngine = engine{name: "sqlite", indexed: "MATCH", open: func(t *testing.T, tp trace.TracerProvider) lab.Store {
		st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "lab.db"), TracerProvider: tp})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}}
	postgresEngine = engine{name: "postgres", indexed: "@@", open: func(t *testing.T, tp trace.TracerProvider) lab.Store {
		return pgtest.Open(t, tp)
	}}
	// engines run SQLite always and PostgreSQL when HEADROOM_TEST_POSTGRES is set.
	engines = []engine{sqliteEngine, postgresEngine}
)

func newEnv(t *testing.T, set lab.AntipatternSet, opts ...option) *env {
	t.Helper()
	return newEnvOn(t, sqliteEngine, set, opts...)
}

func newEnvOn(t *testing.T, eng engine, set lab.AntipatternSet, opts ...option) *env {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	st := eng.open(t, tp)
	if _, err := seed.Run(t.Context(), st, seed.Config{Users: 20, PostsPerUser: 3, CommentsPerPost: 3}); err != nil {
		t.Fatal(err)
	}
	e := &env{store: st, spans: spans, reg: prometheus.NewRegistry(), sw: lab.NewSwitches(set)}
	cfg := api.Config{Store: st, Switches: e.sw, TracerProvider: tp, Registerer: e.reg}
	for _, o := range opts {
		o(&cfg)
	}
	if servicesMode {
		split(t, &cfg)
	}
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.api = a
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// do sends a request carrying a fresh traceparent and returns the status, body and trace id.
func (e *env) do(t *testing.T, method, path, body string) (int, []byte, string) {
	t.Helper()
	r := e.send(t, method, path, body)
	return r.code, r.body, r.traceID
}

// dbQueries counts the database spans of one trace, after its server span ended.
func (e *env) dbQueries(t *testing.T, traceID string) int {
	t.Helper()
	n, server := 0, false
	for _, s := range e.spans.Ended() {
		if s.SpanContext().TraceID().String() != traceID {
			continue
		}
		for _, kv := range s.Attributes() {
			if kv.Key == "db.system.name" {
				n++
			}
		}
		if s.Parent().IsRemote() {
			server = true // the server span continued the caller's trace: traceparent honoured
		}
	}
	if !server {
		t.Fatalf("no server span in trace %s: the incoming traceparent was not honoured", traceID)
	}
	return n
}

// queriesLike counts all database spans whose statement contains substr.
func (e *env) queriesLike(substr string) int {
	n := 0
	for _, s := range e.spans.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "db.query.text" && strings.Contains(kv.Value.AsString(), substr) {
				n++
			}
		}
	}
	return n
}

func TestNPlusOneQueryCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		set                lab.AntipatternSet
		wantList, wantPost int
		postComments       int
		description        string
	}{
		{set: lab.AntipatternSet{lab.NPlusOne: true}, wantList: 21, description: "1 for posts + 1 per post"},
		{set: nil, wantList: 2, wantPost: 3, description: "posts + one batched IN"},
	}
	for _, eng := range engines {
		for _, tt := range tests {
			t.Run(eng.name+"/"+tt.set.String(), func(t *testing.T) {
				t.Parallel()
				e := newEnvOn(t, eng, tt.set)
				code, body, tid := e.do(t, "GET", "/api/posts?limit=20", "")
				if code != http.StatusOK {
					t.Fatalf("status %d: %s", code, body)
				}
				var got struct {
					Posts []api.PostView `json:"posts"`
				}
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				if len(got.Posts) != 20 || got.Posts[0].Author == nil || got.Posts[0].Author.ID != got.Posts[0].AuthorID {
					t.Fatalf("posts = %d, first author %+v", len(got.Posts), got.Posts[0].Author)
				}
				if n := e.dbQueries(t, tid); n != tt.wantList {
					t.Errorf("GET /api/posts?limit=20: %d DB queries, want %d (%s)", n, tt.wantList, tt.description)
				}

				// GET /api/posts/{id}: post + comments + authors.
				code, body, tid = e.do(t, "GET", fmt.Sprintf("/api/posts/%d", got.Posts[0].ID), "")
				if code != http.StatusOK {
					t.Fatalf("status %d: %s", code, body)
				}
				var detail struct {
					Comments []api.CommentView `json:"comments"`
				}
				if err := json.Unmarshal(body, &detail); err != nil {
					t.Fatal(err)
				}
				want := 3
				if tt.set[lab.NPlusOne] {
					want = 2 + 1 + len(detail.Comments) // post, comments, then the post's and each comment's author
				}
				if n := e.dbQueries(t, tid); n != want {
					t.Errorf("GET /api/posts/{id} with %d comments: %d DB queries, want %d", len(detail.Comments), n, want)
				}
			})
		}
	}
}

func TestNoIndexSwitchesQuery(t *testing.T) {
	t.Parallel()
	for _, eng := range engines {
		for _, on := range []bool{true, false} {
			t.Run(fmt.Sprint(eng.name, "/no_index=", on), func(t *testing.T) {
				t.Parallel()
				e := newEnvOn(t, eng, lab.AntipatternSet{lab.NoIndex: on})
				code, body, _ := e.do(t, "GET", "/api/search?q=latency", "")
				if code != http.StatusOK {
					t.Fatalf("status %d: %s", code, body)
				}
				var got struct {
					Mode  string     `json:"mode"`
					Posts []lab.Post `json:"posts"`
				}
				_ = json.Unmarshal(body, &got)
				for _, p := range got.Posts {
					if !strings.Contains(p.Title+" "+p.Body, "latency") {
						t.Errorf("result %d does not contain latency", p.ID)
					}
				}
				if len(got.Posts) != 20 {
					t.Errorf("%d results, want a full page of 20", len(got.Posts))
				}
				like, match := e.queriesLike("LIKE"), e.queriesLike(eng.indexed)
				if on && (like != 1 || match != 0 || got.Mode != "scan") {
					t.Errorf("no_index on: %d LIKE and %d %s statements, mode %q; want the scan", like, match, eng.indexed, got.Mode)
				}
				if !on && (like != 0 || match != 1 || got.Mode != "index") {
					t.Errorf("no_index off: %d LIKE and %d %s statements, mode %q; want the index", like, match, eng.indexed, got.Mode)
				}
			})
		}
	}
}

func TestNoCacheFeedDBHits(t *testing.T) {
	t.Parallel()
	const requests = 5
	for _, eng := range engines {
		for _, on := range []bool{true, false} {
			t.Run(fmt.Sprint(eng.name, "/no_cache=", on), func(t *testing.T) {
				t.Parallel()
				c, err := memory.New(memory.Config{TTL: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				e := newEnvOn(t, eng, lab.AntipatternSet{lab.NoCache: on}, func(cfg *api.Config) { cfg.Cache = c })
				var first []byte
				for i := range requests {
					code, body, _ := e.do(t, "GET", "/api/feed", "")
					if code != http.StatusOK {
						t.Fatalf("status %d: %s", code, body)
					}
					if i == 0 {
						first = body
					} else if string(body) != string(first) {
						t.Errorf("feed %d differs from the first", i)
					}
				}
				want := 1
				if on {
					want = requests
				}
				if n := e.queriesLike("LEFT JOIN comments"); n != want {
					t.Errorf("%d feed requests: %d feed queries, want %d", requests, n, want)
				}
			})
		}
	}
}

func TestSyncLoggingLatency(t *testing.T) {
	t.Parallel()
	const delay = 150 * time.Millisecond
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("sync_logging=", on), func(t *testing.T) {
			t.Parallel()
			lat := deps.Latency{Typical: delay}
			if !on {
				lat.Typical = time.Hour // the request must not wait for this collector at all
			}
			col, err := deps.StartLogCollector(t.Context(), deps.LogCollectorConfig{Latency: lat})
			if err != nil {
				t.Fatal(err)
			}
			ship, err := deps.NewLogShipper(deps.LogShipperConfig{URL: col.URL(), FlushInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = col.Close(ctx) // interrupts the hour-long delay
				_ = ship.Close(ctx)
			})
			e := newEnv(t, lab.AntipatternSet{lab.SyncLogging: on}, func(cfg *api.Config) { cfg.Logs = ship })
			code, body, _ := e.do(t, "GET", "/healthz", "") // warm the connection
			if code != http.StatusOK {
				t.Fatalf("healthz %d: %s", code, body)
			}
			start := time.Now()
			code, body, _ = e.do(t, "GET", "/api/posts?limit=5", "")
			elapsed := time.Since(start)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if on {
				if elapsed < delay {
					t.Errorf("sync_logging on: request took %v, want at least the collector's %v", elapsed, delay)
				}
				if col.Lines() != 1 {
					t.Errorf("sync_logging on: collector has %d lines when the response arrives, want 1", col.Lines())
				}
			} else {
				// The collector holds every request for an hour: the response arriving at all
				// shows the request did not wait for it.
				if col.Lines() != 0 || ship.Dropped() != 0 {
					t.Errorf("sync_logging off: collector lines %d, dropped %d; want 0, 0", col.Lines(), ship.Dropped())
				}
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	mail, err := deps.StartMailServer(t.Context(), deps.MailServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	pay, err := deps.StartPaymentProvider(t.Context(), deps.PaymentProviderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mail.Close(context.Background()); _ = pay.Close(context.Background()) })
	mailer, _ := deps.NewMailer(deps.MailerConfig{Addr: mail.Addr()})
	pc, _ := deps.NewPaymentClient(deps.PaymentClientConfig{URL: pay.URL()})
	e := newEnv(t, nil, func(cfg *api.Config) {
		cfg.Mailer = mailer
		cfg.Payments = api.PaymentsFunc(func(ctx context.Context, id, amount int64) (string, error) {
			ch, err := pc.Charge(ctx, id, amount)
			return ch.ID, err
		})
		cfg.MaxVideoBytes = 1 << 20
		cfg.VideoPasses = 1
	})

	code, body, _ := e.do(t, "POST", "/api/checkout", `{"user_id": 3, "amount_cents": 1999}`)
	var order lab.Order
	_ = json.Unmarshal(body, &order)
	if code != http.StatusCreated || order.Status != lab.OrderPaid || order.PaymentRef == "" {
		t.Errorf("checkout: %d %s", code, body)
	}

	code, body, _ = e.do(t, "POST", "/api/invites", `{"inviter_id": 3, "email": "friend@example.com"}`)
	if code != http.StatusCreated || mail.Delivered() != 1 || !strings.Contains(string(body), `"sent_at"`) {
		t.Errorf("invite: %d %s; delivered %d", code, body, mail.Delivered())
	}

	code, body, _ = e.do(t, "POST", "/api/videos", `{"owner_id": 3, "title": "cats", "size_bytes": 300000}`)
	var v lab.Video
	_ = json.Unmarshal(body, &v)
	if code != http.StatusCreated || v.Status != lab.VideoReady || len(v.Checksum) != 64 {
		t.Errorf("video: %d %s", code, body)
	}

	code, body, _ = e.do(t, "DELETE", "/api/account?user_id=3", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"deleted_user":3`) {
		t.Errorf("delete: %d %s", code, body)
	}
	if code, body, _ = e.do(t, "GET", "/readyz", ""); code != http.StatusOK {
		t.Errorf("readyz: %d %s", code, body)
	}
	e.api.SetReady(false)
	if code, _, _ = e.do(t, "GET", "/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining: %d, want 503", code)
	}

	// The payment provider going away is a 502, not a 500.
	_ = pay.Close(context.Background())
	if code, body, _ = e.do(t, "POST", "/api/checkout", `{"user_id": 4, "amount_cents": 5}`); code != http.StatusBadGateway {
		t.Errorf("checkout with the provider down: %d %s, want 502", code, body)
	}

	// RED metrics: one histogram series per route, with exemplars.
	if n := testutil.CollectAndCount(e.reg, "lab_http_request_duration_seconds"); n < 5 {
		t.Errorf("%d duration series, want one per route and code used", n)
	}
	mfs, _ := e.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "lab_http_request_duration_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.Schema == nil || len(h.GetBucket()) == 0 {
			t.Errorf("duration histogram: native schema %v, %d classic buckets; want both", h.Schema, len(h.GetBucket()))
		}
	}
	// The services mode's gateway has no database: each service reports its own pool.
	if v, want := gaugeValue(t, e.reg, "lab_db_pool_max_connections"), map[bool]float64{false: 8, true: 0}[servicesMode]; v != want {
		t.Errorf("lab_db_pool_max_connections = %v, want %v", v, want)
	}
}

// gaugeValue reads a gathered gauge without labels.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(cfg *api.Config) {
		cfg.MaxBodyBytes = 1024
		cfg.Payments = api.PaymentsFunc(func(context.Context, int64, int64) (string, error) { return "ref", nil })
		cfg.Mailer = nopMailer{}
	})
	big := `{"user_id": 1, "amount_cents": 1, "x": "` + strings.Repeat("a", 2000) + `"}`
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/api/posts?limit=abc", "", 400},
		{"GET", "/api/posts?limit=0", "", 400},
		{"GET", "/api/posts?limit=1000", "", 400},
		{"GET", "/api/posts?limit=-5", "", 400},
		{"GET", "/api/posts/abc", "", 400},
		{"GET", "/api/posts/-1", "", 400},
		{"GET", "/api/posts/99999999", "", 404},
		{"GET", "/api/posts/1?comments=x", "", 400},
		{"GET", "/api/search", "", 400},
		{"GET", "/api/search?q=" + strings.Repeat("x", 101), "", 400},
		{"GET", "/api/search?q=%ff", "", 400},
		{"GET", "/api/feed?limit=101", "", 400},
		{"POST", "/api/checkout", `{"user_id": 1,`, 400},
		{"POST", "/api/checkout", ``, 400},
		{"POST", "/api/checkout", `[1, 2]`, 400},
		{"POST", "/api/checkout", `{"user_id": "one", "amount_cents": 1}`, 400},
		{"POST", "/api/checkout", `{"user_id": 1, "amount_cents": 1, "coupon": "x"}`, 400},
		{"POST", "/api/checkout", `{"user_id": 1, "amount_cents": 1} {}`, 400},
		{"POST", "/api/checkout", `{"user_id": 1, "amount_cents": 0}`, 400},
		{"POST", "/api/checkout", `{"user_id": 99999999, "amount_cents": 5}`, 404},
		{"POST", "/api/checkout", big, 413},
		{"POST", "/api/invites", `{"inviter_id": 1, "email": "not an email"}`, 400},
		{"POST", "/api/invites", `{"inviter_id": 1, "email": "Eve <eve@example.com>"}`, 400},
		{"POST", "/api/invites", `{"inviter_id": 99999999, "email": "eve@example.com"}`, 404},
		{"POST", "/api/videos", `{"owner_id": 1, "title": "", "size_bytes": 10}`, 400},
		{"POST", "/api/videos", `{"owner_id": 1, "title": "t", "size_bytes": 1099511627776}`, 400},
		{"POST", "/api/videos", `{"owner_id": 99999999, "title": "t", "size_bytes": 10}`, 404},
		{"DELETE", "/api/account", "", 400},
		{"DELETE", "/api/account?user_id=x", "", 400},
		{"DELETE", "/api/account?user_id=99999999", "", 404},
		{"GET", "/api/videos/x", "", 400},
		{"GET", "/api/videos/99999999", "", 404},
		{"GET", "/api/account/deletions/0", "", 400},
		{"GET", "/api/account/deletions/99999999", "", 404},
		{"DELETE", "/api/account/deletions/99999999", "", 404},
		{"GET", "/api/nope", "", 404},
		{"DELETE", "/api/posts", "", 405},
		{"PUT", "/admin/antipatterns", `{"n_plus_one": "yes"}`, 400},
		{"PUT", "/admin/antipatterns", `{"bogus": true}`, 400},
		{"PUT", "/admin/antipatterns", `{"antipatterns": "bogus"}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body[:min(len(tt.body), 30)], func(t *testing.T) {
			t.Parallel()
			code, body, _ := e.do(t, tt.method, tt.path, tt.body)
			if code != tt.want {
				t.Errorf("status %d, want %d: %s", code, tt.want, body)
			}
			var eb struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal(body, &eb); err != nil || eb.Error == "" || eb.Status != code {
				t.Errorf("body %q: want a JSON error body", body)
			}
		})
	}
}

// kicks counts the relay's nudges.
type kicks struct{ n atomic.Int64 }

func (k *kicks) Kick() { k.n.Add(1) }

// TestAsyncEndpointsWriteTheOutbox: with an outbox relay configured and the sync_ switches off,
// invites, videos and deletions answer 202 after committing their row with its jobs, which carry
// the request's trace context, and kick the relay.
func TestAsyncEndpointsWriteTheOutbox(t *testing.T) {
	t.Parallel()
	k := &kicks{}
	e := newEnv(t, nil, func(cfg *api.Config) { cfg.Outbox = k; cfg.Mailer = nopMailer{} })
	wantQueues := map[string][]string{}
	for _, c := range []struct {
		method, path, body string
		queues             []string
	}{
		{"POST", "/api/invites", `{"inviter_id": 3, "email": "friend@example.com"}`, []string{"email"}},
		{"POST", "/api/videos", `{"owner_id": 3, "title": "cats", "size_bytes": 1000}`, []string{"video.thumbnail", "video.encode", "video.subtitles"}},
		{"DELETE", "/api/account?user_id=4", "", []string{"account.delete"}},
	} {
		code, body, tid := e.do(t, c.method, c.path, c.body)
		if code != http.StatusAccepted {
			t.Fatalf("%s %s = %d %s, want 202", c.method, c.path, code, body)
		}
		wantQueues[tid] = c.queues
	}
	if k.n.Load() != 3 {
		t.Errorf("relay kicked %d times, want 3", k.n.Load())
	}
	pending, err := e.store.PendingOutbox(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, m := range pending {
		tid := strings.Split(m.Headers["traceparent"], "-")[1]
		got[tid] = append(got[tid], m.Queue)
	}
	if fmt.Sprint(got) != fmt.Sprint(wantQueues) {
		t.Errorf("outbox jobs by trace = %v, want %v", got, wantQueues)
	}
	// The deletion is visible and cancelable before any worker ran.
	code, body, _ := e.do(t, "DELETE", "/api/account/deletions/1", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"status":"canceled"`) {
		t.Errorf("cancel deletion: %d %s", code, body)
	}
	code, body, _ = e.do(t, "GET", "/api/videos/1", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"status":"processing"`) {
		t.Errorf("GET video: %d %s", code, body)
	}
}

type nopMailer struct{}

func (nopMailer) Send(context.Context, string, string, string) error { return nil }

func TestAdminAntipatterns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, lab.AntipatternSet{lab.NoCache: true})
	code, body, _ := e.do(t, "PUT", "/admin/antipatterns", `{"n_plus_one": true, "no_cache": false}`)
	if code != http.StatusOK || e.sw.Current().String() != "n_plus_one" {
		t.Fatalf("PUT flips: %d %s; now %s", code, body, e.sw.Current())
	}
	// The flip takes effect on the next request, measured.
	_, _, tid := e.do(t, "GET", "/api/posts?limit=20", "")
	if n := e.dbQueries(t, tid); n != 21 {
		t.Errorf("after enabling n_plus_one at run time: %d queries, want 21", n)
	}
	code, _, _ = e.do(t, "PUT", "/admin/antipatterns", `{"antipatterns": "none"}`)
	if code != http.StatusOK || e.sw.Current().String() != "none" {
		t.Errorf("PUT none: %d; now %s", code, e.sw.Current())
	}
	code, body, _ = e.do(t, "GET", "/admin/antipatterns", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"sync_logging":false`) {
		t.Errorf("GET: %d %s", code, body)
	}

	// Non-loopback clients are refused.
	for _, method := range []string{"GET", "PUT"} {
		req := httptest.NewRequestWithContext(t.Context(), method, "/admin/antipatterns", strings.NewReader(`{"antipatterns":"all"}`))
		req.RemoteAddr = "192.0.2.7:4321"
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("%s from 192.0.2.7: %d, want 403", method, rec.Code)
		}
	}
	if e.sw.Current().String() != "none" {
		t.Errorf("a refused PUT changed the switches: %s", e.sw.Current())
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:80": true, "127.0.0.2": true,
		"192.0.2.1:80": false, "[2001:db8::1]:80": false, "localhost:80": false, "": false,
	} {
		if got := api.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestAdminAntipatternsConcurrentPUTs: PUTs that each flip a different switch, sent at once over
// real connections, all take effect (issue 19 item 9: a read-modify-write lost some of them).
func TestAdminAntipatternsConcurrentPUTs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	all := lab.Antipatterns()
	// Each switch is flipped by several clients at once: more overlapping read-modify-writes per
	// round, so a lost update shows within the test's rounds.
	const perSwitch = 4
	for round := range 200 {
		e.sw.Set(nil)
		start := make(chan struct{})
		codes := make(chan int, perSwitch*len(all))
		for i := range perSwitch * len(all) {
			ap := all[i%len(all)]
			go func() {
				<-start
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, e.url+"/admin/antipatterns",
					strings.NewReader(`{"`+string(ap)+`": true}`))
				if err != nil {
					codes <- 0
					return
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					codes <- 0
					return
				}
				_ = resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		close(start)
		for range perSwitch * len(all) {
			if code := <-codes; code != http.StatusOK {
				t.Fatalf("round %d: a PUT answered %d, want 200", round, code)
			}
		}
		if got := e.sw.Current(); len(got) != len(all) {
			t.Fatalf("round %d: %d concurrent single-switch PUTs answered 200 but only %s is on: updates were lost",
				round, perSwitch*len(all), got)
		}
	}
}

// TestNotFoundAnswersCarryNoDriverText: a write that references a missing row (the store reports
// a FOREIGN KEY violation) answers 404 naming what is missing, without the driver's text, on every
// store (issue 19 item 11).
func TestNotFoundAnswersCarryNoDriverText(t *testing.T) {
	t.Parallel()
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, eng, nil, func(cfg *api.Config) {
				cfg.Payments = api.PaymentsFunc(func(context.Context, int64, int64) (string, error) { return "ref", nil })
				cfg.Mailer = nopMailer{}
			})
			for _, tt := range []struct{ method, path, body, want string }{
				{"POST", "/api/checkout", `{"user_id": 99999999, "amount_cents": 5}`, "user 99999999 not found"},
				{"POST", "/api/invites", `{"inviter_id": 99999999, "email": "eve@example.com"}`, "inviter user 99999999 not found"},
				{"POST", "/api/videos", `{"owner_id": 99999999, "title": "t", "size_bytes": 10}`, "owner user 99999999 not found"},
				{"GET", "/api/posts/99999999", "", "post 99999999 not found"},
			} {
				code, body, _ := e.do(t, tt.method, tt.path, tt.body)
				var eb struct{ Error string }
				if err := json.Unmarshal(body, &eb); err != nil {
					t.Fatalf("%s %s: body %q: %v", tt.method, tt.path, body, err)
				}
				if code != http.StatusNotFound || eb.Error != tt.want {
					t.Errorf("%s %s = %d %q, want 404 %q", tt.method, tt.path, code, eb.Error, tt.want)
				}
			}
		})
	}
}
