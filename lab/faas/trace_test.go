package faas_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroom/headroom/lab/faas"
	"github.com/headroom/headroom/lab/faas/guest"
)

// TestSpans checks a cold invocation's trace: a server span with the FaaS semantic
// conventions, and its cold start phases as child spans; a warm one has no phases.
func TestSpans(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	p, err := faas.New(faas.Config{Functions: []faas.Function{testFunction(t, "traced")}, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	_, cold, err := p.Invoke(t.Context(), "traced", guest.Request{Path: "/echo"})
	if err != nil {
		t.Fatal(err)
	}
	_, warm, err := p.Invoke(t.Context(), "traced", guest.Request{Path: "/echo"})
	if err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	var names []string
	for _, s := range spans {
		names = append(names, s.Name())
	}
	if len(spans) != 4 || names[0] != "faas.start" || names[1] != "faas.init" || names[2] != "traced" || names[3] != "traced" {
		t.Fatalf("spans %v, want faas.start, faas.init, traced (cold), traced (warm)", names)
	}
	for i, want := range []struct {
		inv  faas.Invocation
		cold bool
	}{{cold, true}, {warm, false}} {
		s := spans[2+i]
		attrs := map[string]any{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.AsInterface()
		}
		for k, v := range map[string]any{"faas.name": "traced", "faas.trigger": "http", "faas.invocation_id": want.inv.ID,
			"faas.coldstart": want.cold, "faas.max_memory": int64(128 << 20)} {
			if attrs[k] != v {
				t.Errorf("span %d: %s = %v, want %v", i, k, attrs[k], v)
			}
		}
	}
	for _, phase := range spans[:2] {
		if phase.Parent().SpanID() != spans[2].SpanContext().SpanID() {
			t.Errorf("%s is not a child of the cold invocation's span", phase.Name())
		}
	}
	if !spans[0].EndTime().Equal(spans[1].StartTime()) {
		t.Errorf("faas.start ends at %v, faas.init starts at %v: want them contiguous", spans[0].EndTime(), spans[1].StartTime())
	}
}

// TestSpansRemedies: an invocation on a provisioned instance is warm and says so
// (headroom.faas.provisioned), and a keep-warm ping is an invocation triggered by a timer, with
// its scheduled time.
func TestSpansRemedies(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	fn := testFunction(t, "remedies")
	fn.Provisioned = 1
	fn.KeepWarm = 1
	fn.KeepWarmEvery = 20 * time.Millisecond
	p, err := faas.New(faas.Config{Functions: []faas.Function{fn}, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	waitFor(t, "the provisioned instance ready", func() bool { s, _ := p.Stats("remedies"); return s.Provisioned == 1 })
	_, inv, err := p.Invoke(t.Context(), "remedies", guest.Request{Path: "/echo"})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Cold || !inv.Provisioned {
		t.Errorf("invocation %+v, want warm on the provisioned instance", inv)
	}
	attrs := func(s sdktrace.ReadOnlySpan) map[string]any {
		m := map[string]any{}
		for _, a := range s.Attributes() {
			m[string(a.Key)] = a.Value.AsInterface()
		}
		return m
	}
	var invoked, pinged map[string]any
	waitFor(t, "a ping's span", func() bool {
		for _, s := range rec.Ended() {
			switch a := attrs(s); {
			case a["faas.invocation_id"] == inv.ID:
				invoked = a
			case a["faas.trigger"] == "timer":
				pinged = a
			}
		}
		return pinged != nil
	})
	if invoked["faas.trigger"] != "http" || invoked["faas.coldstart"] != false || invoked["headroom.faas.provisioned"] != true {
		t.Errorf("invocation span %v, want http, warm, provisioned", invoked)
	}
	if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(pinged["faas.time"])); err != nil || time.Since(at) > time.Minute {
		t.Errorf("ping span's faas.time %v: want the round's time, RFC 3339 (%v)", pinged["faas.time"], err)
	}
}
