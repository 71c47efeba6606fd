package collect

import (
	"container/list"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Trace is one assembled trace, as delivered to Config.OnTrace.
type Trace struct {
	// ID is the trace id in lower-case hex, as OTLP/JSON writes it.
	ID string
	// Spans is the number of spans in the trace.
	Spans int
	// End says how the trace was completed: EndComplete, EndOrphan, EndLate, EndEvicted or
	// EndShutdown.
	End string

	td    ptrace.Traces
	bytes int64 // its spans' size encoded as OTLP protobuf, as Config.MaxBufferedBytes counts them
}

// AppendJSON appends the trace as one OTLP/JSON ExportTraceServiceRequest (no newline):
// the line format of `headroom collect --out`, which diagnose reads.
func (t *Trace) AppendJSON(b []byte) ([]byte, error) {
	j, err := (&ptrace.JSONMarshaler{}).MarshalTraces(t.td)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// Traces returns the trace's spans as pdata, grouped by the resource and scope they came with.
// The caller must not modify them.
func (t *Trace) Traces() ptrace.Traces { return t.td }

// openTrace is a trace being assembled.
type openTrace struct {
	id       pcommon.TraceID
	td       ptrace.Traces
	spanIDs  map[pcommon.SpanID]struct{}
	spans    int
	bytes    int64 // encoded size of its spans, resources and scopes (see sizer)
	lastSeen time.Time
	rootAt   time.Time // when the last root or entry span arrived (see isEntry); zero until then
	late     bool      // a fragment of a trace already written
	elem     *list.Element
}

// assembler groups spans by trace id and decides when each trace is complete. It is not
// safe for concurrent use: the receiver drives it from one goroutine. Time comes in as
// arguments, so tests drive it with a fake clock.
type assembler struct {
	cfg   Config
	c     *counters
	emit  func(*Trace)
	open  map[pcommon.TraceID]*openTrace
	order *list.List // open traces, oldest first, for eviction
	// recent remembers the ids of the last written traces (a ring), to tell a late span of a
	// written trace from the first span of a new one.
	recent    map[pcommon.TraceID]struct{}
	ring      []pcommon.TraceID
	ringNext  int
	buffered  int
	bytes     int64 // of the open traces
	destCache map[destKey]ptrace.SpanSlice
	sizer     ptrace.ProtoMarshaler
}

type destKey struct {
	id     pcommon.TraceID
	rs, ss int
}

func newAssembler(cfg Config, c *counters, emit func(*Trace)) *assembler {
	return &assembler{cfg: cfg, c: c, emit: emit, open: map[pcommon.TraceID]*openTrace{}, order: list.New(),
		recent: map[pcommon.TraceID]struct{}{}, ring: make([]pcommon.TraceID, cfg.MaxOpenTraces),
		destCache: map[destKey]ptrace.SpanSlice{}}
}

// add moves the spans of td into their open traces. td is consumed.
func (a *assembler) add(td ptrace.Traces, now time.Time) {
	clear(a.destCache)
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := range spans.Len() {
				a.addSpan(spans.At(k), rs, ss, i, j, now)
			}
		}
	}
	a.enforceCaps()
}

func (a *assembler) addSpan(sp ptrace.Span, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, i, j int, now time.Time) {
	id := sp.TraceID()
	t := a.open[id]
	if t == nil {
		t = &openTrace{id: id, td: ptrace.NewTraces(), spanIDs: map[pcommon.SpanID]struct{}{}}
		if _, ok := a.recent[id]; ok {
			t.late = true
		}
		t.elem = a.order.PushBack(t)
		a.open[id] = t
	}
	if _, dup := t.spanIDs[sp.SpanID()]; dup {
		a.c.add(cDuplicateSpan, 1)
		return
	}
	if t.spans >= a.cfg.MaxSpansPerTrace {
		a.c.add(cTraceTooLarge, 1)
		return
	}
	t.spanIDs[sp.SpanID()] = struct{}{}
	t.spans++
	a.buffered++
	// The encoded size stands for the memory a span takes: it grows with its attributes and
	// their values, as the memory does, and costs ~0.1 µs a span to compute.
	size := int64(a.sizer.SpanSize(sp))
	t.lastSeen = now
	if t.late {
		a.c.add(cLateSpan, 1)
	}
	if isEntry(sp) {
		t.rootAt = now
	}
	key := destKey{id, i, j}
	dest, ok := a.destCache[key]
	if !ok {
		// Each request's resource and scope are copied once per trace they carry spans of.
		drs := t.td.ResourceSpans().AppendEmpty()
		rs.Resource().CopyTo(drs.Resource())
		drs.SetSchemaUrl(rs.SchemaUrl())
		dss := drs.ScopeSpans().AppendEmpty()
		ss.Scope().CopyTo(dss.Scope())
		dss.SetSchemaUrl(ss.SchemaUrl())
		size += int64(a.sizer.ResourceSpansSize(drs)) // the copies, without spans yet
		dest = dss.Spans()
		a.destCache[key] = dest
	}
	t.bytes += size
	a.bytes += size
	sp.MoveTo(dest.AppendEmpty())
}

// Span flags (OTLP SpanFlags) telling whether the parent is in another process.
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// isEntry reports whether sp starts the trace or this system's part of it: a root (no
// parent), or a span whose parent is remote, such as a server span under the traceparent of a
// load generator that exports no spans of its own. Senders that do not set the remote flags
// are judged by kind: a server or consumer span stands for an entry. A trace is complete a
// while after its last entry span arrives; a later caller's spans become a late fragment.
func isEntry(sp ptrace.Span) bool {
	if sp.ParentSpanID().IsEmpty() {
		return true
	}
	if f := sp.Flags(); f&flagHasIsRemote != 0 {
		return f&flagIsRemote != 0
	}
	return sp.Kind() == ptrace.SpanKindServer || sp.Kind() == ptrace.SpanKindConsumer
}

// enforceCaps writes the oldest traces early while over MaxOpenTraces, MaxBufferedSpans or
// MaxBufferedBytes: a partial trace written is evidence still, a span dropped is not.
func (a *assembler) enforceCaps() {
	for len(a.open) > a.cfg.MaxOpenTraces || a.buffered > a.cfg.MaxBufferedSpans || a.bytes > a.cfg.MaxBufferedBytes {
		a.finish(a.order.Front().Value.(*openTrace), EndEvicted)
	}
}

// sweep writes the traces that are complete at now: CompleteAfter after their last root or
// entry span arrived,
// or (no root) MaxIdle after their last span; late fragments CompleteAfter after their last.
func (a *assembler) sweep(now time.Time) {
	for e := a.order.Front(); e != nil; {
		t := e.Value.(*openTrace)
		e = e.Next()
		switch {
		case t.late:
			if now.Sub(t.lastSeen) >= a.cfg.CompleteAfter {
				a.finish(t, EndLate)
			}
		case !t.rootAt.IsZero():
			if now.Sub(t.rootAt) >= a.cfg.CompleteAfter {
				a.finish(t, EndComplete)
			}
		case now.Sub(t.lastSeen) >= a.cfg.MaxIdle:
			a.finish(t, EndOrphan)
		}
	}
}

// flush writes every open trace: those with a root as complete-at-shutdown, the rest as
// orphans or late fragments.
func (a *assembler) flush() {
	for a.order.Len() > 0 {
		t := a.order.Front().Value.(*openTrace)
		switch {
		case t.late:
			a.finish(t, EndLate)
		case t.rootAt.IsZero():
			a.finish(t, EndOrphan)
		default:
			a.finish(t, EndShutdown)
		}
	}
}

var endCounter = map[string]counter{EndComplete: cComplete, EndOrphan: cOrphan, EndLate: cLate, EndEvicted: cEvicted, EndShutdown: cShutdown}

func (a *assembler) finish(t *openTrace, end string) {
	a.order.Remove(t.elem)
	delete(a.open, t.id)
	a.buffered -= t.spans
	a.bytes -= t.bytes
	a.c.add(endCounter[end], 1)
	if !t.late {
		// Parents of a late fragment are in the trace written before it, so only whole traces
		// are checked for missing parents.
		a.c.add(cMissingParent, int64(missingParents(t)))
		a.remember(t.id)
	}
	a.emit(&Trace{ID: t.id.String(), Spans: t.spans, End: end, td: t.td, bytes: t.bytes})
}

// remember adds id to the ring of recently written traces.
func (a *assembler) remember(id pcommon.TraceID) {
	if old := a.ring[a.ringNext]; !old.IsEmpty() {
		delete(a.recent, old)
	}
	a.ring[a.ringNext] = id
	a.recent[id] = struct{}{}
	a.ringNext = (a.ringNext + 1) % len(a.ring)
}

// missingParents counts the spans whose parent is not in the trace.
func missingParents(t *openTrace) int {
	n := 0
	rss := t.td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				p := spans.At(k).ParentSpanID()
				if _, ok := t.spanIDs[p]; !p.IsEmpty() && !ok {
					n++
				}
			}
		}
	}
	return n
}

// gauges reports the open traces, and the spans they hold and those spans' encoded size.
func (a *assembler) gauges() (openTraces, buffered int, bytes int64) {
	return len(a.open), a.buffered, a.bytes
}
