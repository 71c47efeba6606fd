package jaegersrc

import (
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/diagnose"
)

// answer is a /api/traces answer as Jaeger 1.75 writes it for an OTLP trace of a server span
// and a query under it (a 64-bit trace id, written in 16 digits).
const answer = `{"data":[{"traceID":"00000000000000ab","spans":[
 {"traceID":"00000000000000ab","spanID":"0000000000000001","operationName":"GET /posts","references":[],
  "startTime":1700000000000000,"duration":5000,"flags":1,
  "tags":[{"key":"span.kind","type":"string","value":"server"},{"key":"http.route","type":"string","value":"/posts"},
          {"key":"http.response.status_code","type":"int64","value":200},{"key":"sampled","type":"bool","value":true},
          {"key":"ratio","type":"float64","value":0.5}],
  "logs":[],"processID":"p1","warnings":null},
 {"traceID":"00000000000000ab","spanID":"0000000000000002","operationName":"SELECT","references":[
   {"refType":"CHILD_OF","traceID":"00000000000000ab","spanID":"0000000000000001"}],
  "startTime":1700000000001000,"duration":2000,
  "tags":[{"key":"span.kind","type":"string","value":"client"},{"key":"db.query.text","type":"string","value":"SELECT 1"},
          {"key":"service.name","type":"string","value":"own"}],
  "logs":[],"processID":"p1","warnings":null}],
 "processes":{"p1":{"serviceName":"api","tags":[{"key":"host.name","type":"string","value":"h1"}]}},"warnings":null}],
 "total":0,"limit":0,"offset":0,"errors":null}`

func TestDecode(t *testing.T) {
	t.Parallel()
	d, err := Decode(strings.NewReader(answer), 1<<20, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Traces) != 1 || len(d.Traces[0].Spans) != 2 || len(d.Tolerated) != 0 {
		t.Fatalf("got %d traces, tolerated %v: want 1 trace of 2 spans, nothing tolerated", len(d.Traces), d.Tolerated)
	}
	tr := d.Traces[0]
	if want := "000000000000000000000000000000ab"; tr.ID != want {
		t.Errorf("trace id %q: want %q (OTLP's 32 digits)", tr.ID, want)
	}
	root, q := tr.Spans[0], tr.Spans[1]
	if root.Kind != diagnose.KindServer || q.Kind != diagnose.KindClient {
		t.Errorf("kinds %v, %v: want server, client", root.Kind, q.Kind)
	}
	if q.ParentID != root.SpanID || root.ParentID != "" {
		t.Errorf("parents %q, %q: want \"\", %q", root.ParentID, q.ParentID, root.SpanID)
	}
	if got := root.Start; !got.Equal(time.UnixMicro(1700000000000000)) || root.Duration() != 5*time.Millisecond {
		t.Errorf("root at %v for %v: want 1700000000s for 5ms", got, root.Duration())
	}
	want := map[string]string{"http.route": "/posts", "http.response.status_code": "200", "sampled": "true",
		"ratio": "0.5", "service.name": "api", "host.name": "h1"}
	for k, v := range want {
		if root.Attrs[k] != v {
			t.Errorf("root attribute %s = %q: want %q", k, root.Attrs[k], v)
		}
	}
	if _, ok := root.Attrs["span.kind"]; ok {
		t.Error("span.kind kept as an attribute: it is the span's Kind")
	}
	if q.Attrs["service.name"] != "own" {
		t.Errorf("a span's own service.name %q was overwritten by its process's", q.Attrs["service.name"])
	}
}

func TestDecodeTolerates(t *testing.T) {
	t.Parallel()
	in := `{"data":[{"traceID":"ab","spans":[
	 {"traceID":"ab","spanID":"1","operationName":"ok","startTime":1,"duration":1},
	 {"traceID":"ab","spanID":"1","operationName":"dup","startTime":1,"duration":1},
	 {"traceID":"ab","spanID":"zz","operationName":"bad id","startTime":1,"duration":1},
	 {"traceID":"ab","spanID":"3","operationName":"no times"},
	 {"traceID":"ab","spanID":"4","operationName":"bad tag","startTime":1,"duration":1,
	  "tags":[{"key":"n","type":"int64","value":"x"},{"key":"s","type":"string","value":"` + strings.Repeat("a", 20) + `"}]}]}],
	 "errors":[{"code":0,"msg":"trace not found","traceID":"cd"},{"code":500,"msg":"boom"}]}`
	d, err := Decode(strings.NewReader(in), 1<<20, 8)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{diagnose.ReasonDuplicateSpan: 1, ReasonBadID: 1, ReasonNoTimes: 1, ReasonBadTag: 1, diagnose.ReasonAttrTruncated: 1}
	for k, v := range want {
		if d.Tolerated[k] != v {
			t.Errorf("tolerated %s ×%d: want ×%d (all: %v)", k, d.Tolerated[k], v, d.Tolerated)
		}
	}
	if len(d.Traces) != 1 || len(d.Traces[0].Spans) != 2 {
		t.Fatalf("got %d traces: want 1 of 2 spans kept", len(d.Traces))
	}
	if got := d.Traces[0].Spans[1].Attrs["s"]; got != "aaaaaaaa" {
		t.Errorf("truncated value %q: want 8 bytes", got)
	}
	if len(d.Missing) != 1 || d.Missing[0] != "000000000000000000000000000000cd" || len(d.Errors) != 1 {
		t.Errorf("missing %v, errors %v: want the id not found, and the 500", d.Missing, d.Errors)
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"html":          "<html>Jaeger UI</html>",
		"other API":     `{"resourceSpans":[]}`,
		"no data":       `{"total":0}`,
		"wrong type":    `{"data":[{"traceID":"ab","spans":[{"traceID":"ab","spanID":"1","startTime":"soon","duration":1}]}]}`,
		"truncated":     answer[:len(answer)/2],
		"data after it": `{"data":[]} {"data":[]}`,
		"too large":     `{"data":[],"total":0,"limit":0,"offset":0,"errors":null}` + strings.Repeat(" ", 100),
	} {
		if _, err := Decode(strings.NewReader(in), 100, 4096); err == nil {
			t.Errorf("%s: decoded: want an error", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(answer))
	f.Add([]byte(`{"data":[{"traceID":"ab","spans":[{"traceID":"ab","spanID":"1","startTime":1,"duration":18446744073709551615}]}]}`))
	f.Add([]byte(`{"data":null,"errors":[{"traceID":"0"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(strings.NewReader(string(b)), 1<<20, 16)
		if err != nil {
			return
		}
		for _, tr := range d.Traces {
			if len(tr.ID) != 32 || len(tr.Spans) == 0 {
				t.Fatalf("trace %q of %d spans: want 32 digits and a span", tr.ID, len(tr.Spans))
			}
			for _, s := range tr.Spans {
				if s.TraceID != tr.ID || len(s.SpanID) != 16 || s.End.Before(s.Start) {
					t.Fatalf("span %+v of trace %s", s, tr.ID)
				}
				for k, v := range s.Attrs {
					if len(v) > 16 {
						t.Fatalf("attribute %s of %d bytes: want at most 16", k, len(v))
					}
				}
			}
		}
	})
}
