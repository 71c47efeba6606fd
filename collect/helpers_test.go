package collect

import (
	"encoding/binary"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// tid and sid make deterministic non-zero ids.
func tid(n int) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[8:], uint64(n)+1)
	id[0] = 0xab
	return id
}

func sid(n int) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], uint64(n)+1)
	return id
}

// spanSpec is one span of a test request; parent -1 means a root.
type spanSpec struct {
	trace, span, parent int
	start, end          int64 // unix nanos
	attrs               map[string]string
}

// build makes one request of the given spans under a single resource and scope.
func build(specs ...spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "test")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("collect-test")
	for _, s := range specs {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid(s.trace))
		sp.SetSpanID(sid(s.span))
		if s.parent >= 0 {
			sp.SetParentSpanID(sid(s.parent))
		}
		sp.SetName(fmt.Sprintf("span %d", s.span))
		sp.SetStartTimestamp(pcommon.Timestamp(s.start))
		sp.SetEndTimestamp(pcommon.Timestamp(s.end))
		for k, v := range s.attrs {
			sp.Attributes().PutStr(k, v)
		}
	}
	return td
}

// batch makes a request of nTraces traces of perTrace spans (the first a root), each span
// with nAttrs string attributes: the shape of the ingest benchmark.
func batch(firstTrace, nTraces, perTrace, nAttrs int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bench")
	ss := rs.ScopeSpans().AppendEmpty()
	base := time.Unix(1_700_000_000, 0)
	for t := range nTraces {
		for s := range perTrace {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(tid(firstTrace + t))
			sp.SetSpanID(sid(s))
			if s > 0 {
				sp.SetParentSpanID(sid(0))
			}
			sp.SetName("SELECT posts")
			sp.SetKind(ptrace.SpanKindClient)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(s) * time.Millisecond)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(s+1) * time.Millisecond)))
			for a := range nAttrs {
				sp.Attributes().PutStr(fmt.Sprintf("attr.%02d", a), fmt.Sprintf("value of attribute %d", a))
			}
		}
	}
	return td
}

func protoBody(td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(err)
	}
	return b
}

func jsonBody(td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	if err != nil {
		panic(err)
	}
	return b
}
