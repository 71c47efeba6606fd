// Package abi is the wire format between the edge node (the host, lab/isolate) and an edge
// function (the guest, a WebAssembly module built from lab/edge/functions): the request the host
// writes into the guest's memory, the decision the guest hands back, and the payloads of the
// host calls (jwt_verify, fetch). See lab/isolate's package doc for the calls themselves.
//
// Both sides compile this package (the guest as GOOS=wasip1), so it imports nothing beyond
// encoding/binary, errors, strconv and strings: net/http alone would add megabytes to every
// module. The host decodes guest output as untrusted input: every Decode… checks lengths and
// values and returns an error wrapping ErrMalformed, never panics (FuzzDecodeDecision).
//
// Encoding: a version byte, then fields in a fixed order; a string or byte field is a uvarint
// length and the bytes; a number is a uvarint; a list is a uvarint count and its items. A
// decision is a version byte, an action byte and a sequence of tagged edits, so that a guest
// says only what it changes.
package abi

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// Version is the version byte every encoding starts with.
const Version = 1

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed abi message")

// Phase is where in the proxy a function runs.
type Phase uint8

const (
	// PhaseRequest runs on the client's request before the cache and the origin.
	PhaseRequest Phase = 1
	// PhaseResponse runs on the response (cached or from the origin) before it goes to the client.
	PhaseResponse Phase = 2
)

func (p Phase) String() string {
	switch p {
	case PhaseRequest:
		return "request"
	case PhaseResponse:
		return "response"
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// Action is what the guest decided.
type Action uint8

const (
	// ActionContinue lets the request go on (request phase: with the request edits applied;
	// response phase: with the response edits applied).
	ActionContinue Action = 1
	// ActionRespond answers the client with Decision.Status, Response headers and Body; in the
	// response phase it replaces the response whole.
	ActionRespond Action = 2
)

func (a Action) String() string {
	switch a {
	case ActionContinue:
		return "continue"
	case ActionRespond:
		return "respond"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Header is one header field; a field with several values is several Headers.
type Header struct {
	Name, Value string
}

// Request is what the host passes to the guest.
type Request struct {
	Phase Phase
	// Method, Path (no query), Query (without '?') and ClientAddr (host:port) of the client's request.
	Method, Path, Query, ClientAddr string
	// Headers are the client's request headers (in both phases).
	Headers []Header
	// Status, ResponseHeaders and Body are the response's, in PhaseResponse only. Body is nil
	// when the host does not pass it (too large, or not asked for).
	Status          int
	ResponseHeaders []Header
	Body            []byte
}

// Get returns the first value of the request header name (compared case-insensitively).
func (r *Request) Get(name string) string { return get(r.Headers, name) }

// GetResponse returns the first value of the response header name.
func (r *Request) GetResponse(name string) string { return get(r.ResponseHeaders, name) }

func get(hs []Header, name string) string {
	for _, h := range hs {
		if equalFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// EditKind says what a HeaderEdit does.
type EditKind uint8

const (
	// EditSet replaces every value of the header with Value.
	EditSet EditKind = 1
	// EditAdd appends Value to the header's values.
	EditAdd EditKind = 2
	// EditDel removes the header.
	EditDel EditKind = 3
)

// HeaderEdit is one change to a header set.
type HeaderEdit struct {
	Kind        EditKind
	Name, Value string
}

// Identity is the verified user a function (auth) asks the host to vouch for to the origin.
type Identity struct {
	Sub, Sid string
	// Exp is the token's expiry, Unix seconds.
	Exp int64
}

// Decision is what the guest hands back.
type Decision struct {
	Action Action
	// RequestHeaders, Path (when not empty: the new path, query kept), Pool (when not empty:
	// the origin pool) and Identity apply to the request in PhaseRequest with ActionContinue.
	RequestHeaders []HeaderEdit
	Path           string
	Pool           string
	Identity       *Identity
	// Status, ResponseHeaders and Body: with ActionRespond the response itself (ResponseHeaders
	// applied to an empty set); with ActionContinue in PhaseResponse, edits of the response
	// (Status 0 keeps it; Body applies when BodySet).
	Status          int
	ResponseHeaders []HeaderEdit
	Body            []byte
	BodySet         bool
}

// Tags of a decision's edits.
const (
	tagRequestHeader  = 1
	tagPath           = 2
	tagPool           = 3
	tagIdentity       = 4
	tagStatus         = 5
	tagResponseHeader = 6
	tagBody           = 7
)

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendHeaders(b []byte, hs []Header) []byte {
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = appendString(b, h.Name)
		b = appendString(b, h.Value)
	}
	return b
}

// AppendRequest appends r's encoding to b.
func AppendRequest(b []byte, r *Request) []byte {
	b = append(b, Version, byte(r.Phase))
	b = appendString(b, r.Method)
	b = appendString(b, r.Path)
	b = appendString(b, r.Query)
	b = appendString(b, r.ClientAddr)
	b = appendHeaders(b, r.Headers)
	if r.Phase == PhaseResponse {
		b = binary.AppendUvarint(b, uint64(r.Status))
		b = appendHeaders(b, r.ResponseHeaders)
		if r.Body == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			b = appendBytes(b, r.Body)
		}
	}
	return b
}

// DecodeRequest decodes a request encoded by AppendRequest.
func DecodeRequest(b []byte) (Request, error) {
	d := decoder{b: b}
	var r Request
	if v := d.byte(); v != Version && d.err == nil {
		return r, d.fail("version " + itoa(int(v)))
	}
	r.Phase = Phase(d.byte())
	if d.err == nil && r.Phase != PhaseRequest && r.Phase != PhaseResponse {
		return r, d.fail("phase " + itoa(int(r.Phase)))
	}
	r.Method = d.string()
	r.Path = d.string()
	r.Query = d.string()
	r.ClientAddr = d.string()
	r.Headers = d.headers()
	if r.Phase == PhaseResponse {
		r.Status = d.int(999)
		r.ResponseHeaders = d.headers()
		if d.byte() == 1 {
			r.Body = d.bytes()
			if r.Body == nil {
				r.Body = []byte{}
			}
		}
	}
	return r, d.end()
}

// AppendDecision appends d's encoding to b.
func AppendDecision(b []byte, d *Decision) []byte {
	b = append(b, Version, byte(d.Action))
	for _, e := range d.RequestHeaders {
		b = append(b, tagRequestHeader, byte(e.Kind))
		b = appendString(b, e.Name)
		b = appendString(b, e.Value)
	}
	if d.Path != "" {
		b = appendString(append(b, tagPath), d.Path)
	}
	if d.Pool != "" {
		b = appendString(append(b, tagPool), d.Pool)
	}
	if id := d.Identity; id != nil {
		b = append(b, tagIdentity)
		b = appendString(b, id.Sub)
		b = appendString(b, id.Sid)
		b = binary.AppendVarint(b, id.Exp)
	}
	if d.Status != 0 {
		b = binary.AppendUvarint(append(b, tagStatus), uint64(d.Status))
	}
	for _, e := range d.ResponseHeaders {
		b = append(b, tagResponseHeader, byte(e.Kind))
		b = appendString(b, e.Name)
		b = appendString(b, e.Value)
	}
	if d.BodySet {
		b = appendBytes(append(b, tagBody), d.Body)
	}
	return b
}

// Limits bound what DecodeDecision accepts beyond the encoding's own checks.
type Limits struct {
	// MaxBody is the largest body a decision may carry.
	MaxBody int
	// MaxEdits is the most header edits (request and response together) a decision may carry.
	MaxEdits int
}

// DecodeDecision decodes and checks a decision encoded by AppendDecision: header names are
// tokens (RFC 9110 §5.1), values hold no control characters but tab, the path starts with '/'
// and has no control character or space, a status is 200 to 599 (an edge function does not
// send informational answers), the pool and identity fields are short printable strings.
func DecodeDecision(b []byte, lim Limits) (Decision, error) {
	dec := decoder{b: b}
	var d Decision
	if v := dec.byte(); v != Version && dec.err == nil {
		return d, dec.fail("version " + itoa(int(v)))
	}
	d.Action = Action(dec.byte())
	if dec.err == nil && d.Action != ActionContinue && d.Action != ActionRespond {
		return d, dec.fail("action " + itoa(int(d.Action)))
	}
	edits := 0
	for dec.err == nil && len(dec.b) > 0 {
		tag := dec.byte()
		switch tag {
		case tagRequestHeader, tagResponseHeader:
			e := HeaderEdit{Kind: EditKind(dec.byte()), Name: dec.string(), Value: dec.string()}
			if dec.err != nil {
				break
			}
			if edits++; edits > lim.MaxEdits {
				return d, dec.fail("more than " + itoa(lim.MaxEdits) + " header edits")
			}
			if err := checkEdit(e); err != nil {
				return d, err
			}
			if tag == tagRequestHeader {
				d.RequestHeaders = append(d.RequestHeaders, e)
			} else {
				d.ResponseHeaders = append(d.ResponseHeaders, e)
			}
		case tagPath:
			d.Path = dec.string()
			if dec.err == nil && !validPath(d.Path) {
				return d, dec.fail("path " + quote(d.Path) + ": want '/' then printable characters")
			}
		case tagPool:
			d.Pool = dec.string()
			if dec.err == nil && !validShort(d.Pool) {
				return d, dec.fail("pool " + quote(d.Pool) + ": want 1 to 64 printable characters")
			}
		case tagIdentity:
			id := Identity{Sub: dec.string(), Sid: dec.string(), Exp: dec.varint()}
			if dec.err == nil && (!validShort(id.Sub) || id.Sid != "" && !validShort(id.Sid)) {
				return d, dec.fail("identity sub " + quote(id.Sub) + " sid " + quote(id.Sid) + ": want 1 to 64 printable characters (sid: or none)")
			}
			d.Identity = &id
		case tagStatus:
			d.Status = dec.int(599)
			if dec.err == nil && d.Status < 200 {
				return d, dec.fail("status " + itoa(d.Status) + ": want 200 to 599")
			}
		case tagBody:
			body := dec.bytes()
			if dec.err == nil && len(body) > lim.MaxBody {
				return d, dec.fail("body of " + itoa(len(body)) + " bytes: at most " + itoa(lim.MaxBody))
			}
			d.Body, d.BodySet = body, true
		default:
			if dec.err == nil {
				return d, dec.fail("tag " + itoa(int(tag)))
			}
		}
	}
	if dec.err != nil {
		return d, dec.err
	}
	if d.Action == ActionRespond && d.Status == 0 {
		return d, dec.fail("respond without a status")
	}
	return d, nil
}

func checkEdit(e HeaderEdit) error {
	if e.Kind != EditSet && e.Kind != EditAdd && e.Kind != EditDel {
		return malformed("header edit kind " + itoa(int(e.Kind)))
	}
	if !ValidHeaderName(e.Name) {
		return malformed("header name " + quote(e.Name) + ": want an RFC 9110 token")
	}
	if !ValidHeaderValue(e.Value) {
		return malformed("header " + e.Name + " value " + quote(e.Value) + ": control character")
	}
	return nil
}

// ValidHeaderName reports whether s is a non-empty RFC 9110 token.
func ValidHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			continue
		}
		return false
	}
	return true
}

// ValidHeaderValue reports whether s holds no control character but horizontal tab.
func ValidHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func validPath(s string) bool {
	if s == "" || s[0] != '/' || len(s) > 8192 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '?' || c == '#' {
			return false
		}
	}
	return true
}

func validShort(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// decoder reads fields in order; the first problem sticks in err and makes every later read
// return a zero value, so callers check once.
type decoder struct {
	b   []byte
	err error
}

func malformed(msg string) error { return &decodeError{msg: msg} }

// decodeError is built with strconv rather than fmt: fmt would add to every module.
type decodeError struct{ msg string }

func (e *decodeError) Error() string { return ErrMalformed.Error() + ": " + e.msg }
func (e *decodeError) Unwrap() error { return ErrMalformed }

func itoa(n int) string { return strconv.Itoa(n) }

func (d *decoder) fail(msg string) error {
	if d.err == nil {
		d.err = malformed(msg)
	}
	return d.err
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		_ = d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		_ = d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		_ = d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int(max int) int {
	v := d.uvarint()
	if d.err == nil && v > uint64(max) {
		_ = d.fail("number " + strconv.FormatUint(v, 10) + ": at most " + itoa(max))
		return 0
	}
	return int(v)
}

func (d *decoder) raw() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		_ = d.fail("length " + strconv.FormatUint(n, 10) + " past the end (" + itoa(len(d.b)) + " left)")
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string { return string(d.raw()) }

// bytes returns a copy: the host decodes from guest memory, which the next call overwrites.
func (d *decoder) bytes() []byte {
	s := d.raw()
	if s == nil {
		return nil
	}
	return append([]byte{}, s...)
}

func (d *decoder) headers() []Header {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	// Each header takes at least two bytes, so a count past half the rest is a lie.
	if n > uint64(len(d.b)/2) {
		_ = d.fail(strconv.FormatUint(n, 10) + " headers in " + itoa(len(d.b)) + " bytes")
		return nil
	}
	hs := make([]Header, 0, n)
	for range n {
		hs = append(hs, Header{Name: d.string(), Value: d.string()})
	}
	if d.err != nil {
		return nil
	}
	return hs
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		_ = d.fail(itoa(len(d.b)) + " trailing bytes")
	}
	return d.err
}

func quote(s string) string { return strconv.Quote(s) }
