package diagnose

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// A small decoder for the subset of OTLP/JSON diagnose reads. encoding/json's reflection took
// about 30 s of CPU for a file of 1M spans; this scanner reads the same in a few seconds. It is
// strict about JSON syntax (a malformed line is rejected whole) and skips the fields it does not
// need (events, links, status, scope).

// rawSpan is one span as decoded, before [Read] checks it; its attributes are
// request.kvs[attrs[0]:attrs[1]].
type rawSpan struct {
	traceID, spanID, parentID, name string
	kind                            SpanKind
	start, end                      int64
	attrs                           [2]int32
}

// rawResource is one resourceSpans entry: its attributes (request.kvs[attrs[0]:attrs[1]]) and
// its spans (request.spans[spans[0]:spans[1]]).
type rawResource struct {
	attrs, spans [2]int32
}

// kv is one attribute as decoded, its value as a string.
type kv struct{ k, v string }

// request is one decoded ExportTraceServiceRequest. Its slices are reused from line to line:
// the attributes are collected in one slice, not a map per span, so that [spansOf] makes each
// span's map once, at its final size.
type request struct {
	resources []rawResource
	spans     []rawSpan
	kvs       []kv
	truncated int // attribute values truncated
}

var errSyntax = errors.New("invalid JSON")

type scanner struct {
	b       []byte
	i       int
	err     error
	maxAttr int
	req     *request
	intern  *interner
}

// interner returns one string per distinct value for the values that repeat from span to span
// (attribute keys and values, names, parent ids), so that they cost one allocation each instead
// of one per span. It is a direct-mapped cache: a value that collides with another is allocated
// again, and its memory is bounded by construction.
type interner struct {
	seed  maphash.Seed
	tab   [1 << 13]string
	trace string // the last trace id: a line's spans share theirs
}

func newInterner() *interner { return &interner{seed: maphash.MakeSeed()} }

func (in *interner) str(b []byte) string {
	e := &in.tab[maphash.Bytes(in.seed, b)&(uint64(len(in.tab))-1)]
	if *e != string(b) {
		*e = string(b)
	}
	return *e
}

// internMax is the longest value interned; longer ones rarely repeat.
const internMax = 128

// istr is str for the values that repeat from span to span (see [interner]).
func (s *scanner) istr() (string, bool) {
	if raw, ok := s.plainStr(); ok {
		return s.intern.str(raw), true
	}
	return s.str()
}

// traceID is str for a trace id: a line's spans are usually of one trace.
func (s *scanner) traceID() (string, bool) {
	if raw, ok := s.plainStr(); ok {
		if string(raw) != s.intern.trace {
			s.intern.trace = string(raw)
		}
		return s.intern.trace, true
	}
	return s.str()
}

// plainStr consumes a string without escapes of at most internMax bytes and returns its bytes;
// otherwise it consumes nothing.
func (s *scanner) plainStr() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	end := min(len(s.b), s.i+internMax+2)
	j := s.i + 1 + stopAt(s.b[s.i+1:end])
	if j < end && s.b[j] == '"' {
		raw := s.b[s.i+1 : j]
		s.i = j + 1
		return raw, true
	}
	return nil, false
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
		if s.i += stopAt(s.b[s.i:]); s.i == len(s.b) {
			break
		}
		switch s.b[s.i] {
		case '"':
			s.i++
			return s.b[start : s.i-1], esc, true
		case '\\':
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
		default: // a control character
			return nil, false, s.fail("control character in string")
		}
	}
	return nil, false, s.fail("unterminated string")
}

// strStop marks the bytes a string's scan stops at: its end, an escape, a control character.
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// stopAt is the index of b's first byte of strStop, or len(b). It tests 8 bytes at a time: in
// each word, the lowest byte flagged by the zero-byte test (x-0x01…)&^x&0x80… is exact (a
// borrow only flags bytes above a true one).
func stopAt(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		if t := ((q-ones)&^q | (bs-ones)&^bs | (x-ones*0x20)&^x) & highs; t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
	}
	for ; i < len(b); i++ {
		if strStop[b[i]] {
			return i
		}
	}
	return len(b)
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
	if !validNumber(s.b[start:s.i]) {
		return nil, s.fail("want a value")
	}
	return s.b[start:s.i], true
}

// validNumber reports whether b is a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	i := 0
	digits := func() bool {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if !digits() {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(b)
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
	if v, ok := parseUint(b); ok {
		return v, true
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, s.fail("bad integer %q", b)
	}
	return v, true
}

// parseUint is the common case of strconv.ParseInt, without its generality: decimal digits
// that fit an int64, no sign (ok false otherwise: ParseInt decides).
func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 { // 19 digits fit a uint64
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
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

// attributes appends the attributes to req.kvs and returns their range there, after those of
// prev: a key repeated in an object adds to what it held before (the last value of an
// attribute wins).
func (s *scanner) attributes(prev [2]int32) ([2]int32, bool) {
	from := int32(len(s.req.kvs))
	if prev[1] == from {
		from = prev[0]
	} else {
		s.req.kvs = append(s.req.kvs, s.req.kvs[prev[0]:prev[1]]...)
	}
	ok := s.array(func() bool {
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
				s.req.truncated++
				val = val[:s.maxAttr]
			}
			s.req.kvs = append(s.req.kvs, kv{key, val})
		}
		return ok
	})
	return [2]int32{from, int32(len(s.req.kvs))}, ok
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
	var sp rawSpan
	ok := s.object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "traceId":
			if s.peek() == 'n' {
				ok = s.literal("null")
			} else {
				sp.traceID, ok = s.traceID()
			}
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
			sp.attrs, ok = s.attributes(sp.attrs)
		default:
			ok = s.skip(0)
		}
		return ok
	})
	return sp, ok
}

// decodeRequest decodes one ExportTraceServiceRequest into req, reusing its slices; intern is
// shared from line to line.
func decodeRequest(b []byte, maxAttr int, intern *interner, req *request) error {
	req.resources, req.spans, req.kvs, req.truncated = req.resources[:0], req.spans[:0], req.kvs[:0], 0
	s := &scanner{b: b, maxAttr: maxAttr, intern: intern, req: req}
	ok := s.object(func(k []byte) bool {
		if string(k) != "resourceSpans" {
			return s.skip(0)
		}
		return s.array(func() bool {
			rr := rawResource{}
			rr.spans[0] = int32(len(req.spans))
			ok := s.object(func(k []byte) bool {
				switch string(k) {
				case "resource":
					return s.object(func(k []byte) bool {
						if string(k) == "attributes" {
							var ok bool
							rr.attrs, ok = s.attributes(rr.attrs)
							return ok
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
								req.spans = append(req.spans, sp)
								return ok
							})
						})
					})
				}
				return s.skip(0)
			})
			rr.spans[1] = int32(len(req.spans))
			req.resources = append(req.resources, rr)
			return ok
		})
	})
	if s.ws(); ok && s.i < len(s.b) {
		s.fail("data after the request")
	}
	return s.err
}
