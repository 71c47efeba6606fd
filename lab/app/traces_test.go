package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/lab/store/postgres/pgtest"
)

func startRecorded(t *testing.T, cfg app.Config) (*app.App, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	cfg.Addr = "127.0.0.1:0"
	if cfg.DB == "" {
		cfg.DB = "sqlite:" + filepath.Join(t.TempDir(), "lab.db")
	}
	cfg.Seed = seed.Config{Users: 10, PostsPerUser: 2, CommentsPerPost: 2}
	cfg.MailLatency, cfg.LogLatency, cfg.PaymentLatency = fast(), fast(), fast()
	cfg.SpanProcessors = append(cfg.SpanProcessors, rec)
	cfg.Log = io.Discard
	a, err := app.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	return a, rec
}

// call sends a request with a fresh sampled traceparent and returns the status and the trace id.
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	traceID := hex.EncodeToString(id)
	req.Header.Set("traceparent", "00-"+traceID+"-0102030405060708-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, traceID
}

// spansOf returns "name kind" of the spans of one trace.
func spansOf(rec *tracetest.SpanRecorder, traceID string) []string {
	var out []string
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID().String() == traceID {
			out = append(out, s.Name()+" "+s.SpanKind().String())
		}
	}
	return out
}

func has(spans []string, prefix string) bool {
	for _, s := range spans {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestOutgoingCallsAreTraced(t *testing.T) {
	t.Parallel()
	a, rec := startRecorded(t, app.Config{Antipatterns: lab.AntipatternSet{lab.SyncLogging: true, lab.SyncEmail: true}})
	url := a.Info().URL

	code, tid := call(t, "POST", url+"/api/invites", `{"inviter_id":1,"email":"f@example.com"}`)
	spans := spansOf(rec, tid)
	if code != 201 || !has(spans, "POST /api/invites server") || !has(spans, "smtp send client") || !has(spans, "INSERT invites client") {
		t.Errorf("invite %d: spans %v; want the server span, an SMTP client span and DB spans", code, spans)
	}
	// sync_logging: the log shipment is an HTTP client span inside the request's trace.
	if !has(spans, "HTTP POST client") && !has(spans, "POST client") {
		t.Errorf("sync_logging on: no HTTP client span for the log shipment in %v", spans)
	}

	code, tid = call(t, "POST", url+"/api/checkout", `{"user_id":1,"amount_cents":5}`)
	spans = spansOf(rec, tid)
	n := 0
	for _, s := range spans {
		if strings.HasSuffix(s, " client") && strings.Contains(s, "POST") {
			n++
		}
	}
	if code != 201 || n < 2 { // the charge and the log shipment
		t.Errorf("checkout %d: spans %v; want HTTP client spans for the payment and the log line", code, spans)
	}
}

func TestConcurrentMixedLoadHasNoServerErrors(t *testing.T) {
	t.Parallel()
	a, _ := startRecorded(t, app.Config{})
	url := a.Info().URL
	// The server's graceful shutdown waits up to 5 s for connections that were dialed but never
	// used; close the client's idle ones first (cleanups run last-in, first-out).
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(client.CloseIdleConnections)
	reqs := []struct{ method, path, body string }{
		{"GET", "/api/posts?limit=20", ""},
		{"GET", "/api/posts/3", ""},
		{"GET", "/api/search?q=latency", ""},
		{"GET", "/api/feed", ""},
		{"POST", "/api/checkout", `{"user_id":2,"amount_cents":5}`},
		{"POST", "/api/invites", `{"inviter_id":2,"email":"x@example.com"}`},
		{"POST", "/api/videos", `{"owner_id":2,"title":"t","size_bytes":1000}`},
	}
	var wg sync.WaitGroup
	errs := make(chan string, 400)
	for i := range 210 {
		r := reqs[i%len(reqs)]
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(t.Context(), r.method, url+r.path, strings.NewReader(r.body))
			resp, err := client.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				errs <- fmt.Sprintf("%s %s: %d", r.method, r.path, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestRedisCache(t *testing.T) {
	t.Parallel()
	url := redisURL(t)
	prefix := make([]byte, 6)
	_, _ = rand.Read(prefix)
	a, rec := startRecorded(t, app.Config{Cache: url, CacheKeyPrefix: "headroom:test:" + hex.EncodeToString(prefix) + ":"})
	if !strings.HasPrefix(a.Info().Cache, "redis") {
		t.Fatalf("cache = %q", a.Info().Cache)
	}
	for range 3 {
		if code, _ := call(t, "GET", a.Info().URL+"/api/feed?limit=7", ""); code != 200 {
			t.Fatalf("feed: %d", code)
		}
	}
	feeds, gets := 0, 0
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "db.query.text" && strings.Contains(kv.Value.AsString(), "LEFT JOIN comments") {
				feeds++
			}
			if kv.Key == "db.query.text" && strings.HasPrefix(kv.Value.AsString(), "GET ") {
				gets++
			}
		}
	}
	if feeds != 1 || gets != 3 {
		t.Errorf("3 feed requests with Redis: %d feed queries, %d Redis GETs; want 1 and 3", feeds, gets)
	}
}

func redisURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("HEADROOM_TEST_REDIS")
	if url == "" {
		t.Skip("HEADROOM_TEST_REDIS is not set (e.g. redis://127.0.0.1:6379/0): skipping Redis tests")
	}
	return url
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	url, schema := pgtest.Schema(t)
	a, rec := startRecorded(t, app.Config{DB: url, PostgresSchema: schema, Antipatterns: lab.AntipatternSet{lab.NPlusOne: true}})
	if info := a.Info(); !strings.HasPrefix(info.DB, "postgres") || info.Data.Posts != 20 {
		t.Fatalf("info = %+v", info)
	}
	code, tid := call(t, "GET", a.Info().URL+"/api/posts?limit=20", "")
	n := 0
	for _, s := range spansOf(rec, tid) {
		if strings.HasPrefix(s, "SELECT ") {
			n++
		}
	}
	if code != 200 || n != 21 {
		t.Errorf("GET /api/posts?limit=20 with n_plus_one on PostgreSQL: %d, %d queries; want 200, 21", code, n)
	}
}
