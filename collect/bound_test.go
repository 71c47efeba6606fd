package collect

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestAssemblerBoundedBytes floods the assembler with traces of every size, spread over
// several requests each and never completed by time: the spans it holds never exceed
// MaxBufferedBytes, what it counts is their encoded size, the oldest traces are written early
// and counted as evicted, and every span accepted is written.
func TestAssemblerBoundedBytes(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	f := newFixture(t, Config{MaxBufferedBytes: limit, MaxOpenTraces: 1 << 20, MaxBufferedSpans: 1 << 20})
	rng := rand.New(rand.NewPCG(1, 2))
	added, maxHeld := 0, int64(0)
	for req := range 400 {
		var specs []spanSpec
		for range 1 + rng.IntN(20) {
			// The spans of a trace come in several requests; a few carry a large attribute,
			// and one in a few hundred one larger than the limit.
			tr := max(0, req-rng.IntN(10))
			attrs := map[string]string{"v": strings.Repeat("x", rng.IntN(64))}
			switch rng.IntN(300) {
			case 0:
				attrs["huge"] = strings.Repeat("z", limit+1)
			case 1, 2, 3, 4, 5:
				attrs["big"] = strings.Repeat("y", 4000)
			}
			specs = append(specs, spanSpec{trace: tr, span: added, parent: -1, start: 1, end: 2, attrs: attrs})
			added++
		}
		f.add(specs...)
		o, _, held := f.a.gauges()
		if held > limit {
			t.Fatalf("after request %d: %d bytes held, over the limit %d", req, held, limit)
		}
		if got := openSize(f.a); held > got || held < got*9/10 {
			t.Fatalf("after request %d: %d bytes counted for %d open traces encoding to %d bytes: want at most that and at least 90 %% of it", req, held, o, got)
		}
		maxHeld = max(maxHeld, held)
	}
	if maxHeld < limit/2 {
		t.Fatalf("at most %d bytes held: the flood never came near the limit %d, the test proves nothing", maxHeld, limit)
	}
	f.a.flush()
	s := f.stat()
	if s.Traces[EndEvicted] == 0 {
		t.Error("no trace counted as evicted")
	}
	written := 0
	for _, tr := range f.out {
		written += tr.Spans
	}
	if dropped := int(s.SpansDropped[ReasonDuplicateSpan] + s.SpansDropped[ReasonTraceTooLarge]); written+dropped != added || dropped != 0 {
		t.Errorf("%d spans added, %d written, %d dropped: want every span written", added, written, dropped)
	}
	if o, b, n := f.a.gauges(); o != 0 || b != 0 || n != 0 {
		t.Errorf("after flush: %d open traces, %d spans, %d bytes held; want none", o, b, n)
	}
}

// openSize is the OTLP protobuf size of the open traces.
func openSize(a *assembler) int64 {
	var m ptrace.ProtoMarshaler
	var n int64
	for _, t := range a.open {
		n += int64(m.TracesSize(t.td))
	}
	return n
}

// TestReceiverBoundsWaitingTraces: while OnTrace is stuck, completed traces wait to at most a
// quarter of MaxBufferedBytes, then assembly waits and the ingest queue refuses exports as
// overloaded; once OnTrace goes on, every trace is delivered. It drives the assembler and the
// delivery without listeners, in a synctest bubble: synctest.Wait lets the assembler take each
// request before the next unless it is blocked.
func TestReceiverBoundsWaitingTraces(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		one := int64((&ptrace.ProtoMarshaler{}).TracesSize(build(spanSpec{trace: 0, span: 1, parent: -1})))
		limit := 5 * one
		unblock := make(chan struct{})
		delivered := 0
		r, err := New(Config{QueueSize: 4, MaxOpenTraces: 1, MaxBufferedBytes: 4 * limit,
			OnTrace: func(*Trace) { <-unblock; delivered++ }})
		if err != nil {
			t.Fatal(err)
		}
		go r.assemble()
		go r.deliver()
		var once sync.Once
		stop := func() { // as Shutdown does, which needs the listeners: then wait for every trace
			once.Do(func() {
				close(unblock)
				r.qmu.Lock()
				r.closing = true
				close(r.queue)
				r.qmu.Unlock()
				<-r.delivered
			})
		}
		t.Cleanup(stop)
		// Each request opens a trace, which evicts the one before it (MaxOpenTraces 1) to the
		// stuck OnTrace.
		sent := 0
		for ; sent < 100; sent++ {
			synctest.Wait()
			if err := r.reserve(); err != nil {
				if !errors.Is(err, errOverloaded) {
					t.Fatal(err)
				}
				break
			}
			if _, err := r.ingest(build(spanSpec{trace: sent, span: 1, parent: -1})); err != nil {
				t.Fatal(err)
			}
		}
		if sent == 100 {
			t.Fatal("100 requests taken while OnTrace was stuck: the receiver never pushed back")
		}
		// The traces written so far went to OnTrace (one, stuck) or wait for it within the
		// limit, but for one: the assembler's, waiting for room.
		if n, most := r.Stats().Traces[EndEvicted], limit/(one*9/10)+1; n > most {
			t.Errorf("%d traces written while OnTrace was stuck, with a limit of %d bytes for traces of ~%d: want at most %d", n, limit, one, most)
		}
		stop()
		if delivered != sent {
			t.Errorf("%d traces delivered, want the %d sent", delivered, sent)
		}
		if s := r.Stats(); s.OpenTraces != 0 || s.BufferedBytes != 0 {
			t.Errorf("after shutdown: %d open traces, %d bytes held; want none", s.OpenTraces, s.BufferedBytes)
		}
	})
}
