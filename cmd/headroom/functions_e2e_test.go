package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/result"
)

// TestColdStartOnRealTraces runs the lab's api function (real instances of the lab binary)
// exporting to `headroom collect`, with an idle reclaim so short that invocations spaced apart
// start cold while back-to-back ones stay warm, and checks that diagnose finds the cold_start
// from the traces alone: the function, its cold and warm invocations, the init phases.
func TestColdStartOnRealTraces(t *testing.T) {
	t.Parallel()
	labBin, err := exec.LookPath("headroom-lab") // TestMain puts this test binary there, as the lab
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "traces.jsonl")
	col := startCollect(t, out, "--complete-after", "10m", "--max-idle", "10m")
	a, err := app.Start(t.Context(), app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(dir, "lab.db"),
		Seed: seed.Config{Users: 10, PostsPerUser: 2, CommentsPerPost: 1},
		Log:  io.Discard, OTLP: "http://" + col.addr,
		Functions: &app.FunctionsConfig{Command: labBin, IdleTimeout: 50 * time.Millisecond, Concurrency: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	get := func() {
		t.Helper()
		n++
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.Info().URL+"/fn/api/api/posts/1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("traceparent", fmt.Sprintf("00-%032x-%016x-01", 0xf00000+n, 0xba0000+n))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /fn/api/api/posts/1 = %d", resp.StatusCode)
		}
	}
	const colds, warmsEach = 4, 5
	for range colds {
		time.Sleep(300 * time.Millisecond) // past the idle reclaim (50 ms, checked every 12.5 ms)
		for range 1 + warmsEach {
			get()
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	col.stop(t)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	traces, err := diagnose.ReadJSONL(f)
	if err != nil {
		t.Fatal(err)
	}
	fs := diagnose.Diagnose(traces, diagnose.Config{})
	streamMatches(t, out, diagnose.Config{})
	var fn *result.FunctionBreakdown
	for i := range fs.Functions {
		if fs.Functions[i].Function == app.FunctionAPI {
			fn = &fs.Functions[i]
		}
	}
	if fn == nil {
		t.Fatalf("no breakdown of the api function: %+v", fs.Functions)
	}
	if fn.Invocations != colds*(1+warmsEach) || fn.Cold.Requests != colds {
		t.Errorf("api: %d invocations, %d cold; want %d and %d", fn.Invocations, fn.Cold.Requests, colds*(1+warmsEach), colds)
	}
	if len(fn.Init) == 0 {
		t.Errorf("api: no init phases (faas.start, faas.init): %+v", fn)
	}
	t.Logf("api: %+v", *fn)
	found := false
	for _, fd := range fs.Findings {
		found = found || fd.Kind == result.KindColdStart
	}
	if !found {
		t.Errorf("no cold_start finding; findings: %+v", fs.Findings)
	}
}
