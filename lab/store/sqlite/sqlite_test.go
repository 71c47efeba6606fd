package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/store/sqlite"
	"github.com/headroom/headroom/lab/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) lab.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "lab.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// TestConformanceWithRoundTripDelay: the emulated network changes timing only, never results
// (transactions, prepared statements, errors all pass through it).
func TestConformanceWithRoundTripDelay(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) lab.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "lab.db"), RoundTripDelay: 100 * time.Microsecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// TestRoundTripDelay: N statements through the store take at least N delays (a lower bound only:
// timers never fire early, a shared machine may add any time).
func TestRoundTripDelay(t *testing.T) {
	t.Parallel()
	const d, n = 2 * time.Millisecond, 20
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "lab.db"), RoundTripDelay: d})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	for range n {
		if err := s.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := time.Since(start); got < n*d {
		t.Errorf("%d statements took %v, want ≥ %v (%d × %v)", n, got, n*d, n, d)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lab.db")
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(t.Context(), "Ada", "ada@x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(t.Context(), sqlite.Config{Path: path}) // migrations must not re-run
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.Counts(t.Context())
	if err != nil || c.Users != 1 {
		t.Fatalf("Counts = %+v, %v; want 1 user", c, err)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	if _, err := sqlite.Open(t.Context(), sqlite.Config{}); err == nil {
		t.Error("Open with empty path: no error")
	}
	if _, err := sqlite.Open(t.Context(), sqlite.Config{Path: "x", MaxOpenConns: -1}); err == nil {
		t.Error("Open with negative MaxOpenConns: no error")
	}
	if _, err := sqlite.Open(t.Context(), sqlite.Config{Path: "x", RoundTripDelay: -time.Millisecond}); err == nil {
		t.Error("Open with negative RoundTripDelay: no error")
	}
}
