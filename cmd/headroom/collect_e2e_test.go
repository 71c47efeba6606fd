package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/seed"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// collectRun is `headroom collect` running in process for a test, writing traces to out.
type collectRun struct {
	addr, out      string
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	done           chan error
}

// startCollect runs `headroom collect` on a free loopback port with OTLP/HTTP only, writing to
// out, with extra flags, and returns once it listens.
func startCollect(t *testing.T, out string, extra ...string) *collectRun {
	t.Helper()
	c := &collectRun{addr: freeAddr(t), out: out, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	c.cancel = cancel
	t.Cleanup(cancel)
	go func() {
		root := newRootCmd(&c.stdout, &c.stderr)
		root.SetArgs(append([]string{"collect", "--http", c.addr, "--grpc", "off", "--out", out, "--interval", "1h"}, extra...))
		c.done <- root.ExecuteContext(ctx)
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(c.stderr.String(), "collect: OTLP/HTTP on"); {
		if time.Now().After(deadline) {
			t.Fatalf("collect did not start: %s", c.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c
}

// stop interrupts collect, as SIGINT does to the CLI (every open trace is written), and waits.
func (c *collectRun) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	if err := <-c.done; err != nil {
		t.Fatalf("collect: %v\n%s", err, c.stderr.String())
	}
}

// TestCollectToDiagnose is the pipeline on loopback: the lab (N+1 on) exports its
// traces over OTLP/HTTP to `headroom collect --out`, which writes them when interrupted;
// diagnose reads that file and finds the N+1 on GET /api/posts.
func TestCollectToDiagnose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "traces.jsonl")
	col := startCollect(t, out, "--complete-after", "200ms")

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
	const requests = 5
	for i := range requests {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.Info().URL+"/api/posts?limit=20", nil)
		if err != nil {
			t.Fatal(err)
		}
		// As headroom load does: a traceparent whose parent span is never exported, so the
		// lab's server span is the trace's entry, not a root.
		req.Header.Set("traceparent", fmt.Sprintf("00-%032x-%016x-01", 0xc0ffee00+i, 0xfeed+i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/posts: %d", resp.StatusCode)
		}
	}
	if err := a.Shutdown(context.Background()); err != nil { // flushes the lab's span exporter
		t.Fatal(err)
	}
	col.stop(t)
	if !strings.Contains(col.stdout.String(), "traces written to "+out) {
		t.Errorf("final stats line missing: %q", col.stdout.String())
	}
	if strings.Contains(col.stdout.String(), "orphan") {
		t.Errorf("traces entered under a remote parent were written as orphans: %s", col.stdout.String())
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	traces, err := diagnose.ReadJSONL(f)
	if err != nil {
		t.Fatalf("diagnose cannot read what collect wrote: %v", err)
	}
	entered := 0
	for _, tr := range traces {
		for i := range requests {
			if tr.ID == fmt.Sprintf("%032x", 0xc0ffee00+i) && len(tr.Spans) >= 3 {
				entered++
			}
		}
	}
	if entered != requests {
		t.Fatalf("%d of the %d GET /api/posts traces in %s (of %d traces)", entered, requests, out, len(traces))
	}
	// SQLite answers in microseconds: the time threshold is lowered so that the count decides.
	findings := diagnose.Diagnose(traces, diagnose.Config{NPlusOneMinTotal: time.Microsecond})
	streamMatches(t, out, diagnose.Config{NPlusOneMinTotal: time.Microsecond})
	found := false
	for _, fd := range findings.Findings {
		if fd.Kind == "n_plus_one_db" && strings.Contains(fd.Endpoint, "/api/posts") {
			found = true
		}
	}
	if !found {
		t.Errorf("no n_plus_one_db on GET /api/posts in %+v", findings.Findings)
	}
}
