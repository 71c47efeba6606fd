package collect

import (
	"bufio"
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestTraceLines: every trace added from several goroutines becomes one OTLP/JSON line that
// decodes back to its spans; a trace added after Close is dropped, and Close twice is harmless.
// collect --out and doctor both write through it.
func TestTraceLines(t *testing.T) {
	t.Parallel()
	l := NewTraceLines()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- l.WriteAll(&out) }()
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			td := build(spanSpec{trace: i, span: 1, parent: -1, start: 1, end: 2})
			l.Add(&Trace{ID: tid(i).String(), Spans: 1, td: td})
		})
	}
	wg.Wait()
	l.Close()
	l.Close()
	l.Add(&Trace{ID: "late", td: build(spanSpec{trace: n, span: 1, parent: -1, start: 1, end: 2})})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var ids []string
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(sc.Bytes())
		if err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		ids = append(ids, td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID().String())
	}
	slices.Sort(ids)
	if len(ids) != n || len(slices.Compact(ids)) != n {
		t.Errorf("%d lines, %d distinct traces: want %d of each", len(ids), len(slices.Compact(ids)), n)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestTraceLinesKeepsDrainingAfterAnError: a failed output returns its error, and Add never
// blocks the receiver meanwhile.
func TestTraceLinesKeepsDrainingAfterAnError(t *testing.T) {
	t.Parallel()
	l := NewTraceLines()
	done := make(chan error, 1)
	go func() { done <- l.WriteAll(failingWriter{}) }()
	// The first line is over the write buffer, so it reaches the writer and fails; the rest
	// must still be taken, more than the queue holds.
	big := map[string]string{"big": strings.Repeat("x", 1<<20)}
	l.Add(&Trace{td: build(spanSpec{trace: 0, span: 1, parent: -1, start: 1, end: 2, attrs: big})})
	for i := range 2*cap(l.ch) + 1 {
		l.Add(&Trace{td: build(spanSpec{trace: i + 1, span: 1, parent: -1, start: 1, end: 2})})
	}
	l.Close()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteAll returned %v: want the writer's error", err)
	}
}
