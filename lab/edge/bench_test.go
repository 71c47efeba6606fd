package edge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/edge/functions"
	"github.com/headroom/headroom/lab/edge/httpcache"
	"github.com/headroom/headroom/lab/isolate"
)

// BenchmarkNodeAuthReject is the edge's own cost of a rejection: the node's handler runs the
// warm auth isolate on a request without a token and writes the 401 — no network, no link.
// It reports the P50 and P99 of the calls (the target: P99 ≤ 100 µs).
func BenchmarkNodeAuthReject(b *testing.B) {
	rt, err := isolate.New(b.Context(), isolate.Config{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Close(b.Context()) })
	wasm, err := functions.Module("auth")
	if err != nil {
		b.Fatal(err)
	}
	f, err := rt.Load(b.Context(), "auth", wasm)
	if err != nil {
		b.Fatal(err)
	}
	o := startOrigin(b, http.NotFoundHandler())
	n := startNode(b, edge.Config{Origin: o.addr(), Isolates: rt, Functions: []edge.Function{{Fn: f, Prefixes: []string{"/api/me"}}},
		Geography: edge.Geography{Bare: true}})
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/api/me", nil)
	benchNode(b, n, req, http.StatusUnauthorized)
}

// BenchmarkNodeCacheHit is the edge's own cost of a hit: the node's handler answers a stored
// 4 KiB asset from its cache (the target: P50 ≤ 1 ms end to end).
func BenchmarkNodeCacheHit(b *testing.B) {
	body := make([]byte, 4096)
	o := startOrigin(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(body)
	}))
	c, err := httpcache.New(httpcache.Config{})
	if err != nil {
		b.Fatal(err)
	}
	n := startNode(b, edge.Config{Origin: o.addr(), Cache: c, Geography: edge.Geography{Bare: true}})
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/static/app.js", nil)
	n.ServeHTTP(httptest.NewRecorder(), req) // stored
	benchNode(b, n, req, http.StatusOK)
}

func benchNode(b *testing.B, n *edge.Node, req *http.Request, want int) {
	b.Helper()
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		start := time.Now()
		n.ServeHTTP(rec, req)
		took = append(took, time.Since(start))
		if rec.Code != want {
			b.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
		}
		_, _ = io.Copy(io.Discard, rec.Body)
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}
