package flame

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestUnderLoad: the load starts first, the profiles are fetched only after Delay, UnderLoad
// waits for the load to end, and the profiles and graphs are written. doctor's steady run and
// `headroom profile --rate` both profile through it.
func TestUnderLoad(t *testing.T) {
	t.Parallel()
	cpuProfiling.Lock()
	defer cpuProfiling.Unlock()
	var loadStart, fetchAt atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", func(w http.ResponseWriter, r *http.Request) {
		fetchAt.CompareAndSwap(0, time.Now().UnixNano())
		pprof.Profile(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	dir := filepath.Join(t.TempDir(), "prof")
	const delay = 300 * time.Millisecond
	loadEnded := false
	load := func(ctx context.Context) {
		loadStart.Store(time.Now().UnixNano())
		// The load outlasts the profiles: UnderLoad must wait for it.
		tm := time.NewTimer(1500 * time.Millisecond)
		defer tm.Stop()
		select {
		case <-ctx.Done():
		case <-tm.C:
		}
		loadEnded = true
	}
	p, err := UnderLoad(t.Context(), UnderLoadConfig{Fetch: FetchConfig{Duration: time.Second}, Delay: delay, Dir: dir}, srv.URL, load)
	if err != nil {
		t.Fatal(err)
	}
	if !loadEnded {
		t.Error("UnderLoad returned before the load ended")
	}
	if gap := time.Duration(fetchAt.Load() - loadStart.Load()); gap < delay {
		t.Errorf("profiles fetched %v after the load started: want at least the delay %v", gap, delay)
	}
	if p.Set.CPU == nil || p.Set.WallErr == nil {
		t.Errorf("cpu %v, wall error %v: want a CPU profile and the missing wall one's reason", p.Set.CPU != nil, p.Set.WallErr)
	}
	if len(p.Files) == 0 {
		t.Fatal("no files written")
	}
	for _, f := range p.Files {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}

	// A target without pprof: no Profiled, an error, and still the load ran to its end.
	loadEnded = false
	p, err = UnderLoad(t.Context(), UnderLoadConfig{Fetch: FetchConfig{Duration: time.Second, CPUPath: "/none"}, Dir: dir}, srv.URL, load)
	if p != nil || err == nil || !loadEnded {
		t.Errorf("without pprof: profiled %v, error %v, load ended %v: want nil, an error, true", p, err, loadEnded)
	}

	// ctx ending during the delay ends both.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if p, err := UnderLoad(ctx, UnderLoadConfig{Fetch: FetchConfig{Duration: time.Second}, Delay: time.Hour, Dir: dir}, srv.URL, load); p != nil || err == nil {
		t.Errorf("ended ctx: profiled %v, error %v: want nil and ctx's error", p, err)
	}
}
