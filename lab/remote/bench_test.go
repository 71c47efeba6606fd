package remote_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/headroom/headroom/lab/remote"
)

// slowTail answers in about 1 ms, but 1 request in 100, at random, in 200 ms: a dependency with
// a 1 % slow tail, as in The Tail at Scale.
func slowTail(_ http.ResponseWriter, r *http.Request) {
	d := time.Millisecond
	if rand.IntN(100) == 0 {
		d = 200 * time.Millisecond
	}
	select {
	case <-r.Context().Done():
	case <-time.After(d):
	}
}

// BenchmarkHedging calls a dependency with a 1 % slow tail one call at a time, without and with
// a hedge after 10 ms, and reports the call's P50 and P99.9 and the requests sent beyond one per
// call. The target: P99.9 cut ≥ 5× for ≤ 5 % extra requests. P99.9 needs thousands of
// calls: run with -benchtime=5000x.
func BenchmarkHedging(b *testing.B) {
	for _, bc := range []struct {
		name  string
		hedge time.Duration
	}{{"plain", 0}, {"hedged", 10 * time.Millisecond}} {
		b.Run(bc.name, func(b *testing.B) {
			srv, n := counted(b, slowTail)
			c := newClient(b, remote.Config{BaseURL: srv.URL, HedgeDelay: bc.hedge, MaxAttempts: 1})
			// Warm the connection pool so the first calls do not pay for dialing.
			for range 4 {
				if err := c.Do(b.Context(), http.MethodGet, "/posts", "/posts", nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			n.Store(0)
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				if err := c.Do(b.Context(), http.MethodGet, "/posts", "/posts", nil, nil); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			q := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(q(0.5), "p50_ms")
			b.ReportMetric(q(0.999), "p99.9_ms")
			// Hedges that lost may still be in flight: their requests were counted on arrival.
			b.ReportMetric(100*float64(n.Load()-int64(len(lat)))/float64(len(lat)), "extra_req_%")
		})
	}
}

// BenchmarkCallOverhead is one GET to a loopback peer that answers at once: the client's whole
// cost (failsafe-go's policies, the spans with a recording provider, JSON) plus the HTTP round
// trip, against the same request made with a bare net/http client (sub-benchmark "bare").
func BenchmarkCallOverhead(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":7,"title":"t"}`))
	}))
	b.Cleanup(srv.Close)
	b.Run("bare", func(b *testing.B) {
		c := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		for b.Loop() {
			resp, err := c.Get(srv.URL + "/posts/7")
			if err != nil {
				b.Fatal(err)
			}
			var v map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&v)
			_ = resp.Body.Close()
		}
	})
	b.Run("remote", func(b *testing.B) {
		c := newClient(b, remote.Config{BaseURL: srv.URL, TracerProvider: sdktrace.NewTracerProvider()})
		for b.Loop() {
			var v map[string]any
			if err := c.Do(b.Context(), http.MethodGet, "/posts/{id}", "/posts/7", nil, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
