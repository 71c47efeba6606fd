package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/result"
)

// TestLoadFindsTheNPlusOne starts the lab on loopback and drives GET /api/posts with
// `headroom load`, with n_plus_one on and then off (flipped at run time, as an experiment would).
// The batched version must be faster: its P50 lower than the N+1 version's.
func TestLoadFindsTheNPlusOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	a, err := app.Start(ctx, app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(dir, "lab.db"),
		Antipatterns: lab.AntipatternSet{lab.NPlusOne: true},
		Seed:         seed.Config{Users: 200, PostsPerUser: 5},
		Log:          io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	url := a.Info().URL

	measure := func(name string) *result.Load {
		out := filepath.Join(dir, name+".json")
		var stdout, stderr bytes.Buffer
		if code := run([]string{"load", url + "/api/posts?limit=20", "--rate", "25", "--duration", "2s", "--warmup", "500ms", "-q", "--out", out}, &stdout, &stderr); code != 0 {
			t.Fatalf("headroom load exited %d: %s", code, stderr.String())
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		l, err := result.ReadLoad(f)
		if err != nil {
			t.Fatal(err)
		}
		if l.Errors != 0 {
			t.Fatalf("%s: errors %v", name, l.ErrorsByKind)
		}
		return l
	}
	on := measure("n_plus_one")
	setSwitches(t, url, `{"antipatterns":"none"}`)
	off := measure("batched")
	t.Logf("GET /api/posts p50: n_plus_one %.2f ms, batched %.2f ms; p99 %.2f vs %.2f ms", on.LatencyMS.P50, off.LatencyMS.P50, on.LatencyMS.P99, off.LatencyMS.P99)
	if on.LatencyMS.P50 <= off.LatencyMS.P50 {
		t.Errorf("p50 with n_plus_one %.2f ms ≤ batched %.2f ms: want the N+1 version slower", on.LatencyMS.P50, off.LatencyMS.P50)
	}
}

func setSwitches(t *testing.T, url, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, url+"/admin/antipatterns", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /admin/antipatterns: %s", resp.Status)
	}
}
