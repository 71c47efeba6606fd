package flame

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	rpprof "runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCollect profiles a loopback server whose CPU work runs under a route label, as the lab's
// handlers do, and a server without fgprof: the CPU graphs must be split per route, the missing
// wall profile recorded, and every file written.
func TestCollect(t *testing.T) {
	t.Parallel()
	cpuProfiling.Lock()
	defer cpuProfiling.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, route := range []string{"GET /spin", "GET /spin/{id}"} {
		go rpprof.Do(ctx, rpprof.Labels(RouteLabel, route), func(ctx context.Context) {
			x := 0
			for ctx.Err() == nil {
				for i := range 100_000 {
					x += i * i
				}
				runtime.Gosched()
			}
			_ = x
		})
	}
	s, err := Collect(t.Context(), FetchConfig{Duration: time.Second}, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU == nil || s.Wall != nil || s.WallErr == nil || !strings.Contains(s.WallErr.Error(), "404") {
		t.Fatalf("cpu %v, wall %v, wall error %v: want a CPU profile and a 404 for the wall one", s.CPU != nil, s.Wall != nil, s.WallErr)
	}
	gs, err := s.Graphs()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
		checkSVG(t, g.SVG)
	}
	for _, want := range []string{"cpu", "cpu-GET_spin", "cpu-GET_spin_id"} {
		if !slices.Contains(names, want) {
			t.Errorf("graphs %v lack %s", names, want)
		}
	}
	dir := filepath.Join(t.TempDir(), "out")
	paths, err := s.WriteDir(dir, gs)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 1+2*len(gs) {
		t.Errorf("wrote %v: want cpu.pb.gz and a .folded and .svg per graph", paths)
	}
	b, err := os.ReadFile(filepath.Join(dir, "cpu.pb.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b); err != nil {
		t.Errorf("saved cpu.pb.gz: %v", err)
	}
	// Both spinning routes are all the CPU there is: each is a hot spot of its own route.
	for _, f := range s.Hotspots(HotspotConfig{}) {
		if f.Endpoint == "" || f.Kind != "cpu_hotspot" {
			t.Errorf("finding %+v: want a per-route cpu_hotspot", f)
		}
	}
	if _, err := Collect(t.Context(), FetchConfig{Duration: time.Second, CPUPath: "/none"}, srv.URL); err == nil {
		t.Error("Collect succeeded with neither profile served")
	}
}

// cpuProfiling serializes the tests that take a CPU profile: the runtime allows one at a time.
var cpuProfiling sync.Mutex

func TestFileSafe(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"GET /api/posts/{id}": "GET_api_posts_id",
		"/":                   "route",
		"POST /a-b.c":         "POST_a-b.c",
	} {
		if got := fileSafe(in); got != want {
			t.Errorf("fileSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
