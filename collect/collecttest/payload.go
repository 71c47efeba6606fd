// Package collecttest makes OTLP export requests of a given shape for benchmarks of the
// receiver: the Go benchmark in collect and the bench/otlpsend load program share it, so both
// measure the same payload.
package collecttest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// marker fills the first 8 bytes of every trace id, so Stamp can give each request fresh
// trace ids by overwriting them in place instead of marshalling anew.
var marker = []byte{0xfe, 0xed, 'h', 'r', 'b', 'e', 'n', 'c'}

// Payload is one OTLP/HTTP protobuf ExportTraceServiceRequest body of Traces traces of
// PerTrace spans each (the first a root, the others its children), every span with Attrs
// string attributes. Safe for concurrent use after New.
type Payload struct {
	Traces, PerTrace, Attrs int
	body                    []byte
	offsets                 []int // of the trace id markers in body
}

// New builds the payload.
func New(traces, perTrace, attrs int) (*Payload, error) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bench")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("collecttest")
	base := time.Unix(1_700_000_000, 0)
	for t := range traces {
		var tid pcommon.TraceID
		copy(tid[:8], marker)
		binary.BigEndian.PutUint64(tid[8:], uint64(t)+1)
		for s := range perTrace {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(tid)
			var sid pcommon.SpanID
			binary.BigEndian.PutUint64(sid[:], uint64(s)+1)
			sp.SetSpanID(sid)
			if s > 0 {
				binary.BigEndian.PutUint64(sid[:], 1)
				sp.SetParentSpanID(sid)
			}
			sp.SetName("SELECT posts")
			sp.SetKind(ptrace.SpanKindClient)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(s) * time.Millisecond)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(s+1) * time.Millisecond)))
			for a := range attrs {
				sp.Attributes().PutStr(fmt.Sprintf("attr.%02d", a), fmt.Sprintf("value of attribute %d", a))
			}
		}
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return nil, err
	}
	p := &Payload{Traces: traces, PerTrace: perTrace, Attrs: attrs, body: body}
	for i := 0; ; {
		j := bytes.Index(body[i:], marker)
		if j < 0 {
			break
		}
		p.offsets = append(p.offsets, i+j)
		i += j + len(marker)
	}
	if len(p.offsets) != traces*perTrace {
		return nil, fmt.Errorf("collecttest: found %d trace id markers in the body, want %d", len(p.offsets), traces*perTrace)
	}
	return p, nil
}

// Spans is the number of spans in one request.
func (p *Payload) Spans() int { return p.Traces * p.PerTrace }

// Len is the body's size in bytes.
func (p *Payload) Len() int { return len(p.body) }

// Stamp writes the body into dst (which must be Len bytes) with trace ids unique to n: requests
// stamped with different n carry different traces.
func (p *Payload) Stamp(dst []byte, n uint64) []byte {
	dst = dst[:len(p.body)]
	copy(dst, p.body)
	for _, o := range p.offsets {
		binary.LittleEndian.PutUint64(dst[o:], n)
	}
	return dst
}
