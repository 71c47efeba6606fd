package abi

import "encoding/binary"

// Host calls, module "headroom" (the import names a guest declares). A call that returns data
// returns its length n as an i32 and keeps the bytes for the guest to copy with result; a
// negative n means an error whose message (-n bytes) waits the same way.
const (
	// HostModule is the import module name of every host call.
	HostModule = "headroom"
	// ImportResult copies the pending bytes: result(ptr, len u32) -> i32 copied.
	ImportResult = "result"
	// ImportLog writes a line to the node's log: log(ptr, len u32).
	ImportLog = "log"
	// ImportNow is the node's clock: now() -> i64 Unix nanoseconds.
	ImportNow = "now"
	// ImportVar reads a variable bound to the function: var_get(name_ptr, name_len u32) -> i32
	// (the value's length, or -1 if unbound; no message waits then).
	ImportVar = "var_get"
	// ImportJWTVerify verifies a JWT with the node's keys: jwt_verify(ptr, len u32) -> i32,
	// a JWTResult.
	ImportJWTVerify = "jwt_verify"
	// ImportFetch sends an HTTP request to an allowed origin: fetch(ptr, len u32) -> i32, a
	// FetchRequest in, a FetchResponse out.
	ImportFetch = "fetch"

	// ExportABI marks a module as written for this ABI: hr_abi_v1() with no effect.
	ExportABI = "hr_abi_v1"
	// ExportBuffer returns a guest buffer of at least size bytes for the request:
	// hr_buffer(size u32) -> u32 address.
	ExportBuffer = "hr_buffer"
	// ExportHandle runs the function on the request written to the buffer:
	// hr_handle(len u32) -> u64, the decision's address << 32 | its length.
	ExportHandle = "hr_handle"
	// ExportInitialize is Go's reactor initialiser (-buildmode=c-shared), run once per instance.
	ExportInitialize = "_initialize"
)

// JWTStatus is jwt_verify's verdict.
type JWTStatus uint8

const (
	// JWTValid: the signature verified with a bound key, alg allowed, exp in the future.
	JWTValid JWTStatus = 1
	// JWTInvalid: malformed, wrongly signed, an alg not allowed (none included), no sub.
	JWTInvalid JWTStatus = 2
	// JWTExpired: well signed but past exp (or without one).
	JWTExpired JWTStatus = 3
)

// JWTResult is jwt_verify's answer: the identity when valid, the reason otherwise.
type JWTResult struct {
	Status   JWTStatus
	Identity Identity
	Reason   string
}

// AppendJWTResult appends r's encoding to b.
func AppendJWTResult(b []byte, r *JWTResult) []byte {
	b = append(b, Version, byte(r.Status))
	b = appendString(b, r.Identity.Sub)
	b = appendString(b, r.Identity.Sid)
	b = binary.AppendVarint(b, r.Identity.Exp)
	return appendString(b, r.Reason)
}

// DecodeJWTResult decodes what AppendJWTResult wrote.
func DecodeJWTResult(b []byte) (JWTResult, error) {
	d := decoder{b: b}
	var r JWTResult
	if v := d.byte(); v != Version && d.err == nil {
		return r, d.fail("version " + itoa(int(v)))
	}
	r.Status = JWTStatus(d.byte())
	r.Identity = Identity{Sub: d.string(), Sid: d.string(), Exp: d.varint()}
	r.Reason = d.string()
	return r, d.end()
}

// FetchRequest is what a guest asks the host to send.
type FetchRequest struct {
	Method, URL string
	Headers     []Header
	Body        []byte
}

// AppendFetchRequest appends r's encoding to b.
func AppendFetchRequest(b []byte, r *FetchRequest) []byte {
	b = append(b, Version)
	b = appendString(b, r.Method)
	b = appendString(b, r.URL)
	b = appendHeaders(b, r.Headers)
	return appendBytes(b, r.Body)
}

// DecodeFetchRequest decodes what AppendFetchRequest wrote, checking the method is a token
// and the headers valid; the host checks the URL against its allowed origins.
func DecodeFetchRequest(b []byte) (FetchRequest, error) {
	d := decoder{b: b}
	var r FetchRequest
	if v := d.byte(); v != Version && d.err == nil {
		return r, d.fail("version " + itoa(int(v)))
	}
	r.Method = d.string()
	r.URL = d.string()
	r.Headers = d.headers()
	r.Body = d.bytes()
	if err := d.end(); err != nil {
		return r, err
	}
	if !ValidHeaderName(r.Method) {
		return r, malformed("method " + quote(r.Method) + ": want a token")
	}
	for _, h := range r.Headers {
		if !ValidHeaderName(h.Name) || !ValidHeaderValue(h.Value) {
			return r, malformed("header " + quote(h.Name) + ": want a token and a value without control characters")
		}
	}
	return r, nil
}

// FetchResponse is the host's answer to a fetch.
type FetchResponse struct {
	Status  int
	Headers []Header
	Body    []byte
}

// AppendFetchResponse appends r's encoding to b.
func AppendFetchResponse(b []byte, r *FetchResponse) []byte {
	b = binary.AppendUvarint(append(b, Version), uint64(r.Status))
	b = appendHeaders(b, r.Headers)
	return appendBytes(b, r.Body)
}

// DecodeFetchResponse decodes what AppendFetchResponse wrote.
func DecodeFetchResponse(b []byte) (FetchResponse, error) {
	d := decoder{b: b}
	var r FetchResponse
	if v := d.byte(); v != Version && d.err == nil {
		return r, d.fail("version " + itoa(int(v)))
	}
	r.Status = d.int(999)
	r.Headers = d.headers()
	r.Body = d.bytes()
	return r, d.end()
}
