//go:build wasip1

// Package guest is the guest side of the edge functions' ABI (lab/isolate/abi): it exports
// hr_abi_v1, hr_buffer and hr_handle, decodes the request, runs the function's Handler and
// encodes its decision, and wraps the host calls (Var, VerifyJWT, Fetch, Now, Log).
//
// A function's main package calls Handle from init and has an empty main: the module is built
// with -buildmode=c-shared, so the host runs _initialize (package init) once per instance and
// then calls hr_handle once per request, one request at a time. Globals therefore live as long
// as the instance: a cache of bound variables, or the filter's rate-limit buckets, is per
// isolate, not per node.
package guest

import (
	"strings"
	"time"
	"unsafe"

	"github.com/headroom/headroom/lab/isolate/abi"
)

// Handler decides on one request.
type Handler func(*abi.Request) abi.Decision

var (
	handler Handler
	in      []byte // the host writes the request here (hr_buffer)
	out     []byte // the encoded decision; kept alive until the next call
	res     []byte // the last host call's result
)

// Handle sets the function's handler; call it from init.
func Handle(h Handler) { handler = h }

//go:wasmexport hr_abi_v1
func abiV1() {}

//go:wasmexport hr_buffer
func buffer(size uint32) uint32 {
	if uint32(cap(in)) < size {
		in = make([]byte, size)
	}
	in = in[:size]
	if size == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&in[0])))
}

//go:wasmexport hr_handle
func handle(n uint32) uint64 {
	var d abi.Decision
	req, err := abi.DecodeRequest(in[:n])
	if err != nil {
		Log("bad request encoding: " + err.Error())
		d = Error(500, "bad request encoding")
	} else {
		d = handler(&req)
	}
	out = abi.AppendDecision(out[:0], &d)
	if len(out) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&out[0])))<<32 | uint64(len(out))
}

//go:wasmimport headroom result
func hostResult(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport headroom log
func hostLog(ptr unsafe.Pointer, n uint32)

//go:wasmimport headroom now
func hostNow() int64

//go:wasmimport headroom var_get
func hostVar(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport headroom jwt_verify
func hostJWTVerify(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport headroom fetch
func hostFetch(ptr unsafe.Pointer, n uint32) int32

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func sptr(s string) unsafe.Pointer {
	if s == "" {
		return nil
	}
	return unsafe.Pointer(unsafe.StringData(s))
}

// take copies the pending result of n bytes.
func take(n int32) []byte {
	if cap(res) < int(n) {
		res = make([]byte, n)
	}
	res = res[:n]
	hostResult(ptr(res), uint32(n))
	return res
}

// hostError is a host call's failure, as the host described it.
type hostError string

func (e hostError) Error() string { return string(e) }

// Log writes msg to the node's log, tagged with the function's name.
func Log(msg string) { hostLog(sptr(msg), uint32(len(msg))) }

// Now is the node's clock.
func Now() time.Time { return time.Unix(0, hostNow()) }

var vars = map[string]*string{}

// Var returns the variable name bound to the function (lab/isolate Config.Vars), or def when
// unbound. Values are read from the host once per instance.
func Var(name, def string) string {
	v, ok := vars[name]
	if !ok {
		n := hostVar(sptr(name), uint32(len(name)))
		if n >= 0 {
			s := string(take(n))
			v = &s
		}
		vars[name] = v
	}
	if v == nil {
		return def
	}
	return *v
}

// VerifyJWT asks the host to verify token with the node's keys (native code, as WebCrypto is
// in Workers).
func VerifyJWT(token string) (abi.JWTResult, error) {
	n := hostJWTVerify(sptr(token), uint32(len(token)))
	if n < 0 {
		return abi.JWTResult{}, hostError(take(-n))
	}
	return abi.DecodeJWTResult(take(n))
}

// Fetch sends r through the host to one of the node's allowed origins; any other URL is an
// error, as is every socket the guest might try to open itself (wasip1 has none).
func Fetch(r *abi.FetchRequest) (abi.FetchResponse, error) {
	b := abi.AppendFetchRequest(nil, r)
	n := hostFetch(ptr(b), uint32(len(b)))
	if n < 0 {
		return abi.FetchResponse{}, hostError(take(-n))
	}
	return abi.DecodeFetchResponse(take(n))
}

// Continue lets the request go on unchanged.
func Continue() abi.Decision { return abi.Decision{Action: abi.ActionContinue} }

// Respond answers the client with status, a Content-Type and body.
func Respond(status int, contentType string, body []byte) abi.Decision {
	return abi.Decision{
		Action: abi.ActionRespond, Status: status, Body: body, BodySet: true,
		ResponseHeaders: []abi.HeaderEdit{{Kind: abi.EditSet, Name: "Content-Type", Value: contentType}},
	}
}

// Error answers status with the JSON body {"error": msg}.
func Error(status int, msg string) abi.Decision {
	return Respond(status, "application/json", []byte(`{"error":`+JSONString(msg)+`}`))
}

// JSONString quotes s as a JSON string (encoding/json would add to the module's size).
func JSONString(s string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

// SetHeader appends a request header edit setting name to value.
func SetHeader(d *abi.Decision, name, value string) {
	d.RequestHeaders = append(d.RequestHeaders, abi.HeaderEdit{Kind: abi.EditSet, Name: name, Value: value})
}

// DelHeader appends a request header edit removing name.
func DelHeader(d *abi.Decision, name string) {
	d.RequestHeaders = append(d.RequestHeaders, abi.HeaderEdit{Kind: abi.EditDel, Name: name})
}

// SetResponseHeader appends a response header edit setting name to value.
func SetResponseHeader(d *abi.Decision, name, value string) {
	d.ResponseHeaders = append(d.ResponseHeaders, abi.HeaderEdit{Kind: abi.EditSet, Name: name, Value: value})
}

// AddResponseHeader appends a response header edit adding value to name.
func AddResponseHeader(d *abi.Decision, name, value string) {
	d.ResponseHeaders = append(d.ResponseHeaders, abi.HeaderEdit{Kind: abi.EditAdd, Name: name, Value: value})
}

// DelResponseHeader appends a response header edit removing name.
func DelResponseHeader(d *abi.Decision, name string) {
	d.ResponseHeaders = append(d.ResponseHeaders, abi.HeaderEdit{Kind: abi.EditDel, Name: name})
}

// Cookie returns the value of the request's cookie name, or "".
func Cookie(r *abi.Request, name string) string {
	for _, h := range r.Headers {
		if !strings.EqualFold(h.Name, "Cookie") {
			continue
		}
		for rest := h.Value; rest != ""; {
			var part string
			part, rest, _ = strings.Cut(rest, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}
