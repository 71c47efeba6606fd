package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/seed"
)

// TestServicesFindingsOnRealTraces runs the lab as services (real processes, hops of 5 ms),
// exporting to `headroom collect`, makes each classic mistake of a system of services through
// the gateway's switches and faults, and checks that diagnose names each one from the traces
// the five processes exported: an N+1 over HTTP, a serial fan-out to three services, a retry
// storm on a down service, a call without a deadline to a hung one, and hops whose network
// time dominates.
func TestServicesFindingsOnRealTraces(t *testing.T) {
	t.Parallel()
	labBin, err := exec.LookPath("headroom-lab") // TestMain puts this test binary there, as the lab
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "traces.jsonl")
	// Every trace stays open until collect stops: five processes export on their own clocks.
	col := startCollect(t, out, "--complete-after", "10m", "--max-idle", "10m")

	hop := 5 * time.Millisecond
	a, err := app.Start(t.Context(), app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(dir, "lab.db"),
		Seed: seed.Config{Users: 20, PostsPerUser: 2, CommentsPerPost: 1},
		Log:  io.Discard, OTLP: "http://" + col.addr,
		Services: &app.ServicesConfig{Command: labBin, HopRTT: &hop},
	})
	if err != nil {
		t.Fatal(err)
	}
	base := a.Info().URL
	n := 0
	send := func(method, path, body string, timeout time.Duration) int {
		t.Helper()
		n++
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		// As headroom load does: the gateway's server span enters the trace under a remote parent.
		req.Header.Set("traceparent", fmt.Sprintf("00-%032x-%016x-01", 0xabc000+n, 0xdef000+n))
		resp, err := (&http.Client{Timeout: timeout}).Do(req)
		if err != nil {
			return 0 // the client gave up, as it should on a hung service without deadlines
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	admin := func(method, path, body string) {
		t.Helper()
		if code := send(method, path, body, 10*time.Second); code != http.StatusOK {
			t.Fatalf("%s %s %s = %d", method, path, body, code)
		}
	}
	for range 3 {
		if code := send("GET", "/api/posts/1", "", 10*time.Second); code != http.StatusOK {
			t.Fatalf("GET /api/posts/1 = %d", code)
		}
	}
	admin("PUT", "/admin/antipatterns", `{"n_plus_one":true}`)
	for range 3 {
		send("GET", "/api/posts?limit=10", "", 10*time.Second)
	}
	admin("PUT", "/admin/antipatterns", `{"n_plus_one":false,"serial_calls":true}`)
	for _, svc := range []string{"payments", "notifications"} {
		admin("PUT", "/admin/services/"+svc+"/fault", `{"kind":"slow","extra":"10ms"}`)
	}
	for range 3 {
		send("GET", "/api/users/1/summary", "", 10*time.Second)
	}
	for _, svc := range []string{"payments", "notifications"} {
		admin("PUT", "/admin/services/"+svc+"/fault", `{"kind":"none"}`)
	}
	admin("PUT", "/admin/antipatterns", `{"serial_calls":false,"naive_retries":true,"no_breaker":true}`)
	admin("PUT", "/admin/services/posts/fault", `{"kind":"down"}`)
	for range 2 {
		send("GET", "/api/posts/1", "", 10*time.Second)
	}
	admin("PUT", "/admin/antipatterns", `{"naive_retries":false,"no_timeouts":true}`)
	admin("PUT", "/admin/services/posts/fault", `{"kind":"hang"}`)
	for range 2 {
		send("GET", "/api/posts/1", "", time.Second)
	}
	admin("PUT", "/admin/services/posts/fault", `{"kind":"none"}`)

	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil { // the gateway's spans, then the services' (SIGTERM) flush
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
	found := map[string]string{}
	for _, fd := range fs.Findings {
		found[string(fd.Kind)] += fd.Endpoint + "; "
	}
	for kind, endpoint := range map[string]string{
		"n_plus_one_http":  "GET /api/posts",
		"serial_fanout":    "GET /api/users/{id}/summary",
		"retry_storm":      "GET /api/posts/{id}",
		"missing_deadline": "GET /api/posts/{id}",
		"network_hop":      "GET /api/",
	} {
		if !strings.Contains(found[kind], endpoint) {
			t.Errorf("no %s on %s; findings by kind: %v", kind, endpoint, found)
		}
	}
	services := map[string]bool{}
	for _, e := range fs.Services {
		for _, s := range e.Services {
			services[s.Service] = true
		}
	}
	for _, s := range []string{"headroom-gateway", "headroom-posts", "headroom-payments", "headroom-notifications"} {
		if !services[s] {
			t.Errorf("the services breakdown lacks %s: %v", s, services)
		}
	}
}
