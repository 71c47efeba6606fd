package edge_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/edge/functions"
	"github.com/headroom/headroom/lab/edge/httpcache"
	"github.com/headroom/headroom/lab/isolate"
)

// origin is a real HTTP server on loopback that counts the connections it accepts.
type origin struct {
	*httptest.Server
	conns atomic.Int64
}

func startOrigin(t testing.TB, h http.Handler) *origin {
	t.Helper()
	o := &origin{}
	o.Server = httptest.NewUnstartedServer(h)
	o.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			o.conns.Add(1)
		}
	}
	o.Start()
	t.Cleanup(o.Close)
	return o
}

func (o *origin) addr() string { return strings.TrimPrefix(o.URL, "http://") }

func startNode(t testing.TB, cfg edge.Config) *edge.Node {
	t.Helper()
	n, err := edge.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(context.Background()) })
	return n
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (*http.Response, string, time.Duration) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body), time.Since(start)
}

func TestNodeCarriesRequestsAcrossTheGeography(t *testing.T) {
	t.Parallel()
	var sawIdentity atomic.Bool
	o := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(edge.IdentityHeader) != "" {
			sawIdentity.Store(true)
		}
		_, _ = io.WriteString(w, "origin:"+r.URL.Path+":"+r.Header.Get("Traceparent"))
	}))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	const userRTT, originRTT = 4 * time.Millisecond, 30 * time.Millisecond
	n := startNode(t, edge.Config{Origin: o.addr(), TracerProvider: tp,
		Geography: edge.Geography{UserRTT: userRTT, OriginRTT: originRTT, Bare: true}})
	c := &http.Client{Timeout: 10 * time.Second}
	info := n.Info()

	// Through the edge: a user round trip, plus the origin's across the long link. The first
	// request opens the origin connection (TCP + TLS handshakes: two more round trips).
	_, body, first := get(t, c, info.URL+"/api/posts", edge.IdentityHeader, "sub=1; forged")
	if !strings.HasPrefix(body, "origin:/api/posts:00-") {
		t.Fatalf("body %q: want the origin's answer with the trace context the edge carried", body)
	}
	if sawIdentity.Load() {
		t.Error("the origin received a user's own identity header; the edge must drop it")
	}
	_, _, second := get(t, c, info.URL+"/api/posts")
	// Lower bounds only: a loaded machine adds time, never removes it.
	if first < userRTT+3*originRTT {
		t.Errorf("first request through the edge took %v; want ≥ %v (user RTT + origin RTT + TCP and TLS handshakes)", first, userRTT+3*originRTT)
	}
	if second < userRTT+originRTT {
		t.Errorf("second request took %v; want ≥ %v", second, userRTT+originRTT)
	}
	if got := o.conns.Load(); got != 1 {
		t.Errorf("origin accepted %d connections for 2 requests; want 1, kept alive", got)
	}
	_, body, direct := get(t, c, info.DirectURL+"/x")
	if body != "origin:/x:" {
		t.Fatalf("direct body %q", body)
	}
	if direct < userRTT+originRTT {
		t.Errorf("direct request took %v; want ≥ both distances, %v", direct, userRTT+originRTT)
	}

	tp.ForceFlush(t.Context())
	var edgeSpan, originSpan sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "edge GET /api/posts":
			edgeSpan = s
		case "edge → origin":
			originSpan = s
		}
	}
	if edgeSpan == nil || originSpan == nil {
		t.Fatalf("spans %v: want the edge's server span and its origin fetch", names(rec.Ended()))
	}
	if originSpan.Parent().SpanID() != edgeSpan.SpanContext().SpanID() {
		t.Error("the origin fetch is not a child of the edge span")
	}
	if !hasAttr(edgeSpan, attribute.String("headroom.tier", "edge")) || !hasAttr(edgeSpan, attribute.String("edge.answered_by", "origin")) {
		t.Errorf("edge span attributes %v", edgeSpan.Attributes())
	}
	if !hasAttr(originSpan, attribute.String("peer.service", "origin")) || !hasAttr(originSpan, attribute.String("edge.origin.pool", "main")) {
		t.Errorf("origin fetch attributes %v", originSpan.Attributes())
	}
}

func TestNoKeepAliveOpensAConnectionPerRequest(t *testing.T) {
	t.Parallel()
	o := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	const originRTT = 10 * time.Millisecond
	n := startNode(t, edge.Config{Origin: o.addr(), NoKeepAlive: true, Geography: edge.Geography{OriginRTT: originRTT, Bare: true}})
	c := &http.Client{Timeout: 10 * time.Second}
	for range 3 {
		_, _, took := get(t, c, n.Info().NodeURL+"/")
		if took < 3*originRTT {
			t.Errorf("request without keep-alive took %v; want ≥ %v: TCP and TLS handshakes and the request, a round trip each", took, 3*originRTT)
		}
	}
	if got := o.conns.Load(); got != 3 {
		t.Errorf("origin accepted %d connections for 3 requests; want 3", got)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  edge.Config
		want string
	}{
		{edge.Config{}, "Origin"},
		{edge.Config{Origin: "127.0.0.1:1", Geography: edge.Geography{UserRTT: -time.Millisecond}}, "UserRTT"},
		{edge.Config{Origin: "127.0.0.1:1", Geography: edge.Geography{OriginRTT: time.Millisecond, OriginJitter: 2 * time.Millisecond}}, "OriginJitter"},
	} {
		if _, err := edge.Start(t.Context(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v; want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func hasAttr(s sdktrace.ReadOnlySpan, kv attribute.KeyValue) bool {
	for _, a := range s.Attributes() {
		if a == kv {
			return true
		}
	}
	return false
}

func TestCacheAnswersAtTheEdge(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int64
	o := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = io.WriteString(w, "asset")
	}))
	c, err := httpcache.New(httpcache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	n := startNode(t, edge.Config{Origin: o.addr(), Cache: c, TracerProvider: tp, Geography: edge.Geography{OriginRTT: 20 * time.Millisecond, Bare: true}})
	client := &http.Client{Timeout: 10 * time.Second}
	resp, _, _ := get(t, client, n.Info().NodeURL+"/static/app.js")
	if got := resp.Header.Get("Cache-Status"); !strings.Contains(got, "fwd=uri-miss") || !strings.Contains(got, "stored") {
		t.Errorf("first Cache-Status %q; want a stored miss", got)
	}
	resp, body, _ := get(t, client, n.Info().NodeURL+"/static/app.js")
	if got := resp.Header.Get("Cache-Status"); body != "asset" || !strings.HasPrefix(got, "headroom-edge; hit") {
		t.Errorf("second answer %q with Cache-Status %q; want the stored asset, a hit", body, got)
	}
	if got := fetches.Load(); got != 1 {
		t.Errorf("the origin answered %d times; want 1, the hit served at the edge", got)
	}
	tp.ForceFlush(t.Context())
	var hits int
	for _, s := range rec.Ended() {
		if s.Name() == "edge GET /static/app.js" && hasAttr(s, attribute.String("edge.answered_by", "cache")) && hasAttr(s, attribute.Bool("edge.cache.hit", true)) {
			hits++
		}
	}
	if hits != 1 {
		t.Errorf("%d edge spans say the cache answered; want 1 (spans %v)", hits, names(rec.Ended()))
	}
}

// TestStaleIfErrorWhenTheOriginDies: the origin is killed while the edge holds its answer; past
// freshness, within stale-if-error, the edge keeps serving the stored answer and says so.
func TestStaleIfErrorWhenTheOriginDies(t *testing.T) {
	t.Parallel()
	o := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=1, stale-if-error=600")
		_, _ = io.WriteString(w, "page")
	}))
	var skew atomic.Int64 // the cache's clock runs ahead of the wall clock by this much
	c, err := httpcache.New(httpcache.Config{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, edge.Config{Origin: o.addr(), Cache: c, Geography: edge.Geography{Bare: true}})
	client := &http.Client{Timeout: 10 * time.Second}
	if resp, _, _ := get(t, client, n.Info().NodeURL+"/page"); !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
		t.Fatalf("first answer not stored: Cache-Status %q", resp.Header.Get("Cache-Status"))
	}
	o.CloseClientConnections()
	o.Close()
	skew.Store(int64(time.Minute)) // stale now, well within stale-if-error
	resp, body, _ := get(t, client, n.Info().NodeURL+"/page")
	if resp.StatusCode != http.StatusOK || body != "page" || !strings.Contains(resp.Header.Get("Cache-Status"), "stale-if-error") {
		t.Errorf("with the origin dead: %d %q, Cache-Status %q; want the stored page, served stale-if-error", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
	}
}

// TestResponseFunctionBoundsWhatItHolds: the prefs function changes a page within the isolate's
// body bound; a larger page streams to the client whole and unchanged, never held in memory.
func TestResponseFunctionBoundsWhatItHolds(t *testing.T) {
	t.Parallel()
	const bound = 4096
	rt, err := isolate.New(t.Context(), isolate.Config{CacheDir: t.TempDir(), MaxBodyBytes: bound})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	wasm, err := functions.Module("prefs")
	if err != nil {
		t.Fatal(err)
	}
	f, err := rt.Load(t.Context(), "prefs", wasm)
	if err != nil {
		t.Fatal(err)
	}
	o := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<html lang="en"><body>`)
		if r.URL.Path == "/big" {
			_, _ = io.WriteString(w, strings.Repeat("x", 3*bound))
		}
		_, _ = io.WriteString(w, `</body></html>`)
	}))
	n := startNode(t, edge.Config{Origin: o.addr(), Isolates: rt, Functions: []edge.Function{{Fn: f, OnResponse: true}}, Geography: edge.Geography{Bare: true}})
	c := &http.Client{Timeout: 10 * time.Second}
	if _, body, _ := get(t, c, n.Info().NodeURL+"/small", "Cookie", "prefs=theme=dark"); !strings.Contains(body, `data-theme="dark"`) {
		t.Errorf("small page %q: want the dark theme applied", body)
	}
	_, body, _ := get(t, c, n.Info().NodeURL+"/big", "Cookie", "prefs=theme=dark")
	if want := `<html lang="en"><body>` + strings.Repeat("x", 3*bound) + `</body></html>`; body != want {
		t.Errorf("big page: %d bytes, changed or cut; want the origin's %d bytes unchanged", len(body), len(want))
	}
}
