package app_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/deps"
	"github.com/headroom/headroom/lab/identity"
	"github.com/headroom/headroom/lab/seed"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/openmetrics-text")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func fast() *deps.Latency { return &deps.Latency{} }

func TestStartServeShutdown(t *testing.T) {
	t.Parallel()
	var exports atomic.Int64
	otlp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			exports.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(otlp.Close)

	var logs bytes.Buffer
	a, err := app.Start(t.Context(), app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "lab.db"),
		Antipatterns: lab.AntipatternSet{lab.NPlusOne: true},
		OTLP:         otlp.URL,
		Seed:         seed.Config{Users: 10, PostsPerUser: 2, CommentsPerPost: 2},
		MailLatency:  fast(), LogLatency: fast(), PaymentLatency: fast(),
		Log: &syncBuffer{b: &logs, mu: make(chan struct{}, 1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	info := a.Info()
	if info.Data.Users != 10 || info.Data.Posts != 20 || !info.Seeded || info.Antipatterns != "n_plus_one" {
		t.Errorf("info = %+v", info)
	}
	if code, body := get(t, info.URL+"/api/posts?limit=5"); code != 200 || !strings.Contains(body, `"author"`) {
		t.Errorf("posts: %d %s", code, body)
	}
	code, metrics := get(t, info.Metrics)
	if code != 200 || !strings.Contains(metrics, `route="GET /api/posts"`) || !strings.Contains(metrics, "lab_http_request_duration_seconds_bucket") ||
		!strings.Contains(metrics, "trace_id") || !strings.Contains(metrics, "lab_db_pool_in_use_connections") {
		t.Errorf("metrics: %d, missing RED histogram with exemplars or pool gauges:\n%s", code, labLines(metrics))
	}
	if code, body := get(t, info.URL+"/admin/info"); code != 200 || !strings.Contains(body, `"antipatterns":"n_plus_one"`) || !strings.Contains(body, `"posts":20`) {
		t.Errorf("admin/info: %d %s", code, body)
	}
	if code, body := get(t, info.Pprof); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index: %d", code)
	}
	if code, _ := get(t, info.URL+"/debug/fgprof?seconds=1"); code != 200 {
		t.Errorf("fgprof: %d", code)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exports.Load() == 0 {
		t.Error("no OTLP export reached the collector")
	}
	if !strings.Contains(logs.String(), `"trace_id"`) || !strings.Contains(logs.String(), `"route":"GET /api/posts"`) {
		t.Errorf("logs lack the access line with a trace id:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu chan struct{}
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

func TestShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	hit, release := make(chan struct{}), make(chan struct{})
	payments := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(hit)
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"ch_1","status":"succeeded"}`)
	}))
	t.Cleanup(payments.Close)
	a, err := app.Start(t.Context(), app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "lab.db"), PaymentURL: payments.URL,
		Seed: seed.Config{Users: 5, PostsPerUser: 1, CommentsPerPost: 1}, MailLatency: fast(), LogLatency: fast(),
		Log: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(a.Info().URL, "http://")
	codes := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, a.Info().URL+"/api/checkout", strings.NewReader(`{"user_id":1,"amount_cents":100}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			codes <- -1
			return
		}
		resp.Body.Close()
		codes <- resp.StatusCode
	}()
	<-hit // the checkout is in flight, waiting for the provider
	shut := make(chan error, 1)
	go func() { shut <- a.Shutdown(context.Background()) }()
	// Wait until the listener is closed, then let the in-flight request finish.
	for {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(t.Context(), "tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		select {
		case <-time.After(5 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
	close(release)
	if code := <-codes; code != http.StatusCreated {
		t.Errorf("in-flight checkout answered %d during shutdown, want 201", code)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []app.Config{
		{Addr: "nope"},
		{DB: "mysql://x"},
		{DB: "sqlite:"},
		{Cache: "memcached://x"},
		{Seed: seed.Config{Users: -1}},
		{DBMaxConns: -1},
		{TokenAlg: "none"},
		{SessionTTL: -time.Second},
		{Keys: &identity.Keys{}},
		{Keys: ptr(identity.NewKeys()), KeysFile: filepath.Join(t.TempDir(), "keys.json")},
		{OTLP: "127.0.0.1:4318", Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "x.db")},
	} {
		if a, err := app.Start(t.Context(), cfg); err == nil {
			_ = a.Shutdown(context.Background())
			t.Errorf("Start(%+v): no error", cfg)
		}
	}
}

func labLines(metrics string) string {
	var out []string
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "lab_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAdminAndDebugAnswerLoopbackOrToken: on a lab reachable from other hosts, the admin and
// debug endpoints (lab state, queues, dead-letter payloads, profiles) answer only loopback
// clients or requests with the admin token; the API and /metrics answer everyone (issue 19
// item 12). Remote clients are simulated with a RemoteAddr: no traffic leaves loopback.
func TestAdminAndDebugAnswerLoopbackOrToken(t *testing.T) {
	t.Parallel()
	const token = "s3cret"
	a, err := app.Start(t.Context(), app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "lab.db"),
		Seed:        seed.Config{Users: 2, PostsPerUser: 1},
		MailLatency: fast(), LogLatency: fast(), PaymentLatency: fast(),
		Log: io.Discard, AdminToken: token,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	serve := func(method, path, remote, auth string) int {
		req := httptest.NewRequestWithContext(t.Context(), method, path, nil)
		req.RemoteAddr = remote
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	const remote, local = "192.0.2.7:4321", "127.0.0.1:4321"
	guarded := []struct{ method, path string }{
		{"GET", "/admin/info"}, {"GET", "/admin/jobs"}, {"GET", "/admin/jobs/email/dead"},
		{"POST", "/admin/jobs/email/dead/x/replay"}, {"GET", "/admin/antipatterns"},
		{"GET", "/debug/pprof/"}, {"GET", "/debug/pprof/cmdline"}, {"GET", "/debug/pprof/symbol"},
		{"GET", "/debug/pprof/profile?seconds=1"}, {"GET", "/debug/pprof/trace?seconds=1"},
		{"GET", "/debug/fgprof?seconds=1"},
	}
	for _, g := range guarded {
		for _, auth := range []string{"", "Bearer wrong", token} {
			if code := serve(g.method, g.path, remote, auth); code != http.StatusForbidden {
				t.Errorf("%s %s from %s with Authorization %q = %d, want 403", g.method, g.path, remote, auth, code)
			}
		}
	}
	for _, path := range []string{"/admin/info", "/admin/jobs", "/admin/jobs/email/dead", "/debug/pprof/"} {
		if code := serve("GET", path, local, ""); code != http.StatusOK {
			t.Errorf("GET %s from %s = %d, want 200", path, local, code)
		}
		if code := serve("GET", path, remote, "Bearer "+token); code != http.StatusOK {
			t.Errorf("GET %s from %s with the admin token = %d, want 200", path, remote, code)
		}
	}
	for _, path := range []string{"/api/posts", "/metrics", "/healthz"} {
		if code := serve("GET", path, remote, ""); code != http.StatusOK {
			t.Errorf("GET %s from %s = %d, want 200", path, remote, code)
		}
	}
}
