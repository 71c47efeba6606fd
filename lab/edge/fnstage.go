package edge

import (
	"bytes"
	"errors"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab/identity"
	"github.com/headroom/headroom/lab/isolate"
)

// Function is an edge function as the node runs it: on requests whose path starts with one of
// Prefixes, before the cache (OnRequest) or on the way back, cached answers included (OnResponse).
type Function struct {
	Fn *isolate.Function
	// Prefixes are the paths it runs on. Default "/": every request.
	Prefixes []string
	// OnResponse runs it on the response instead of the request.
	OnResponse bool
}

func (f Function) applies(path string) bool {
	if len(f.Prefixes) == 0 {
		return true
	}
	for _, p := range f.Prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// functionStage runs one edge function in its isolate: a span per call (cold or warm start, the
// outcome), its time and errors as metrics, and its decision applied to the request or response.
type functionStage struct {
	f           Function
	name        string
	identityKey []byte // signs the identities a function vouches for; nil: none are forwarded
	maxBody     int    // the isolates' MaxBodyBytes: a longer response body is not passed
	tracer      trace.Tracer
	m           *metrics
}

// call runs the function and records it; the decision is valid when err is nil.
func (s *functionStage) call(r *http.Request, phase isolate.Phase, req *isolate.Request) (isolate.Decision, error) {
	ctx, span := s.tracer.Start(r.Context(), "edge.function "+s.name)
	defer span.End()
	d, st, err := s.f.Fn.Call(ctx, phase, req)
	outcome := isolate.Outcome(d, err)
	span.SetAttributes(attribute.String("edge.function.name", s.name), attribute.Bool("edge.isolate.cold", st.Cold),
		attribute.String("edge.function.outcome", outcome))
	if st.Cold {
		span.SetAttributes(attribute.Float64("edge.isolate.instantiate_ms", float64(st.Instantiate)/float64(time.Millisecond)))
	}
	s.m.functionTime.WithLabelValues(s.name, strconv.FormatBool(st.Cold)).Observe((st.Instantiate + st.Call).Seconds())
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, outcome)
		s.m.functionErrors.WithLabelValues(s.name, outcome).Inc()
	}
	return d, err
}

// fail answers a request whose function failed: 503 when the node had no isolate to spare
// (retryable), 500 otherwise; the node keeps serving.
func (s *functionStage) fail(w http.ResponseWriter, x *exchange, err error) {
	x.AnsweredBy = answerer("function:" + s.name)
	w.Header().Set("Cache-Status", "headroom-edge; fwd=bypass; detail="+s.name+"-failed")
	code := http.StatusInternalServerError
	if errors.Is(err, isolate.ErrBusy) {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, "edge function "+s.name+": "+isolate.Outcome(isolate.Decision{}, err), code)
}

func (s *functionStage) Serve(w http.ResponseWriter, r *http.Request, x *exchange, next http.Handler) {
	if !s.f.applies(r.URL.Path) {
		next.ServeHTTP(w, r)
		return
	}
	req := &isolate.Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, ClientAddr: r.RemoteAddr, Headers: isolate.Headers(r.Header)}
	if s.f.OnResponse {
		s.serveResponse(w, r, x, next, req)
		return
	}
	d, err := s.call(r, isolate.PhaseRequest, req)
	if err != nil {
		s.fail(w, x, err)
		return
	}
	if d.Action == isolate.ActionRespond {
		x.AnsweredBy = answerer("function:" + s.name)
		w.Header().Set("Cache-Status", "headroom-edge; fwd=bypass; detail="+s.name)
		respond(w, d)
		return
	}
	isolate.ApplyEdits(r.Header, d.RequestHeaders)
	r.Header.Del(IdentityHeader) // only the node vouches for an identity, below
	if d.Path != "" {
		r.URL.Path, r.URL.RawPath = d.Path, ""
	}
	if d.Pool == string(poolB) {
		x.Pool = poolB
	}
	if d.Identity != nil && s.identityKey != nil {
		if sub, err := strconv.ParseInt(d.Identity.Sub, 10, 64); err == nil {
			r.Header.Set(IdentityHeader, identity.Sign(s.identityKey, identity.Identity{Sub: sub, SID: d.Identity.Sid, Exp: time.Unix(d.Identity.Exp, 0)}))
		}
	}
	next.ServeHTTP(w, r)
}

// serveResponse runs the function on the response next writes, held back for it. A response
// whose body outgrows the isolate's bound is not held: it streams to the client unchanged, so
// memory stays bounded by MaxBodyBytes per request whatever the origin sends.
func (s *functionStage) serveResponse(w http.ResponseWriter, r *http.Request, x *exchange, next http.Handler, req *isolate.Request) {
	rec := &heldResponse{header: http.Header{}, w: w, max: s.maxBody}
	next.ServeHTTP(rec, r)
	if rec.passed {
		return
	}
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	req.Status, req.ResponseHeaders = rec.code, isolate.Headers(rec.header)
	body := rec.body.Bytes()
	req.Body = body
	d, err := s.call(r, isolate.PhaseResponse, req)
	if err != nil {
		s.fail(w, x, err)
		return
	}
	if d.Action == isolate.ActionRespond {
		x.AnsweredBy = answerer("function:" + s.name)
		respond(w, d)
		return
	}
	maps.Copy(w.Header(), rec.header)
	isolate.ApplyEdits(w.Header(), d.ResponseHeaders)
	code := rec.code
	if d.Status != 0 {
		code = d.Status
	}
	if d.BodySet {
		body = d.Body
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// respond writes a function's own answer.
func respond(w http.ResponseWriter, d isolate.Decision) {
	isolate.ApplyEdits(w.Header(), d.ResponseHeaders)
	status := d.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(d.Body)))
	w.WriteHeader(status)
	_, _ = w.Write(d.Body)
}

// heldResponse is a ResponseWriter that keeps the response for a response-phase function, up to
// max bytes of body; past them it passes what it held, and the rest, on to w.
type heldResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
	w      http.ResponseWriter
	max    int
	passed bool // the response went on to w unchanged
}

func (h *heldResponse) Header() http.Header {
	if h.passed {
		return h.w.Header()
	}
	return h.header
}

func (h *heldResponse) WriteHeader(code int) {
	if h.code == 0 {
		h.code = code
	}
}

func (h *heldResponse) Write(b []byte) (int, error) {
	if h.code == 0 {
		h.code = http.StatusOK
	}
	if h.passed {
		return h.w.Write(b)
	}
	if h.body.Len()+len(b) <= h.max {
		return h.body.Write(b)
	}
	h.passed = true
	maps.Copy(h.w.Header(), h.header)
	h.w.WriteHeader(h.code)
	if _, err := h.w.Write(h.body.Bytes()); err != nil {
		return 0, err
	}
	h.body = bytes.Buffer{}
	return h.w.Write(b)
}
