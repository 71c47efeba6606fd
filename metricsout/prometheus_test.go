package metricsout

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// prometheusBin is the Prometheus binary of the test: HEADROOM_TEST_PROMETHEUS, else the one on
// PATH (Debian's package, which .ci/run installs).
func prometheusBin(t *testing.T) string {
	if p := os.Getenv("HEADROOM_TEST_PROMETHEUS"); p != "" {
		return p
	}
	p, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed and HEADROOM_TEST_PROMETHEUS is not set (apt-get install prometheus; .ci/run installs it): skipping the remote-write test")
	}
	return p
}

// TestPrometheusRemoteWrite pushes a load run to a real Prometheus (remote-write receiver and
// native histograms on) and queries it back: the requests and errors counters equal the run's
// exactly, so does the native histogram's count, and its P99 is within 1 % of the run's
// (the conversion's 0.27 % bucket plus HDR's 0.1 %, and histogram_quantile's interpolation
// inside a bucket).
func TestPrometheusRemoteWrite(t *testing.T) {
	t.Parallel()
	bin := prometheusBin(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte("global: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver", "--enable-feature=native-histograms")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	prom := "http://" + addr
	waitUntil(t, 30*time.Second, "Prometheus to be ready", func() bool {
		resp, err := http.Get(prom + "/-/ready") //nolint:noctx // a bounded poll in a test
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	exp, err := New(Config{Outputs: []Output{{PrometheusRW, prom + "/api/v1/write"}}, Interval: time.Second, RunID: "rw1"})
	if err != nil {
		t.Fatal(err)
	}
	reqs, errs, lat := runLoad(t, exp)
	if err := exp.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sel := `{run_id="rw1",target="t",phase="load"}`
	for q, want := range map[string]float64{
		"headroom_requests_total" + sel:                                float64(reqs),
		"headroom_request_errors_total" + sel:                          float64(errs),
		"histogram_count(headroom_request_latency_seconds" + sel + ")": float64(lat.Count()),
	} {
		if got := promValue(t, prom, q); got != want {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}
	p99 := promValue(t, prom, "histogram_quantile(0.99, headroom_request_latency_seconds"+sel+")")
	want := lat.Quantile(0.99).Seconds()
	t.Logf("P99: Prometheus %.6f s, headroom %.6f s; %d requests", p99, want, reqs)
	if math.Abs(p99-want)/want > 0.01 {
		t.Errorf("histogram_quantile(0.99) %.6f s, headroom's P99 %.6f s: more than 1 %% apart", p99, want)
	}
}

func waitUntil(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// promValue runs an instant query and returns the value of its single sample.
func promValue(t *testing.T, prom, q string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, prom+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]json.RawMessage `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "success" || len(body.Data.Result) != 1 {
		t.Fatalf("%s: %s %s, %d results", q, body.Status, body.Error, len(body.Data.Result))
	}
	var s string
	if err := json.Unmarshal(body.Data.Result[0].Value[1], &s); err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(fmt.Errorf("%s: %w", q, err))
	}
	return v
}
