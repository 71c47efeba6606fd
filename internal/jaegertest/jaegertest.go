// Package jaegertest runs a real Jaeger (v2, all in one, in-memory storage) for tests: the
// binary that tools/jaeger/go.mod pins, built by .ci/run and named by $HEADROOM_TEST_JAEGER.
package jaegertest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Env names the variable holding the path of the jaeger binary.
const Env = "HEADROOM_TEST_JAEGER"

func freePort(t testing.TB) int {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs $HEADROOM_TEST_JAEGER (jaeger v2, all in one) with in-memory storage on
// loopback ports of its own until the test ends, returning the base URL of its OTLP/HTTP
// receiver and its query URL. It skips the test, saying how to build Jaeger, when the variable is unset.
func Start(t testing.TB) (otlp, query string) {
	t.Helper()
	bin := os.Getenv(Env)
	if bin == "" {
		t.Skip(Env + " is not set (build it: go build -modfile=tools/jaeger/go.mod -o DIR/jaeger github.com/jaegertracing/jaeger/cmd/jaeger): skipping the test against a real Jaeger")
	}
	po, pq, pg := freePort(t), freePort(t), freePort(t)
	cfg := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`, pq, pg, po)
	path := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.CommandContext(context.WithoutCancel(t.Context()), bin, "--config", path)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("jaeger's output:\n%s", log.String())
		}
	})
	query = fmt.Sprintf("http://127.0.0.1:%d", pq)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(60 * time.Second)
	for {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, query+"/api/services", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited: // a port taken meanwhile, a bad binary
			t.Fatalf("jaeger exited before its query API answered:\n%s", log.String())
		case <-timeout:
			t.Fatalf("jaeger's query API did not answer within 60s: %v", err)
		case <-tick.C:
		}
	}
	return fmt.Sprintf("http://127.0.0.1:%d", po), query
}
