package collect

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// fixture drives an assembler with a fake clock and records what it writes.
type fixture struct {
	a   *assembler
	c   *counters
	out []*Trace
	now time.Time
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{c: &counters{}, now: time.Unix(1_700_000_000, 0)}
	f.a = newAssembler(cfg, f.c, func(tr *Trace) { f.out = append(f.out, tr) })
	return f
}

func (f *fixture) add(specs ...spanSpec) { f.a.add(build(specs...), f.now) }

func (f *fixture) advance(d time.Duration) {
	f.now = f.now.Add(d)
	f.a.sweep(f.now)
}

func (f *fixture) stat() Stats { return f.c.snapshot() }

func TestAssemblerCompletesAfterRoot(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{CompleteAfter: 2 * time.Second})
	f.add(spanSpec{trace: 1, span: 2, parent: 1}, spanSpec{trace: 1, span: 3, parent: 1})
	f.advance(time.Second)
	f.add(spanSpec{trace: 1, span: 1, parent: -1})
	f.advance(1900 * time.Millisecond)
	if len(f.out) != 0 {
		t.Fatalf("trace written %v after its root, before CompleteAfter", 1900*time.Millisecond)
	}
	f.add(spanSpec{trace: 1, span: 4, parent: 2}) // a late child within the window joins
	f.advance(100 * time.Millisecond)
	if len(f.out) != 1 {
		t.Fatalf("%d traces written at CompleteAfter, want 1", len(f.out))
	}
	got := f.out[0]
	if got.ID != tid(1).String() || got.Spans != 4 || got.End != EndComplete {
		t.Errorf("got trace %s with %d spans ending %q, want %s, 4, complete", got.ID, got.Spans, got.End, tid(1))
	}
	if s := f.stat(); s.Traces[EndComplete] != 1 || s.Tolerated[ReasonMissingParent] != 0 {
		t.Errorf("stats %+v", s)
	}
	if o, b, n := f.a.gauges(); o != 0 || b != 0 || n != 0 {
		t.Errorf("after writing: %d open traces, %d buffered spans of %d bytes, want 0, 0, 0", o, b, n)
	}
}

func TestAssemblerOrphanAfterIdle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{CompleteAfter: time.Second, MaxIdle: 10 * time.Second})
	f.add(spanSpec{trace: 1, span: 2, parent: 1})
	f.advance(9 * time.Second)
	f.add(spanSpec{trace: 1, span: 3, parent: 1}) // a new span resets the idle clock
	f.advance(9 * time.Second)
	if len(f.out) != 0 {
		t.Fatal("rootless trace written before MaxIdle without spans")
	}
	f.advance(time.Second)
	if len(f.out) != 1 || f.out[0].End != EndOrphan {
		t.Fatalf("want one orphan written, got %d", len(f.out))
	}
	s := f.stat()
	if s.Traces[EndOrphan] != 1 || s.Tolerated[ReasonMissingParent] != 2 {
		t.Errorf("orphans %d, missing parents %d; want 1 and 2", s.Traces[EndOrphan], s.Tolerated[ReasonMissingParent])
	}
}

// A trace entered under a remote parent (headroom load's traceparent; the generator exports
// no spans) has no root span: its entry span stands in for one.
func TestAssemblerEntrySpans(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		entry spanSpec
		want  string
	}{
		{"remote parent flag", spanSpec{trace: 1, span: 1, parent: 99, flags: flagHasIsRemote | flagIsRemote}, EndComplete},
		{"server span, no flags", spanSpec{trace: 1, span: 1, parent: 99, kind: ptrace.SpanKindServer}, EndComplete},
		{"local parent flag", spanSpec{trace: 1, span: 1, parent: 99, flags: flagHasIsRemote, kind: ptrace.SpanKindServer}, EndOrphan},
		{"internal span, no flags", spanSpec{trace: 1, span: 1, parent: 99}, EndOrphan},
	} {
		f := newFixture(t, Config{CompleteAfter: time.Second, MaxIdle: 5 * time.Second})
		f.add(tc.entry, spanSpec{trace: 1, span: 2, parent: 1})
		f.advance(time.Second)
		f.advance(4 * time.Second)
		if len(f.out) != 1 || f.out[0].End != tc.want {
			t.Errorf("%s: %d traces written, want one ending %q", tc.name, len(f.out), tc.want)
			continue
		}
		if n := f.stat().Tolerated[ReasonMissingParent]; n != 1 {
			t.Errorf("%s: missing parents %d, want 1 (the caller's span)", tc.name, n)
		}
	}
}

func TestAssemblerDuplicatesAndMissingParents(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.add(spanSpec{trace: 1, span: 1, parent: -1}, spanSpec{trace: 1, span: 2, parent: 1},
		spanSpec{trace: 1, span: 2, parent: 1}, spanSpec{trace: 1, span: 3, parent: 99})
	f.add(spanSpec{trace: 1, span: 1, parent: -1}) // a retried export repeats spans
	f.advance(CompleteAfterDefault)
	if len(f.out) != 1 || f.out[0].Spans != 3 {
		t.Fatalf("want one trace of 3 spans, got %d traces", len(f.out))
	}
	s := f.stat()
	if s.SpansDropped[ReasonDuplicateSpan] != 2 {
		t.Errorf("duplicates dropped %d, want 2", s.SpansDropped[ReasonDuplicateSpan])
	}
	if s.Tolerated[ReasonMissingParent] != 1 {
		t.Errorf("missing parents %d, want 1 (span 3's parent 99)", s.Tolerated[ReasonMissingParent])
	}
}

func TestAssemblerCaps(t *testing.T) {
	t.Parallel()
	t.Run("spans per trace", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{MaxSpansPerTrace: 3})
		var specs []spanSpec
		for i := range 5 {
			specs = append(specs, spanSpec{trace: 1, span: i, parent: i - 1})
		}
		f.add(specs...)
		f.advance(CompleteAfterDefault)
		if len(f.out) != 1 || f.out[0].Spans != 3 {
			t.Fatalf("want one trace of 3 spans, got %+v", f.out)
		}
		if n := f.stat().SpansDropped[ReasonTraceTooLarge]; n != 2 {
			t.Errorf("dropped %d over the cap, want 2", n)
		}
	})
	t.Run("open traces evicts the oldest", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{MaxOpenTraces: 3})
		for i := range 5 {
			f.add(spanSpec{trace: i, span: 1, parent: -1})
		}
		if len(f.out) != 2 || f.out[0].ID != tid(0).String() || f.out[1].ID != tid(1).String() || f.out[0].End != EndEvicted {
			t.Fatalf("want traces 0 and 1 evicted, got %d written", len(f.out))
		}
		if o, _, _ := f.a.gauges(); o != 3 {
			t.Errorf("%d open traces, want the cap 3", o)
		}
	})
	t.Run("buffered spans", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{MaxBufferedSpans: 4})
		f.add(spanSpec{trace: 1, span: 1, parent: -1}, spanSpec{trace: 1, span: 2, parent: 1}, spanSpec{trace: 1, span: 3, parent: 1})
		f.add(spanSpec{trace: 2, span: 1, parent: -1}, spanSpec{trace: 2, span: 2, parent: 1})
		if len(f.out) != 1 || f.out[0].ID != tid(1).String() {
			t.Fatalf("want trace 1 evicted when 5 spans > 4 were held, got %d written", len(f.out))
		}
		if _, b, _ := f.a.gauges(); b != 2 {
			t.Errorf("%d buffered spans, want 2", b)
		}
	})
}

func TestAssemblerLateSpans(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{CompleteAfter: time.Second})
	f.add(spanSpec{trace: 1, span: 1, parent: -1})
	f.advance(time.Second)
	f.add(spanSpec{trace: 1, span: 2, parent: 1}) // after the trace was written
	f.advance(time.Second)
	if len(f.out) != 2 || f.out[1].End != EndLate || f.out[1].Spans != 1 {
		t.Fatalf("want the trace and then a late fragment of 1 span, got %d written", len(f.out))
	}
	s := f.stat()
	if s.Tolerated[ReasonLateSpan] != 1 || s.Tolerated[ReasonMissingParent] != 0 {
		t.Errorf("late spans %d (want 1), missing parents %d (want 0: the parent was written before)",
			s.Tolerated[ReasonLateSpan], s.Tolerated[ReasonMissingParent])
	}
}

func TestAssemblerFlush(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.add(spanSpec{trace: 1, span: 1, parent: -1}, spanSpec{trace: 2, span: 2, parent: 1})
	f.a.flush()
	if len(f.out) != 2 || f.out[0].End != EndShutdown || f.out[1].End != EndOrphan {
		t.Fatalf("flush wrote %d traces, want trace 1 (shutdown) and trace 2 (orphan)", len(f.out))
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // substring of the error; "" means valid
	}{
		{"defaults", Config{}, ""},
		{"both off", Config{HTTPAddr: Off, GRPCAddr: Off}, "nothing to listen on"},
		{"bad addr", Config{HTTPAddr: "4318"}, `HTTPAddr "4318": want host:port`},
		{"negative queue", Config{QueueSize: -1}, "QueueSize -1"},
		{"negative size", Config{MaxRequestBytes: -5}, "MaxRequestBytes -5"},
		{"negative duration", Config{CompleteAfter: -time.Second}, "CompleteAfter -1s"},
		{"idle shorter", Config{CompleteAfter: 5 * time.Second, MaxIdle: time.Second}, "MaxIdle 1s is shorter"},
	} {
		_, err := New(tc.cfg)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to say %q", tc.name, err, tc.want)
		}
	}
	r, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Config(); c.HTTPAddr != HTTPAddrDefault || c.CompleteAfter != CompleteAfterDefault || c.MaxAttrValueLen != MaxAttrValueLenDefault {
		t.Errorf("defaults not applied: %+v", c)
	}
}
