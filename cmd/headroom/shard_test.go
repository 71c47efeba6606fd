package main

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

// loadShards runs the load command as n shards at once (in this process), starting together,
// and returns their merged result and the shards.
func loadShards(t *testing.T, n int, args ...string) (*result.Load, []*result.Load) {
	t.Helper()
	dir := t.TempDir()
	at := time.Now().Add(500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	var wg sync.WaitGroup
	files := make([]string, n)
	for i := range n {
		files[i] = filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		a := append([]string{"load"}, args...)
		a = append(a, "--shard", fmt.Sprintf("%d/%d", i, n), "--start-at", at, "--out", files[i], "-q")
		wg.Go(func() {
			var out, errb bytes.Buffer
			if code := run(a, &out, &errb); code != 0 && code != 3 {
				t.Errorf("shard %d: exit %d: %s", i, code, errb.String())
			}
		})
	}
	wg.Wait()
	var runs []*result.Load
	for _, f := range files {
		runs = append(runs, readLoadResult(t, f))
	}
	merged := filepath.Join(dir, "all.json")
	var out, errb bytes.Buffer
	if code := run(append([]string{"merge", "--out", merged}, files...), &out, &errb); code != 0 {
		t.Fatalf("merge: exit %d: %s", code, errb.String())
	}
	return readLoadResult(t, merged), runs
}

func readLoadResult(t *testing.T, path string) *result.Load {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := result.ReadLoad(f)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestShardedLoadIsTheWholeLoad: 4 shards on loopback against one target at a total rate R make
// the load of one process at R: the merged achieved rate within 2 % of R, the merged P50 and P99
// within the tolerance stated below of one process's, distinct trace ids; and a ramp's shape
// holds second by second in the merged timeline.
func TestShardedLoadIsTheWholeLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 14 s of load")
	}
	// A target with a known service time: 2 ms, so latency is the sleep plus loopback and the
	// scheduler, not noise around nothing.
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(2 * time.Millisecond) }))
	defer srv.Close()
	const rate = 400.0
	common := []string{srv.URL, "--duration", "3s", "--warmup", "500ms", "--connections", "16"}

	// Two runs of one process: how far apart they come out is part of the tolerance.
	dir := t.TempDir()
	var singles [2]*result.Load
	for i := range singles {
		one := filepath.Join(dir, fmt.Sprintf("one-%d.json", i))
		var out, errb bytes.Buffer
		if code := run(append([]string{"load", "--rate", strconv.Itoa(int(rate)), "--out", one, "-q"}, common...), &out, &errb); code != 0 && code != 3 {
			t.Fatalf("one process: exit %d: %s", code, errb.String())
		}
		singles[i] = readLoadResult(t, one)
	}

	merged, runs := loadShards(t, 4, append([]string{"--rate", strconv.Itoa(int(rate))}, common...)...)
	if merged.MergedFrom != 4 || merged.StartSpreadMS == nil {
		t.Fatalf("merged from %d runs, start spread %v: want 4 shards", merged.MergedFrom, merged.StartSpreadMS)
	}
	if d := math.Abs(merged.AchievedRPS-rate) / rate; d > 0.02 {
		t.Errorf("merged achieved %.1f/s, want %v/s within 2 %% (off by %.1f %%)", merged.AchievedRPS, rate, 100*d)
	}
	if math.Abs(merged.OfferedRPS-rate) > 1e-6 {
		t.Errorf("merged offered %v/s, want exactly %v/s", merged.OfferedRPS, rate)
	}
	// The tolerance of one process's percentiles: the merged one lies within it of the nearer of
	// the two single runs, the tolerance being the larger of how far apart those came out and a
	// floor for this shared 2-core machine, whose scheduler stalls reach the tail: P50 1 ms or
	// 25 %, P99 25 ms or 50 %. The P99's floor is wider because here four generators share the
	// 2 cores, which adds to the merged run's tail (measured: 9.8 ms against 4.6 and 3.9 ms of
	// one process, and under -race beside other builds 17.0 ms against 3.05 and 2.79 ms, all
	// valid, 2026-12-07), where N machines would not. So this P99 bound catches only gross
	// errors; the merge's exactness is result's tests', and a lost shard moves the rate, which
	// keeps a 2 % bound. When a run's verdict is invalid
	// (this machine, not the target, was the limit: its stalls reached the tail) the P99s
	// measure the machine, and are not compared.
	valid := singles[0].Verdict.Valid && singles[1].Verdict.Valid && merged.Verdict.Valid
	for _, p := range []struct {
		name         string
		got, a, b    float64
		abs, percent float64
	}{
		{"p50", merged.LatencyMS.P50, singles[0].LatencyMS.P50, singles[1].LatencyMS.P50, 1, 25},
		{"p99", merged.LatencyMS.P99, singles[0].LatencyMS.P99, singles[1].LatencyMS.P99, 25, 50},
	} {
		if p.name == "p99" && !valid {
			t.Logf("p99 not compared: a verdict is invalid: %q %q %q", singles[0].Verdict.Reasons, singles[1].Verdict.Reasons, merged.Verdict.Reasons)
			continue
		}
		tol := max(p.abs, (p.a+p.b)/2*p.percent/100, math.Abs(p.a-p.b))
		if d := min(math.Abs(p.got-p.a), math.Abs(p.got-p.b)); d > tol {
			t.Errorf("merged %s %.2f ms, one process %.2f and %.2f ms: want within %.2f ms", p.name, p.got, p.a, p.b, tol)
		}
	}
	t.Logf("one process: achieved %.1f/s p50 %.2f/%.2f ms p99 %.2f/%.2f ms; 4 shards merged: achieved %.1f/s p50 %.2f ms p99 %.2f ms, started within %.2f ms",
		singles[0].AchievedRPS, singles[0].LatencyMS.P50, singles[1].LatencyMS.P50, singles[0].LatencyMS.P99, singles[1].LatencyMS.P99,
		merged.AchievedRPS, merged.LatencyMS.P50, merged.LatencyMS.P99, *merged.StartSpreadMS)
	seen := map[string]int{}
	for i, r := range runs {
		for _, e := range r.Exemplars {
			if j, ok := seen[e.TraceID]; ok && j != i {
				t.Errorf("trace id %s in shards %d and %d", e.TraceID, j, i)
			}
			seen[e.TraceID] = i
		}
	}

	// A ramp from 100/s to 500/s over 3 s: the merged run holds exactly the ramp's 900 arrivals,
	// offers each second exactly the ramp's rate, and each second holds the ramp's arrivals of
	// that second within 10 % and 2 requests: the timeline counts by completion, and a stall of
	// this shared machine moves the requests it holds up across a second's end.
	ramp, _ := loadShards(t, 4, srv.URL, "--arrival", "ramp", "--from", "100", "--to", "500", "--duration", "3s", "--connections", "16")
	if ramp.Requests != 900 {
		t.Errorf("ramp: %d requests, want the ramp's 900", ramp.Requests)
	}
	if len(ramp.Timeline) != 3 {
		t.Fatalf("ramp timeline of %d seconds, want 3", len(ramp.Timeline))
	}
	for i, s := range ramp.Timeline {
		want := 100 + 400*(float64(i)+0.5)/3 // the ramp's mean rate over second i
		if math.Abs(s.OfferedRPS-want) > 1e-6 {
			t.Errorf("ramp second %d offered %.2f/s, want %.2f/s", i, s.OfferedRPS, want)
		}
		if got := float64(s.Requests); math.Abs(got-want) > 0.1*want+2 {
			t.Errorf("ramp second %d: %v requests, want %.0f within 10 %% and 2", i, got, want)
		}
	}
}
