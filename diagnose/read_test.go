package diagnose

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

func otlpLine(spans ...string) string {
	return `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"lab"}}]},"scopeSpans":[{"spans":[` +
		strings.Join(spans, ",") + `]}]}]}`
}

func jsonSpan(trace, id, parent string, start, end int64, attrs string) string {
	return fmt.Sprintf(`{"traceId":%q,"spanId":%q,"parentSpanId":%q,"name":"s","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s]}`,
		trace, id, parent, start, end, attrs)
}

var good = otlpLine(jsonSpan("t1", "a", "", 0, 100, ""), jsonSpan("t1", "b", "a", 10, 20, ""))

var badInput = []struct {
	name  string
	in    string
	spans int
	want  map[string]int
}{
	{"malformed line among good ones", good + "\n{not json\n", 2, map[string]int{ReasonMalformedLine: 1}},
	{"span without ids", otlpLine(jsonSpan("t1", "a", "", 0, 100, ""), jsonSpan("", "b", "a", 10, 20, "")), 1,
		map[string]int{ReasonNoIDs: 1}},
	{"end before start", otlpLine(jsonSpan("t1", "a", "", 0, 100, ""), jsonSpan("t1", "b", "a", 50, 20, "")), 2,
		map[string]int{ReasonEndBeforeStart: 1}},
	{"duplicate span id", good + "\n" + good, 2, map[string]int{ReasonDuplicateSpan: 2}},
	{"huge attribute value", otlpLine(jsonSpan("t1", "a", "", 0, 100,
		`{"key":"db.statement","value":{"stringValue":"`+strings.Repeat("x", 5000)+`"}}`)), 1, map[string]int{ReasonAttrTruncated: 1}},
	{"line too long", good + "\n" + otlpLine(jsonSpan("t2", "a", "", 0, 1, `{"key":"k","value":{"stringValue":"`+strings.Repeat("y", 70000)+`"}}`)), 2,
		map[string]int{ReasonLineTooLong: 1}},
	{"missing parent", otlpLine(jsonSpan("t1", "a", "", 0, 100, ""), jsonSpan("t1", "b", "zz", 10, 20, "")), 2,
		map[string]int{ReasonOrphan: 1}},
	{"trace without root: a cycle", otlpLine(jsonSpan("t1", "a", "b", 0, 100, ""), jsonSpan("t1", "b", "a", 10, 20, "")), 2,
		map[string]int{ReasonNoRoot: 1}},
	{"span limit", otlpLine(jsonSpan("t1", "a", "", 0, 100, ""), jsonSpan("t1", "b", "a", 10, 20, ""), jsonSpan("t1", "c", "a", 10, 20, "")), 2,
		map[string]int{ReasonSpanLimit: 1}},
}

func TestReadToleratesBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range badInput {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := Read(strings.NewReader(tc.in), ReadConfig{MaxLineBytes: 64 << 10, MaxSpans: 2})
			if err != nil {
				t.Fatal(err)
			}
			f := Analyze(in, Config{})
			if in.Spans != tc.spans || !maps.Equal(f.Input.Tolerated, tc.want) {
				t.Errorf("spans %d, tolerated %v; want %d, %v", in.Spans, f.Input.Tolerated, tc.spans, tc.want)
			}
			for _, tr := range in.Traces {
				for _, s := range tr.Spans {
					if s.End.Before(s.Start) || len(s.Attrs["db.statement"]) > 4096 {
						t.Errorf("span kept as read: %+v", s)
					}
					if s.Attrs["service.name"] != "lab" {
						t.Errorf("resource attribute service.name not on the span: %v", s.Attrs)
					}
				}
			}
		})
	}
}
