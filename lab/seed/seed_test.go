package seed_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/lab/store/sqlite"
)

func open(t *testing.T) lab.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "lab.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	cfg := seed.Config{Users: 30, PostsPerUser: 3, CommentsPerPost: 2, BatchRows: 17}
	a, b := open(t), open(t)
	ra, err := seed.Run(t.Context(), a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := seed.Run(t.Context(), b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ra != rb || ra.Counts.Users != 30 || ra.Counts.Posts != 90 || ra.Counts.Comments == 0 {
		t.Fatalf("results differ or wrong: %+v vs %+v", ra, rb)
	}
	fa, _ := a.Feed(t.Context(), 10)
	fb, _ := b.Feed(t.Context(), 10)
	if !reflect.DeepEqual(fa, fb) {
		t.Error("same config, different feeds")
	}
	// Reseeding a populated store writes nothing.
	again, err := seed.Run(t.Context(), a, cfg)
	if err != nil || !again.Skipped || again.Counts != ra.Counts {
		t.Errorf("second Run = %+v, %v; want skipped with the same counts", again, err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if _, err := seed.Run(t.Context(), open(t), seed.Config{Users: -1}); err == nil {
		t.Error("negative users: no error")
	}
}
