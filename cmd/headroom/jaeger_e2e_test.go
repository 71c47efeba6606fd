package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/headroom/headroom/internal/jaegertest"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/result"
)

// TestJaegerPipeline: the lab (N+1 on) exports to `headroom collect --out --forward`, which
// forwards everything to a real Jaeger; `headroom diagnose --jaeger` then finds in Jaeger what
// `headroom diagnose --traces` finds in collect's file. Jaeger keeps times in microseconds, so
// times may differ by the rounding: shares within 0.01, milliseconds within 0.05.
func TestJaegerPipeline(t *testing.T) {
	t.Parallel()
	otlp, query := jaegertest.Start(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "traces.jsonl")
	col := startCollect(t, out, "--complete-after", "200ms", "--forward", otlp)
	a, err := app.Start(t.Context(), app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(dir, "lab.db"),
		Antipatterns: lab.AntipatternSet{lab.NPlusOne: true},
		Seed:         seed.Config{Users: 50, PostsPerUser: 2},
		Log:          io.Discard,
		OTLP:         "http://" + col.addr,
	})
	if err != nil {
		t.Fatal(err)
	}
	const requests = 20
	for i := range requests {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.Info().URL+"/api/posts?limit=20", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("traceparent", fmt.Sprintf("00-%032x-%016x-01", 0x1a0e0000+i, 0xfeed+i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.stop(t) // sends what its forward queue still holds
	if s := col.stdout.String(); !strings.Contains(s, "forwarded:") || !strings.Contains(s, " 0 dropped (queue full), 0 failed") {
		t.Fatalf("collect did not forward everything: %s", s)
	}

	// SQLite answers in microseconds: the time threshold is lowered so that the count decides.
	diag := func(name string, args ...string) *result.Findings {
		t.Helper()
		path := filepath.Join(dir, name)
		var stdout, stderr syncBuffer
		root := newRootCmd(&stdout, &stderr)
		root.SetArgs(append([]string{"diagnose", "--n-plus-one-min-total", "1us", "-o", path}, args...))
		if err := root.ExecuteContext(t.Context()); err != nil {
			t.Fatalf("diagnose %v: %v\n%s", args, err, stderr.String())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var r result.Findings
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	file := diag("file.json", "--traces", out)
	jaeger := diag("jaeger.json", "--jaeger", query, "--jaeger-service", "headroom-lab")

	if file.Input.Traces != jaeger.Input.Traces || file.Input.Spans != jaeger.Input.Spans {
		t.Errorf("jaeger gave %d traces of %d spans: want the file's %d of %d",
			jaeger.Input.Traces, jaeger.Input.Spans, file.Input.Traces, file.Input.Spans)
	}
	key := func(f result.Finding) string {
		return string(f.Kind) + " " + f.Endpoint + " " + f.Evidence.Statement + f.Evidence.Operation
	}
	keys := func(fs []result.Finding) []string {
		var k []string
		for _, f := range fs {
			k = append(k, key(f))
		}
		slices.Sort(k)
		return k
	}
	if !slices.Equal(keys(file.Findings), keys(jaeger.Findings)) {
		t.Fatalf("findings from jaeger:\n%s\nwant the file's:\n%s", strings.Join(keys(jaeger.Findings), "\n"), strings.Join(keys(file.Findings), "\n"))
	}
	if !slices.ContainsFunc(file.Findings, func(f result.Finding) bool { return f.Kind == result.KindNPlusOneDB }) {
		t.Errorf("no n_plus_one_db in %v: the pipeline must carry a finding to compare", keys(file.Findings))
	}
	for _, fj := range jaeger.Findings {
		i := slices.IndexFunc(file.Findings, func(f result.Finding) bool { return key(f) == key(fj) })
		ff := file.Findings[i]
		if ff.Evidence.Count != fj.Evidence.Count || math.Abs(ff.ShareOfP99-fj.ShareOfP99) > 0.01 ||
			math.Abs(ff.EstimatedSavingMS-fj.EstimatedSavingMS) > 0.05 || math.Abs(ff.Evidence.TotalMS-fj.Evidence.TotalMS) > 0.05 {
			t.Errorf("%s: jaeger count %d, share %.3f, saving %.2f ms, total %.2f ms: want the file's %d, %.3f, %.2f, %.2f",
				key(fj), fj.Evidence.Count, fj.ShareOfP99, fj.EstimatedSavingMS, fj.Evidence.TotalMS,
				ff.Evidence.Count, ff.ShareOfP99, ff.EstimatedSavingMS, ff.Evidence.TotalMS)
		}
	}
}
