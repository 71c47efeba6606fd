package api_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/lab/store/sqlite"
)

// BenchmarkListPosts serves GET /api/posts?limit=20 in process (no network, no spans) with
// n_plus_one on and off: the cost of 21 statements against 2 on embedded SQLite.
func BenchmarkListPosts(b *testing.B) {
	st, err := sqlite.Open(b.Context(), sqlite.Config{Path: filepath.Join(b.TempDir(), "lab.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if _, err := seed.Run(b.Context(), st, seed.Config{Users: 100, PostsPerUser: 2, CommentsPerPost: 2}); err != nil {
		b.Fatal(err)
	}
	for _, on := range []bool{true, false} {
		name := "batched"
		if on {
			name = "n_plus_one"
		}
		b.Run(name, func(b *testing.B) {
			a, err := api.New(api.Config{Store: st, Switches: lab.NewSwitches(lab.AntipatternSet{lab.NPlusOne: on})})
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/api/posts?limit=20", nil)
			for b.Loop() {
				rec := httptest.NewRecorder()
				a.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
