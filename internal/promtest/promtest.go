// Package promtest starts a real Prometheus for tests: the binary HEADROOM_TEST_PROMETHEUS
// names, else Debian's package on PATH (which .ci/run installs); a test skips, saying so, when
// there is neither.
package promtest

import (
	"context"
	"encoding/json"
	"fmt"
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

// Start runs Prometheus on a free loopback port with config (prometheus.yml's text), its data
// in a temporary directory and the extra flags, waits until it is ready, and returns its base
// URL. The process is killed when the test ends; its log is printed if the test failed.
func Start(t *testing.T, config string, flags ...string) string {
	t.Helper()
	bin := os.Getenv("HEADROOM_TEST_PROMETHEUS")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("prometheus"); err != nil {
			t.Skip("prometheus is not installed and HEADROOM_TEST_PROMETHEUS is not set (apt-get install prometheus; .ci/run installs it): skipping the real-Prometheus test")
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := append([]string{"--config.file=" + filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path=" + filepath.Join(dir, "tsdb"),
		"--web.listen-address=" + addr}, flags...)
	cmd := exec.CommandContext(context.WithoutCancel(t.Context()), bin, args...) // killed in Cleanup, after the log is read
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
	deadline := time.Now().Add(30 * time.Second)
	for !ready(t.Context(), prom) {
		if time.Now().After(deadline) {
			t.Fatal("Prometheus not ready after 30s")
		}
		select {
		case <-t.Context().Done():
			t.Fatal("test ended while waiting for Prometheus")
		case <-time.After(200 * time.Millisecond):
		}
	}
	return prom
}

func ready(ctx context.Context, prom string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, prom+"/-/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Query runs an instant query through the HTTP API and returns its result vector.
func Query(ctx context.Context, prom, q string) ([]json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, prom+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", q, body.Error)
	}
	return body.Data.Result, nil
}

// Value runs an instant query that must return one sample and returns its value.
func Value(ctx context.Context, prom, q string) (float64, error) {
	res, err := Query(ctx, prom, q)
	if err != nil {
		return 0, err
	}
	if len(res) != 1 {
		return 0, fmt.Errorf("%s: %d samples, want 1", q, len(res))
	}
	var s struct {
		Value [2]json.RawMessage `json:"value"`
	}
	var v string
	if err := json.Unmarshal(res[0], &s); err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	if err := json.Unmarshal(s.Value[1], &v); err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	return strconv.ParseFloat(v, 64)
}
