package sqlite_test

import (
	"path/filepath"
	"testing"

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
}
