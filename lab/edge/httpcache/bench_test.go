package httpcache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// discardWriter is a reusable ResponseWriter, so that BenchmarkHit measures the cache alone.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func benchOrigin(b *testing.B) Fetcher {
	body := make([]byte, 4<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "text/css")
		w.Header().Set("ETag", `"b"`)
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return FetcherFunc(func(r *http.Request) (*http.Response, error) {
		r.URL.Scheme, r.URL.Host = "http", srv.Listener.Addr().String()
		return srv.Client().Transport.RoundTrip(r)
	})
}

// BenchmarkHit is the cache's own share of a hit (a 4 KiB stored response): lookup, freshness,
// headers and body written to a writer that discards them.
func BenchmarkHit(b *testing.B) {
	c, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	origin := benchOrigin(b)
	r := httptest.NewRequest(http.MethodGet, "http://edge.test/static/app.css", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	w := &discardWriter{h: http.Header{}}
	if res := c.Serve(w, r, origin); !res.Stored {
		b.Fatalf("not stored: %+v", res)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		if res := c.Serve(w, r, origin); !res.Hit {
			b.Fatalf("not a hit: %+v", res)
		}
	}
}

// BenchmarkHitLoopback is a hit end to end through an edge server on loopback (keep-alive
// client, no added latency), with its median reported as p50-µs.
func BenchmarkHitLoopback(b *testing.B) {
	c, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	origin := benchOrigin(b)
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.Serve(w, r, origin) }))
	b.Cleanup(edge.Close)
	client := edge.Client()
	get := func() {
		resp, err := client.Get(edge.URL + "/static/app.css")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get()
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		get()
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	if st := c.Stats(); st.Hit == 0 {
		b.Fatalf("no hit: %+v", st)
	}
}
