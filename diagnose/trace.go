package diagnose

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Span is diagnose's own small span model.
type Span struct {
	TraceID, SpanID, ParentID string
	Name                      string
	Start, End                time.Time
	Attrs                     map[string]string
}

// Duration is End-Start, never negative.
func (s *Span) Duration() time.Duration { return max(s.End.Sub(s.Start), 0) }

// Trace is the spans of one trace.
type Trace struct {
	ID    string
	Spans []*Span
}

// otlp JSON shapes (OTLP/JSON encodes ids as hex strings and int64 nanos as strings).
type otlpRequest struct {
	ResourceSpans []struct {
		ScopeSpans []struct {
			Spans []otlpSpan `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

type otlpSpan struct {
	TraceID      string     `json:"traceId"`
	SpanID       string     `json:"spanId"`
	ParentSpanID string     `json:"parentSpanId"`
	Name         string     `json:"name"`
	Start        nanos      `json:"startTimeUnixNano"`
	End          nanos      `json:"endTimeUnixNano"`
	Attributes   []otlpAttr `json:"attributes"`
}

type otlpAttr struct {
	Key   string `json:"key"`
	Value struct {
		S *string         `json:"stringValue"`
		I json.RawMessage `json:"intValue"`
	} `json:"value"`
}

type nanos int64

func (n *nanos) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("bad unix nano time %q", s)
	}
	*n = nanos(v)
	return nil
}

// ReadJSONL reads traces written one OTLP JSON request per line. Spans are grouped by trace id
// (a trace may span several lines). An error names the line that could not be decoded.
func ReadJSONL(r io.Reader) ([]*Trace, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 64<<20)
	byID := map[string]*Trace{}
	var order []*Trace
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var req otlpRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("traces line %d: not an OTLP JSON request: %w", line, err)
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, os := range ss.Spans {
					if os.TraceID == "" || os.SpanID == "" {
						return nil, fmt.Errorf("traces line %d: span %q has no trace or span id", line, os.Name)
					}
					sp := &Span{TraceID: os.TraceID, SpanID: os.SpanID, ParentID: os.ParentSpanID, Name: os.Name,
						Start: time.Unix(0, int64(os.Start)), End: time.Unix(0, int64(os.End)), Attrs: map[string]string{}}
					for _, a := range os.Attributes {
						switch {
						case a.Value.S != nil:
							sp.Attrs[a.Key] = *a.Value.S
						case len(a.Value.I) > 0:
							sp.Attrs[a.Key] = string(trimQuotes(a.Value.I))
						}
					}
					t := byID[sp.TraceID]
					if t == nil {
						t = &Trace{ID: sp.TraceID}
						byID[sp.TraceID] = t
						order = append(order, t)
					}
					t.Spans = append(t.Spans, sp)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("traces line %d: %w", line+1, err)
	}
	return order, nil
}

func trimQuotes(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}
