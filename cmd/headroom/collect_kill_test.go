package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/headroom/headroom/diagnose"
)

// TestCollectKeepsTracesThroughSIGKILL runs `headroom collect --out` as a child process (this
// test binary, which plays headroom under that name), exports traces to it until they are
// acknowledged and complete, and kills it with SIGKILL: the named file holds every one of them,
// in whole lines diagnose reads, and no hidden temporary file is left behind.
func TestCollectKeepsTracesThroughSIGKILL(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "headroom")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, bin); err != nil {
		t.Fatal(err)
	}
	out, addr := filepath.Join(dir, "traces.jsonl"), freeAddr(t)
	cmd := exec.CommandContext(t.Context(), bin, "collect", "--http", addr, "--grpc", "off", "--out", out,
		"--complete-after", "100ms", "--sync-every", "100ms", "--interval", "1h")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if line, err := bufio.NewReader(stderr).ReadString('\n'); err != nil || !strings.Contains(line, "OTLP/HTTP on") {
		t.Fatalf("collect did not start: %q %v", line, err)
	}

	exp, err := otlptracehttp.New(t.Context(), otlptracehttp.WithEndpoint(addr), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)) // each span is acked before End returns
	const n = 20
	want := map[string]bool{}
	for i := range n {
		ctx, root := tp.Tracer("kill").Start(context.Background(), fmt.Sprintf("GET /api/%d", i))
		_, child := tp.Tracer("kill").Start(ctx, "SELECT 1")
		child.End()
		root.End()
		want[root.SpanContext().TraceID().String()] = true
	}
	_ = tp.Shutdown(context.Background())

	// Acked traces complete 100 ms after their root, and are on disk within the next sync.
	var lines int
	for deadline := time.Now().Add(10 * time.Second); lines < n && time.Now().Before(deadline); {
		raw, _ := os.ReadFile(out)
		lines = strings.Count(string(raw), "\n")
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	f, err := os.Open(out)
	if err != nil {
		t.Fatalf("no output after SIGKILL: %v", err)
	}
	defer f.Close()
	traces, err := diagnose.ReadJSONL(f)
	if err != nil {
		t.Fatalf("diagnose cannot read what collect left: %v", err)
	}
	for _, tr := range traces {
		delete(want, tr.ID)
	}
	if len(want) > 0 {
		t.Errorf("%d of %d acked traces missing after SIGKILL (%d lines read)", len(want), n, lines)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(tmp) > 0 {
		t.Errorf("hidden temporary files left: %v", tmp)
	}
}
