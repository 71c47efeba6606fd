package isolate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tetratelabs/wazero/api"

	"github.com/headroom/headroom/lab/isolate/abi"
)

// Bounds of what a guest may pass to a host call.
const (
	maxLogLine  = 4 << 10
	maxVarName  = 256
	maxTokenLen = 8 << 10
	// maxFetchHeaders is the room a fetch request's method, URL and headers may take beyond its body.
	maxFetchHeaders = 64 << 10
)

// instantiateHost defines the host module (abi.HostModule). Each function finds the instance
// that called it in the call's context; with GoModuleFunc wazero passes arguments on a
// uint64 stack without reflection (~0.1 µs a call).
func (r *Runtime) instantiateHost(ctx context.Context) error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b := r.wz.NewHostModuleBuilder(abi.HostModule)
	def := func(name string, fn api.GoModuleFunc, params, results []api.ValueType) {
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
	}
	def(abi.ImportResult, r.hostResult, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def(abi.ImportLog, r.hostLog, []api.ValueType{i32, i32}, nil)
	def(abi.ImportNow, r.hostNow, nil, []api.ValueType{i64})
	def(abi.ImportVar, r.hostVar, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def(abi.ImportJWTVerify, r.hostJWTVerify, []api.ValueType{i32, i32}, []api.ValueType{i32})
	def(abi.ImportFetch, r.hostFetch, []api.ValueType{i32, i32}, []api.ValueType{i32})
	_, err := b.Instantiate(ctx)
	return err
}

// read copies the guest's bytes at ptr, len (stack[0], stack[1]), at most max of them.
func read(mod api.Module, stack []uint64, max int) ([]byte, error) {
	ptr, n := uint32(stack[0]), uint32(stack[1])
	if int64(n) > int64(max) {
		return nil, fmt.Errorf("%d bytes: at most %d", n, max)
	}
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return nil, fmt.Errorf("%#x+%d outside memory", ptr, n)
	}
	return bytes.Clone(b), nil
}

// answer leaves b for the guest's result call and returns its length, or an error's message
// and minus its length.
func answer(in *instance, stack []uint64, b []byte, err error) {
	if err != nil {
		in.pending = []byte(err.Error())
		stack[0] = api.EncodeI32(-int32(len(in.pending)))
		return
	}
	in.pending = b
	stack[0] = api.EncodeI32(int32(len(b)))
}

func (r *Runtime) hostResult(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	ptr, n := uint32(stack[0]), uint32(stack[1])
	p := in.pending
	if uint32(len(p)) > n {
		p = p[:n]
	}
	if !mod.Memory().Write(ptr, p) {
		stack[0] = api.EncodeI32(-1)
		return
	}
	in.pending = nil
	stack[0] = api.EncodeI32(int32(len(p)))
}

func (r *Runtime) hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	msg, err := read(mod, stack, maxLogLine)
	if err != nil {
		msg = []byte("(bad log line: " + err.Error() + ")")
	}
	r.cfg.Logger.InfoContext(ctx, "edge function log", "function", in.f.name, "msg", string(msg))
}

func (r *Runtime) hostNow(_ context.Context, _ api.Module, stack []uint64) {
	stack[0] = api.EncodeI64(r.cfg.Now().UnixNano())
}

func (r *Runtime) hostVar(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	name, err := read(mod, stack, maxVarName)
	v, ok := in.f.vars[string(name)]
	if err != nil || !ok {
		stack[0] = api.EncodeI32(-1)
		return
	}
	answer(in, stack, []byte(v), nil)
}

func (r *Runtime) hostJWTVerify(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	tok, err := read(mod, stack, maxTokenLen)
	if err != nil {
		answer(in, stack, nil, fmt.Errorf("jwt_verify: token %w", err))
		return
	}
	res := r.verifyJWT(string(tok))
	answer(in, stack, abi.AppendJWTResult(nil, &res), nil)
}

func (r *Runtime) hostFetch(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	b, err := read(mod, stack, r.cfg.MaxBodyBytes+maxFetchHeaders)
	if err != nil {
		answer(in, stack, nil, fmt.Errorf("fetch: request %w", err))
		return
	}
	req, err := abi.DecodeFetchRequest(b)
	if err != nil {
		answer(in, stack, nil, fmt.Errorf("fetch: %w", err))
		return
	}
	// The wait for the origin is not guest time: Fastly and Workers count CPU, not wall time.
	if in.meter != nil && in.meter.pause() {
		defer in.meter.resume()
	}
	resp, err := r.fetch(ctx, &req)
	if err != nil {
		answer(in, stack, nil, fmt.Errorf("fetch %s: %w", req.URL, err))
		return
	}
	answer(in, stack, abi.AppendFetchResponse(nil, &resp), nil)
}

// errOrigin is the error a guest sees for a URL outside Config.FetchOrigins.
var errOrigin = errors.New("origin not allowed")

// allowed reports whether u lies under one of the configured origins.
func (r *Runtime) allowed(u *url.URL) bool {
	if u.User != nil {
		return false
	}
	for _, o := range r.origins {
		if u.Scheme != o.Scheme || !strings.EqualFold(u.Host, o.Host) {
			continue
		}
		base := strings.TrimSuffix(o.Path, "/")
		if base == "" || u.Path == base || strings.HasPrefix(u.Path, base+"/") {
			return true
		}
	}
	return false
}

func (r *Runtime) fetch(ctx context.Context, fr *abi.FetchRequest) (abi.FetchResponse, error) {
	u, err := url.Parse(fr.URL)
	if err != nil {
		return abi.FetchResponse{}, err
	}
	if !u.IsAbs() || !r.allowed(u) {
		return abi.FetchResponse{}, errOrigin
	}
	req, err := http.NewRequestWithContext(ctx, fr.Method, u.String(), bytes.NewReader(fr.Body))
	if err != nil {
		return abi.FetchResponse{}, err
	}
	for _, h := range fr.Headers {
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return abi.FetchResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(r.cfg.MaxBodyBytes)+1))
	if err != nil {
		return abi.FetchResponse{}, err
	}
	if len(body) > r.cfg.MaxBodyBytes {
		return abi.FetchResponse{}, fmt.Errorf("answer body past %d bytes", r.cfg.MaxBodyBytes)
	}
	out := abi.FetchResponse{Status: resp.StatusCode, Body: body}
	for name, vs := range resp.Header {
		for _, v := range vs {
			out.Headers = append(out.Headers, abi.Header{Name: name, Value: v})
		}
	}
	return out, nil
}

// claims are the lab's session token claims (lab/identity issues them).
type claims struct {
	jwt.RegisteredClaims
	Sid string `json:"sid"`
}

func newJWTParser(cfg Config) *jwt.Parser {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg(), jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.JWT.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.JWT.Issuer))
	}
	return jwt.NewParser(opts...)
}

// verifyJWT checks a token with golang-jwt on the host: native code the guest calls, as
// WebCrypto is native in Workers (BenchmarkAuth… measure it against the same check in the module).
func (r *Runtime) verifyJWT(token string) abi.JWTResult {
	var c claims
	_, err := r.jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// An algorithm without a key is refused here: an empty HMAC secret would verify tokens
		// signed with an empty secret.
		switch t.Method.(type) {
		case *jwt.SigningMethodEd25519:
			if r.cfg.JWT.EdDSA != nil {
				return r.cfg.JWT.EdDSA, nil
			}
		case *jwt.SigningMethodHMAC:
			if len(r.cfg.JWT.HS256) > 0 {
				return r.cfg.JWT.HS256, nil
			}
		}
		return nil, fmt.Errorf("no key for alg %v", t.Header["alg"])
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return abi.JWTResult{Status: abi.JWTExpired, Reason: "token expired"}
	case err != nil:
		return abi.JWTResult{Status: abi.JWTInvalid, Reason: err.Error()}
	case c.Subject == "" || len(c.Subject) > 64 || len(c.Sid) > 64:
		return abi.JWTResult{Status: abi.JWTInvalid, Reason: "token without a sub, or sub/sid past 64 bytes"}
	}
	return abi.JWTResult{Status: abi.JWTValid, Identity: abi.Identity{Sub: c.Subject, Sid: c.Sid, Exp: c.ExpiresAt.Unix()}}
}
