package diagnose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A small decoder for the subset of OTLP/JSON diagnose reads. encoding/json's reflection took
// about 30 s of CPU for a file of 1M spans; this scanner reads the same in a few seconds. It is
// strict about JSON syntax (a malformed line is rejected whole) and skips the fields it does not
// need (events, links, status, scope).

// rawSpan is one span as decoded, before [Read] checks it.
type rawSpan struct {
	traceID, spanID, parentID, name string
	kind                            SpanKind
	start, end                      int64
	attrs                           map[string]string
}

// rawResource is the spans of one resourceSpans entry and the resource's attributes.
type rawResource struct {
	attrs map[string]string
	spans []rawSpan
}

var errSyntax = errors.New("invalid JSON")

type scanner struct {
	b       []byte
	i       int
	err     error
	maxAttr int
	trunc   int // attribute values truncated
	intern  map[string]string
}

// internMax bounds the intern table; when full it starts over, keeping the values that repeat.
const internMax = 1 << 15

// istr is str for the values that repeat from span to span (attribute keys and values, names,
// trace and parent ids): one string per distinct value instead of one per span saves most of the
// reader's allocations.
func (s *scanner) istr() (string, bool) {
	if s.peek() == '"' {
		// Look ahead for the plain case: no escapes, short.
		j := s.i + 1
		for j < len(s.b) && j-s.i <= 128 && s.b[j] != '"' && s.b[j] != '\\' && s.b[j] >= 0x20 {
			j++
		}
		if j < len(s.b) && s.b[j] == '"' {
			raw := s.b[s.i+1 : j]
			s.i = j + 1
			if v, ok := s.intern[string(raw)]; ok {
				return v, true
			}
			v := string(raw)
			if len(s.intern) >= internMax {
				clear(s.intern)
			}
			s.intern[v] = v
			return v, true
		}
	}
	return s.str()
}

func (s *scanner) fail(format string, args ...any) bool {
	if s.err == nil {
		s.err = fmt.Errorf("%w at offset %d: %s", errSyntax, s.i, fmt.Sprintf(format, args...))
	}
	return false
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.peek() != c {
		return s.fail("want %q", c)
	}
	s.i++
	return true
}

// strRaw returns a string's bytes between its quotes and whether it has escapes.
func (s *scanner) strRaw() ([]byte, bool, bool) {
	if !s.eat('"') {
		return nil, false, false
	}
	start, esc := s.i, false
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], esc, true
		case c == '\\':
			esc = true
			if s.i+1 >= len(s.b) || !bytes.ContainsRune([]byte(`"\\/bfnrtu`), rune(s.b[s.i+1])) {
				return nil, false, s.fail("bad string escape")
			}
			if s.b[s.i+1] == 'u' {
				if s.i+6 > len(s.b) || !isHex(s.b[s.i+2:s.i+6]) {
					return nil, false, s.fail("bad \\u escape")
				}
				s.i += 4
			}
			s.i += 2
		case c < 0x20:
			return nil, false, s.fail("control character in string")
		default:
			s.i++
		}
	}
	return nil, false, s.fail("unterminated string")
}

func (s *scanner) str() (string, bool) {
	raw, esc, ok := s.strRaw()
	if !ok {
		return "", false
	}
	if !esc {
		return string(raw), true
	}
	var v string // escapes are rare: let encoding/json decode them exactly
	if err := json.Unmarshal(s.b[s.i-len(raw)-2:s.i], &v); err != nil {
		return "", s.fail("bad string escape")
	}
	return v, true
}

func (s *scanner) number() ([]byte, bool) {
	s.ws()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	if s.i == start || !json.Valid(s.b[start:s.i]) {
		return nil, s.fail("want a value")
	}
	return s.b[start:s.i], true
}

func isHex(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) literal(lit string) bool {
	s.ws()
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return s.fail("want a value")
	}
	s.i += len(lit)
	return true
}

// object calls fn for each key; fn must consume the value.
func (s *scanner) object(fn func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		key, _, ok := s.strRaw()
		if !ok || !s.eat(':') || !fn(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return s.fail("want , or }")
		}
	}
}

// array calls fn for each element; fn must consume it.
func (s *scanner) array(fn func() bool) bool {
	if !s.eat('[') {
		return false
	}
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		if !fn() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return s.fail("want , or ]")
		}
	}
}

// skip consumes any value, checking its syntax. depth bounds nesting.
func (s *scanner) skip(depth int) bool {
	if depth > 64 {
		return s.fail("nested too deeply")
	}
	switch s.peek() {
	case '{':
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case '[':
		return s.array(func() bool { return s.skip(depth + 1) })
	case '"':
		_, _, ok := s.strRaw()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, ok := s.number()
		return ok
	}
}

// int64Field reads an integer written as a JSON string or number (OTLP/JSON writes int64 as strings).
func (s *scanner) int64Field() (int64, bool) {
	var b []byte
	if s.peek() == '"' {
		raw, _, ok := s.strRaw()
		if !ok {
			return 0, false
		}
		b = raw
	} else {
		n, ok := s.number()
		if !ok {
			return 0, false
		}
		b = n
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, s.fail("bad integer %q", b)
	}
	return v, true
}

func (s *scanner) optStr(intern bool) (string, bool) {
	if s.peek() == 'n' {
		return "", s.literal("null")
	}
	if intern {
		return s.istr()
	}
	return s.str()
}

func (s *scanner) attributes(m map[string]string) bool {
	return s.array(func() bool {
		var key, val string
		has := false
		ok := s.object(func(k []byte) bool {
			switch string(k) {
			case "key":
				var ok bool
				key, ok = s.istr()
				return ok
			case "value":
				return s.object(func(k []byte) bool {
					switch string(k) {
					case "stringValue":
						v, ok := s.istr()
						val, has = v, true
						return ok
					case "intValue", "doubleValue":
						if s.peek() == '"' {
							v, ok := s.str()
							val, has = v, true
							return ok
						}
						n, ok := s.number()
						val, has = string(n), true
						return ok
					case "boolValue":
						if s.peek() == 't' {
							val, has = "true", true
							return s.literal("true")
						}
						val, has = "false", true
						return s.literal("false")
					case "arrayValue":
						v, n, ok := s.arrayValue()
						val, has = v, n > 0
						return ok
					}
					return s.skip(0)
				})
			}
			return s.skip(0)
		})
		if ok && has {
			if len(val) > s.maxAttr {
				s.trunc++
				val = val[:s.maxAttr]
			}
			m[key] = val
		}
		return ok
	})
}

// arrayValue reads an OTLP ArrayValue ({"values":[AnyValue, ...]}) as its scalar elements
// joined by ", ", as HTTP joins the values of a repeated header field: the semantic conventions
// record headers (http.response.header.etag) as string arrays. Nested arrays and maps are skipped.
// It returns the joined text and the number of scalar elements.
func (s *scanner) arrayValue() (string, int, bool) {
	var vals []string
	ok := s.object(func(k []byte) bool {
		if string(k) != "values" {
			return s.skip(0)
		}
		return s.array(func() bool {
			return s.object(func(k []byte) bool {
				switch string(k) {
				case "stringValue":
					v, ok := s.str()
					vals = append(vals, v)
					return ok
				case "intValue", "doubleValue":
					if s.peek() == '"' {
						v, ok := s.str()
						vals = append(vals, v)
						return ok
					}
					n, ok := s.number()
					vals = append(vals, string(n))
					return ok
				case "boolValue":
					if s.peek() == 't' {
						vals = append(vals, "true")
						return s.literal("true")
					}
					vals = append(vals, "false")
					return s.literal("false")
				}
				return s.skip(0)
			})
		})
	})
	return strings.Join(vals, ", "), len(vals), ok
}

func (s *scanner) span() (rawSpan, bool) {
	sp := rawSpan{attrs: map[string]string{}}
	ok := s.object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "traceId":
			sp.traceID, ok = s.optStr(true)
		case "spanId":
			sp.spanID, ok = s.optStr(false)
		case "parentSpanId":
			sp.parentID, ok = s.optStr(true)
		case "name":
			sp.name, ok = s.optStr(true)
		case "kind":
			if s.peek() == '"' {
				var name string
				name, ok = s.str()
				sp.kind = kindNames[name]
			} else {
				var n []byte
				n, ok = s.number()
				if v, err := strconv.Atoi(string(n)); err == nil && v >= 0 && v <= 5 {
					sp.kind = SpanKind(v) // an unknown kind is unspecified, not a reason to drop the span
				}
			}
		case "startTimeUnixNano":
			sp.start, ok = s.int64Field()
		case "endTimeUnixNano":
			sp.end, ok = s.int64Field()
		case "attributes":
			ok = s.attributes(sp.attrs)
		default:
			ok = s.skip(0)
		}
		return ok
	})
	return sp, ok
}

// decodeRequest decodes one ExportTraceServiceRequest.
// intern is shared from line to line (nil: a table for this call only).
func decodeRequest(b []byte, maxAttr int, intern map[string]string) ([]rawResource, int, error) {
	out, _, trunc, err := decodeRequestInto(b, maxAttr, intern, nil)
	return out, trunc, err
}

// decodeRequestInto is decodeRequest appending the spans to buf[:0], which it returns for the
// next call: the resources' spans are valid until then. Reusing buf saves growing a slice of
// spans per line.
func decodeRequestInto(b []byte, maxAttr int, intern map[string]string, buf []rawSpan) ([]rawResource, []rawSpan, int, error) {
	if intern == nil {
		intern = map[string]string{}
	}
	s := &scanner{b: b, maxAttr: maxAttr, intern: intern}
	var out []rawResource
	buf = buf[:0]
	var from []int // where each resource's spans begin in buf
	ok := s.object(func(k []byte) bool {
		if string(k) != "resourceSpans" {
			return s.skip(0)
		}
		return s.array(func() bool {
			rr := rawResource{attrs: map[string]string{}}
			from = append(from, len(buf))
			ok := s.object(func(k []byte) bool {
				switch string(k) {
				case "resource":
					return s.object(func(k []byte) bool {
						if string(k) == "attributes" {
							return s.attributes(rr.attrs)
						}
						return s.skip(0)
					})
				case "scopeSpans":
					return s.array(func() bool {
						return s.object(func(k []byte) bool {
							if string(k) != "spans" {
								return s.skip(0)
							}
							return s.array(func() bool {
								sp, ok := s.span()
								buf = append(buf, sp)
								return ok
							})
						})
					})
				}
				return s.skip(0)
			})
			out = append(out, rr)
			return ok
		})
	})
	if s.ws(); ok && s.i < len(s.b) {
		s.fail("data after the request")
	}
	if s.err != nil {
		return nil, buf, 0, s.err
	}
	for i := range out {
		end := len(buf)
		if i+1 < len(from) {
			end = from[i+1]
		}
		out[i].spans = buf[from[i]:end:end]
	}
	return out, buf, s.trunc, nil
}
