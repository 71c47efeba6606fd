package collect

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// checkDownstream checks what any decodable request goes through: sanitizing and assembling
// it must not panic, and every trace written must decode again as OTLP JSON, whole.
func checkDownstream(t *testing.T, td ptrace.Traces) {
	t.Helper()
	f := newFixture(t, Config{MaxAttrValueLen: 8, MaxSpansPerTrace: 50, MaxOpenTraces: 10})
	sanitize(td, 8)
	f.a.add(td, time.Unix(0, 0))
	f.a.flush()
	for _, tr := range f.out {
		b, err := tr.AppendJSON(nil)
		if err != nil {
			t.Fatalf("trace %s does not marshal: %v", tr.ID, err)
		}
		back, err := decodeJSON(b)
		if err != nil {
			t.Fatalf("written trace does not decode: %v\n%s", err, b)
		}
		if back.SpanCount() != tr.Spans {
			t.Fatalf("written trace has %d spans, decodes to %d", tr.Spans, back.SpanCount())
		}
	}
}

func FuzzDecodeProtobuf(f *testing.F) {
	f.Add(protoBody(build(spanSpec{trace: 1, span: 1, parent: -1, start: 1, end: 2, attrs: map[string]string{"k": "a long value"}})))
	f.Add(protoBody(build(spanSpec{trace: 1, span: 1, parent: -1}, spanSpec{trace: 1, span: 2, parent: 1}, spanSpec{trace: 2, span: 1, parent: 7})))
	f.Add([]byte{})
	f.Add([]byte("\x0a\xff\xff\xff\xff\x0fnot protobuf"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if td, err := decodeProtobuf(b); err == nil {
			checkDownstream(t, td)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add(jsonBody(build(spanSpec{trace: 1, span: 1, parent: -1, start: 1, end: 2, attrs: map[string]string{"k": "a long value"}})))
	f.Add(jsonBody(build(spanSpec{trace: 1, span: 1, parent: -1}, spanSpec{trace: 1, span: 2, parent: 1}, spanSpec{trace: 2, span: 1, parent: 7})))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"01"}]}]}]}`))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00000000000000aa","startTimeUnixNano":"9","endTimeUnixNano":"1"}]}]}]}`))
	f.Add([]byte(`{"resourceSpans":[{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if td, err := decodeJSON(b); err == nil {
			checkDownstream(t, td)
		}
	})
}
