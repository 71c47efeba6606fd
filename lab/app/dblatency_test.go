package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/store/postgres/pgtest"
)

// TestDBLatency runs GET /api/posts with n_plus_one on each engine behind --db-latency and checks
// that every query's span took at least the latency: with PostgreSQL each crosses the netem link
// (the server's answers delayed by the latency), with SQLite each waits the emulated round trip.
// Tolerance: none below the latency (no wait of package pause ends before its deadline, and every
// delay counts from a moment inside the span), any above it (a shared machine adds what it adds;
// no upper bound is asserted).
func TestDBLatency(t *testing.T) {
	t.Parallel()
	const latency = 4 * time.Millisecond
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			cfg := app.Config{DBLatency: new(latency), Antipatterns: lab.AntipatternSet{lab.NPlusOne: true}}
			if engine == "postgres" {
				cfg.DB, cfg.PostgresSchema = pgtest.Schema(t)
			}
			a, rec := startRecorded(t, cfg)
			if !strings.Contains(a.Info().DB, "+4ms per round trip") {
				t.Errorf("Info().DB = %q; want it to state the added round trip", a.Info().DB)
			}
			code, tid := call(t, "GET", a.Info().URL+"/api/posts?limit=20", "")
			if code != 200 {
				t.Fatalf("GET /api/posts: %d", code)
			}
			n := 0
			for _, s := range rec.Ended() {
				if s.SpanContext().TraceID().String() != tid || !strings.HasPrefix(s.Name(), "SELECT ") {
					continue
				}
				n++
				if d := s.EndTime().Sub(s.StartTime()); d < latency {
					t.Errorf("%s took %v; want ≥ %v, one round trip", s.Name(), d, latency)
				}
			}
			if n != 21 {
				t.Errorf("%d queries; want 21 (the posts, then one per author)", n)
			}
		})
	}
}

func TestDBLatencyDefaultAndNone(t *testing.T) {
	t.Parallel()
	a, _ := startRecorded(t, app.Config{})
	if want := "+500µs per round trip (emulated"; !strings.Contains(a.Info().DB, want) {
		t.Errorf("default: Info().DB = %q; want it to contain %q", a.Info().DB, want)
	}
	b, _ := startRecorded(t, app.Config{DBLatency: new(time.Duration(0))})
	if strings.Contains(b.Info().DB, "round trip") {
		t.Errorf("--db-latency 0: Info().DB = %q; want the bare database", b.Info().DB)
	}
	if _, err := app.Start(t.Context(), app.Config{DBLatency: new(-time.Millisecond)}); err == nil || !strings.Contains(err.Error(), "database latency -1ms") {
		t.Errorf("negative latency: %v; want an error naming it", err)
	}
}
