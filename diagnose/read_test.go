package diagnose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
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

// FuzzDecodeRequest: the hand-written decoder accepts only valid JSON, never panics, and agrees
// with encoding/json on the strings it decodes.
func FuzzDecodeRequest(f *testing.F) {
	if !exactCase(good) || !uniqueKeys(good) {
		f.Fatal("exactCase or uniqueKeys rejects a valid line: nothing would be compared")
	}
	f.Add(good)
	f.Add(line)
	f.Add(strings.Split(edgeLines("0000000000000000000000000000000a", 1_700_000_000_000_000_000), "\n")[0])
	f.Add(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"a\u0041\n","spanId":"b","kind":2,"startTimeUnixNano":1,"endTimeUnixNano":"2","attributes":[{"key":"k","value":{"intValue":3}},{"key":"b","value":{"boolValue":true}},{"key":"x","value":{"arrayValue":{"values":[{"stringValue":"\"q"}]}}}],"events":[{"name":"e"}],"status":{"code":null}}]}]}]}`)
	for _, tc := range badInput {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var req request
		if err := decodeRequest([]byte(s), 1<<10, newInterner(), &req); err != nil {
			return
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("decoded invalid JSON %q", s)
		}
		var std struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []struct {
						TraceID string `json:"traceId"`
						Name    string `json:"name"`
					} `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		if json.Unmarshal([]byte(s), &std) != nil || !exactCase(s) {
			return // e.g. a number where encoding/json wants a string
		}
		var a, b []string
		for _, rs := range req.resources {
			for _, sp := range req.spans[rs.spans[0]:rs.spans[1]] {
				a = append(a, sp.traceID+"/"+sp.name)
			}
		}
		for _, rs := range std.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					b = append(b, sp.TraceID+"/"+sp.Name)
				}
			}
		}
		if !slices.Equal(a, b) && !strings.Contains(s, `\u`) && !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError }) {
			t.Fatalf("decoded %q, encoding/json %q", a, b)
		}
	})
}

// FuzzDecodeAttributes: each decoded span's attributes are its own (the last value of a
// repeated key) and its resource's where it has none of that key, truncated, as encoding/json
// reads them, on inputs whose objects repeat no key and whose values are strings.
func FuzzDecodeAttributes(f *testing.F) {
	f.Add(good)
	f.Add(line)
	f.Add(otlpLine(jsonSpan("t", "a", "", 0, 1, `{"key":"service.name","value":{"stringValue":"own"}},{"key":"k","value":{"stringValue":"1"}},{"key":"k","value":{"stringValue":"2"}}`)))
	f.Add(`{"resourceSpans":[{"resource":{"attributes":[{"key":"r","value":{"stringValue":"a"}},{"key":"r","value":{"stringValue":"b\n"}}]},"scopeSpans":[{"spans":[{"traceId":"t","spanId":"s","attributes":[{"key":"x","value":{"stringValue":"` + strings.Repeat("é", 600) + `"}}]}]}]},{"scopeSpans":[{"spans":[{"traceId":"t","spanId":"u"}]}]}]}`)
	type kv struct {
		Key   string `json:"key"`
		Value struct {
			StringValue *string `json:"stringValue"`
		} `json:"value"`
	}
	const maxAttr = 1 << 10
	f.Fuzz(func(t *testing.T, s string) {
		var req request
		if decodeRequest([]byte(s), maxAttr, newInterner(), &req) != nil || !exactCase(s) || !uniqueKeys(s) ||
			strings.Contains(s, `\u`) || !utf8.ValidString(s) || strings.Count(s, `"value"`) != strings.Count(s, `"stringValue"`) {
			return // only string values are compared
		}
		var std struct {
			ResourceSpans []struct {
				Resource struct {
					Attributes []kv `json:"attributes"`
				} `json:"resource"`
				ScopeSpans []struct {
					Spans []struct {
						Attributes []kv `json:"attributes"`
					} `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		if json.Unmarshal([]byte(s), &std) != nil {
			return
		}
		// attrs is kvs as a map, the last value of a key kept, ok false for a value not a string.
		attrs := func(kvs []kv) (map[string]string, bool) {
			m := map[string]string{}
			for _, a := range kvs {
				if a.Value.StringValue == nil {
					return nil, false
				}
				v := *a.Value.StringValue
				m[a.Key] = v[:min(len(v), maxAttr)]
			}
			return m, true
		}
		var want []map[string]string
		for _, rs := range std.ResourceSpans {
			res, ok := attrs(rs.Resource.Attributes)
			if !ok {
				return
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					m, ok := attrs(sp.Attributes)
					if !ok {
						return
					}
					for k, v := range res {
						if _, own := m[k]; !own {
							m[k] = v
						}
					}
					want = append(want, m)
				}
			}
		}
		got := spansOf(&req)
		if len(got) != len(want) {
			t.Fatalf("%d spans, encoding/json %d", len(got), len(want))
		}
		for i := range got {
			if !maps.Equal(got[i].Attrs, want[i]) {
				t.Fatalf("span %d: attributes %q, encoding/json %q", i, got[i].Attrs, want[i])
			}
		}
	})
}

// uniqueKeys reports whether no object of the JSON document s repeats a key (encoding/json keeps
// the last value, the decoder merges repeated attribute lists).
func uniqueKeys(s string) bool {
	dec := json.NewDecoder(strings.NewReader(s))
	type frame struct {
		keys   map[string]bool
		object bool
		key    bool // the next token of an object is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return errors.Is(err, io.EOF)
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			top := &stack[n-1]
			if k, ok := tok.(string); ok && top.key {
				if top.keys[k] {
					return false
				}
				top.keys[k], top.key = true, false
				continue
			}
			top.key = true // after this value, a key (or the object's end)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, object: true, key: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// exactCase reports whether the keys diagnose reads appear only in their exact case: OTLP/JSON
// keys are case-sensitive, encoding/json matches them regardless of case. Keys are counted with
// their quotes: "spans" is not in "scopeSpans".
func exactCase(s string) bool {
	lower := strings.ToLower(s)
	for _, k := range []string{"resourceSpans", "scopeSpans", "spans", "traceId", "name", "resource", "attributes", "key", "value", "stringValue"} {
		if q := `"` + k + `"`; strings.Count(lower, strings.ToLower(q)) != strings.Count(s, q) {
			return false
		}
	}
	return true
}

func TestReadNoTraces(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in  string
		tolerated map[string]int
	}{
		{"empty", "", map[string]int{}},
		{"blank lines", "\n  \n\n", map[string]int{}},
		{"a request without spans", `{"resourceSpans":[]}`, map[string]int{}},
		{"only spans without ids", otlpLine(jsonSpan("", "a", "", 0, 100, "")), map[string]int{ReasonNoIDs: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := Read(strings.NewReader(tc.in), ReadConfig{})
			if !errors.Is(err, ErrNoTraces) {
				t.Fatalf("err = %v, want ErrNoTraces", err)
			}
			if in == nil || !maps.Equal(in.Tolerated, tc.tolerated) {
				t.Errorf("input %+v, want it returned with tolerated %v", in, tc.tolerated)
			}
		})
	}
}

// TestReadEachAsRead: streamed, the bad input is tolerated and counted as Read counts it, and the
// findings are those of Analyze over what Read returned.
func TestReadEachAsRead(t *testing.T) {
	t.Parallel()
	for _, tc := range badInput {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := ReadConfig{MaxLineBytes: 64 << 10, MaxSpans: 2}
			in, err := Read(strings.NewReader(tc.in), cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := NewStream(Config{})
			each, err := s.ReadTraces(strings.NewReader(tc.in), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, got := Analyze(in, Config{}), s.Findings()
			if each.Spans != in.Spans || each.Traces != nil || !maps.Equal(got.Input.Tolerated, want.Input.Tolerated) || got.Input.Traces != want.Input.Traces {
				t.Errorf("ReadEach: spans %d, input %+v; want %d, %+v", each.Spans, got.Input, in.Spans, want.Input)
			}
		})
	}
}

// TestReadEachWindow: a trace's spans on a later line join it within the window; past it they
// are dropped and counted, not analysed as a trace of their own.
func TestReadEachWindow(t *testing.T) {
	t.Parallel()
	lines := []string{otlpLine(jsonSpan("t1", "a", "", 0, 100, "")), otlpLine(jsonSpan("t2", "a", "", 0, 100, "")),
		otlpLine(jsonSpan("t1", "b", "a", 10, 20, "")), otlpLine(jsonSpan("t3", "a", "", 0, 100, "")),
		otlpLine(jsonSpan("t1", "c", "a", 30, 40, ""))}
	var got []string
	in, err := ReadEach(strings.NewReader(strings.Join(lines, "\n")), ReadConfig{Window: 2}, func(tr *Trace) {
		got = append(got, fmt.Sprintf("%s:%d", tr.ID, len(tr.Spans)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"t1:2", "t2:1", "t3:1"}; !slices.Equal(got, want) || in.Tolerated[ReasonLateSpan] != 1 {
		t.Errorf("traces %v, tolerated %v; want %v and 1 %s", got, in.Tolerated, want, ReasonLateSpan)
	}
}

// TestReadDecodersInOrder: however many goroutines decode the lines, the traces, what was
// tolerated and the lines named for it are the same: lines are handed on in the order read.
func TestReadDecodersInOrder(t *testing.T) {
	t.Parallel()
	var in bytes.Buffer
	in.Write(benchJSONL(benchTraces(300)))
	for _, tc := range badInput {
		in.WriteString(tc.in + "\n")
	}
	in.Write(benchJSONL(benchTraces(300))) // every span of these late or duplicate
	cfg := ReadConfig{MaxLineBytes: 64 << 10, Window: 8}.withDefaults()
	run := func(workers int) (string, *Input) {
		var got strings.Builder
		read, err := read(bytes.NewReader(in.Bytes()), cfg, cfg.Window, workers, func(tr *Trace) {
			fmt.Fprintf(&got, "%s:", tr.ID)
			for _, s := range tr.Spans {
				fmt.Fprintf(&got, "%s/%s/%d/%d,", s.SpanID, s.Name, s.Start.UnixNano(), len(s.Attrs))
			}
			got.WriteString("\n")
		})
		if err != nil {
			t.Fatal(err)
		}
		return got.String(), read
	}
	want, wantIn := run(1)
	if wantIn.Tolerated[ReasonLateSpan]+wantIn.Tolerated[ReasonDuplicateSpan] == 0 || wantIn.Tolerated[ReasonMalformedLine] == 0 {
		t.Fatalf("tolerated %v: want late or duplicate spans and malformed lines", wantIn.Tolerated)
	}
	for _, workers := range []int{2, maxDecoders} {
		got, gotIn := run(workers)
		if got != want || !maps.Equal(gotIn.Tolerated, wantIn.Tolerated) || !maps.Equal(gotIn.FirstBad, wantIn.FirstBad) || gotIn.Lines != wantIn.Lines {
			t.Errorf("%d decoders: traces or input differ from 1 decoder's (tolerated %v at %v, want %v at %v)",
				workers, gotIn.Tolerated, gotIn.FirstBad, wantIn.Tolerated, wantIn.FirstBad)
		}
	}
}

// FuzzReadEach: on any input ReadEach does not panic, and every span Read keeps is handed on by
// ReadEach or counted as late.
func FuzzReadEach(f *testing.F) {
	f.Add(good+"\n"+good, 1)
	for _, tc := range badInput {
		f.Add(tc.in, 2)
	}
	f.Fuzz(func(t *testing.T, s string, window int) {
		cfg := ReadConfig{MaxLineBytes: 1 << 12, Window: window}
		in, err := Read(strings.NewReader(s), cfg)
		spans := 0
		each, eachErr := ReadEach(strings.NewReader(s), cfg, func(tr *Trace) { spans += len(tr.Spans) })
		if (err == nil) != (eachErr == nil) {
			t.Fatalf("Read: %v, ReadEach: %v", err, eachErr)
		}
		if err != nil {
			return
		}
		if spans != each.Spans || spans+each.Tolerated[ReasonLateSpan] < in.Spans {
			t.Fatalf("ReadEach handed on %d spans (counted %d, %d late), Read kept %d", spans, each.Spans, each.Tolerated[ReasonLateSpan], in.Spans)
		}
	})
}

// FuzzStopAt: the word-at-a-time scan stops where a byte-by-byte one does.
func FuzzStopAt(f *testing.F) {
	f.Add([]byte(`SELECT id, name FROM users WHERE id = 1"`))
	f.Add([]byte("0123456789abcdef\\n\x1f\x7f\x80\xff\""))
	f.Add([]byte("\xa2\xa2\xa2\xa2\xa2\xa2\xa2\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want := len(b)
		for i, c := range b {
			if c == '"' || c == '\\' || c < 0x20 {
				want = i
				break
			}
		}
		if got := stopAt(b); got != want {
			t.Fatalf("stopAt(%q) = %d, want %d", b, got, want)
		}
	})
}
