package collect

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// decodeProtobuf parses an OTLP ExportTraceServiceRequest in protobuf.
func decodeProtobuf(b []byte) (ptrace.Traces, error) {
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(b); err != nil {
		return ptrace.Traces{}, fmt.Errorf("not an OTLP protobuf ExportTraceServiceRequest: %w", err)
	}
	return req.Traces(), nil
}

// decodeJSON parses an OTLP ExportTraceServiceRequest in OTLP/JSON. pdata's decoder reads ids
// as hex, as OTLP/JSON requires (protojson would read them as base64).
func decodeJSON(b []byte) (ptrace.Traces, error) {
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalJSON(b); err != nil {
		return ptrace.Traces{}, fmt.Errorf("not an OTLP JSON ExportTraceServiceRequest: %w", err)
	}
	return req.Traces(), nil
}

// decodeMetrics and decodeLogs check that b is an OTLP protobuf request of that signal.
func decodeMetrics(b []byte) error { return pmetricotlp.NewExportRequest().UnmarshalProto(b) }
func decodeLogs(b []byte) error    { return plogotlp.NewExportRequest().UnmarshalProto(b) }

// checked is what sanitize found in one request.
type checked struct {
	accepted            int // spans kept
	badTrace, badSpan   int // spans removed for an all-zero id
	skewed, truncations int // tolerated
}

// rejected is the number of spans refused.
func (c checked) rejected() int { return c.badTrace + c.badSpan }

// message is the partial success error_message, empty when nothing was refused.
func (c checked) message() string {
	if c.rejected() == 0 {
		return ""
	}
	var parts []string
	if c.badTrace > 0 {
		parts = append(parts, fmt.Sprintf("%d with an all-zero trace id", c.badTrace))
	}
	if c.badSpan > 0 {
		parts = append(parts, fmt.Sprintf("%d with an all-zero span id", c.badSpan))
	}
	return fmt.Sprintf("refused %d %s: %s (OTLP requires non-zero ids)", c.rejected(), plural(c.rejected(), "span"), strings.Join(parts, ", "))
}

// sanitize removes the spans OTLP calls invalid (all-zero trace or span id), truncates
// attribute values longer than maxAttr bytes, and counts spans that end before they start
// (kept as sent: the skew is the sender's, and diagnose clamps durations at zero).
func sanitize(td ptrace.Traces, maxAttr int) checked {
	var c checked
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		c.truncations += truncateMap(rs.Resource().Attributes(), maxAttr)
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			ss := sss.At(j)
			c.truncations += truncateMap(ss.Scope().Attributes(), maxAttr)
			ss.Spans().RemoveIf(func(sp ptrace.Span) bool {
				switch {
				case sp.TraceID().IsEmpty():
					c.badTrace++
					return true
				case sp.SpanID().IsEmpty():
					c.badSpan++
					return true
				}
				c.accepted++
				if sp.EndTimestamp() < sp.StartTimestamp() {
					c.skewed++
				}
				c.truncations += truncateMap(sp.Attributes(), maxAttr)
				evs := sp.Events()
				for k := range evs.Len() {
					c.truncations += truncateMap(evs.At(k).Attributes(), maxAttr)
				}
				links := sp.Links()
				for k := range links.Len() {
					c.truncations += truncateMap(links.At(k).Attributes(), maxAttr)
				}
				return false
			})
		}
	}
	return c
}

// truncateMap cuts every string and bytes value in m (nested ones too) to max bytes and
// returns how many it cut.
func truncateMap(m pcommon.Map, maxLen int) int {
	n := 0
	m.Range(func(_ string, v pcommon.Value) bool {
		n += truncateValue(v, maxLen)
		return true
	})
	return n
}

func truncateValue(v pcommon.Value, maxLen int) int {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if s := v.Str(); len(s) > maxLen {
			v.SetStr(truncateUTF8(s, maxLen))
			return 1
		}
	case pcommon.ValueTypeBytes:
		if b := v.Bytes(); b.Len() > maxLen {
			b.FromRaw(b.AsRaw()[:maxLen])
			return 1
		}
	case pcommon.ValueTypeMap:
		return truncateMap(v.Map(), maxLen)
	case pcommon.ValueTypeSlice:
		n := 0
		s := v.Slice()
		for i := range s.Len() {
			n += truncateValue(s.At(i), maxLen)
		}
		return n
	default:
	}
	return 0
}

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
