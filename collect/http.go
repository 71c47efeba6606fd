package collect

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const (
	ctProtobuf = "application/x-protobuf"
	ctJSON     = "application/json"
)

// maxPooledBuffer keeps a burst of huge requests from pinning their buffers in the pool.
const maxPooledBuffer = 4 << 20

var (
	bufPool  = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gzipPool sync.Pool // *gzip.Reader
)

// errTooLarge is a request over MaxRequestBytes, on the wire or after decompression.
var errTooLarge = errors.New("request too large")

// serveHTTP is POST /v1/traces, OTLP/HTTP in protobuf or JSON, optionally gzip-compressed.
// Error bodies are google.rpc.Status and success bodies ExportTraceServiceResponse, both in
// the request's encoding.
func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	r.c.add(cRequests, 1)
	if req.Method != http.MethodPost {
		r.c.add(cBadMethod, 1)
		w.Header().Set("Allow", http.MethodPost)
		writeStatus(w, ctProtobuf, http.StatusMethodNotAllowed, fmt.Sprintf("method %s: OTLP/HTTP wants POST", req.Method))
		return
	}
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if mt != ctProtobuf && mt != ctJSON {
		r.c.add(cContentType, 1)
		writeStatus(w, ctProtobuf, http.StatusUnsupportedMediaType,
			fmt.Sprintf("content type %q: want %s or %s", req.Header.Get("Content-Type"), ctProtobuf, ctJSON))
		return
	}
	// The body must arrive within BodyTimeout of the headers: the place reserved below is the
	// ingest queue's, and a client sending a byte a second must not hold it for long.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(r.cfg.BodyTimeout))
	if err := r.reserve(); err != nil {
		refuse(w, r.cfg, mt, err)
		return
	}
	queued := false
	defer func() {
		if !queued {
			r.unreserve()
		}
	}()
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	buf.Reset()
	if code, msg := r.readBody(w, req, buf); code != 0 {
		writeStatus(w, mt, code, msg)
		return
	}
	var td ptrace.Traces
	var err error
	if mt == ctJSON {
		td, err = decodeJSON(buf.Bytes())
	} else {
		td, err = decodeProtobuf(buf.Bytes())
	}
	if err != nil {
		r.c.add(cMalformed, 1)
		writeStatus(w, mt, http.StatusBadRequest, err.Error())
		return
	}
	queued = true // ingest keeps or gives back the reserved place
	c, err := r.ingest(td)
	if err != nil {
		refuse(w, r.cfg, mt, err)
		return
	}
	if r.fwd != nil {
		r.fwd.enqueue(pathTraces, mt, bytes.Clone(buf.Bytes()))
	}
	resp := ptraceotlp.NewExportResponse()
	if c.rejected() > 0 {
		resp.PartialSuccess().SetRejectedSpans(int64(c.rejected()))
		resp.PartialSuccess().SetErrorMessage(c.message())
	}
	var body []byte
	if mt == ctJSON {
		body, err = resp.MarshalJSON()
	} else {
		body, err = resp.MarshalProto()
	}
	if err != nil {
		writeStatus(w, mt, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", mt)
	_, _ = w.Write(body)
}

// readBody reads the request body into buf, decompressing gzip, never holding more than
// MaxRequestBytes (+1 to detect the excess): a small compressed body that inflates beyond
// the limit is cut off there. It returns a status code and message when the body is refused.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request, buf *bytes.Buffer) (int, string) {
	limit := r.cfg.MaxRequestBytes
	var src io.Reader = http.MaxBytesReader(w, req.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := newGzipReader(src)
		if err != nil {
			return r.bodyError(err)
		}
		defer gzipPool.Put(zr)
		src = zr
	default:
		r.c.add(cEncoding, 1)
		return http.StatusUnsupportedMediaType, fmt.Sprintf("content encoding %q: want gzip or none", enc)
	}
	if req.ContentLength > 0 && req.ContentLength <= limit {
		buf.Grow(int(req.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(src, limit+1)); err != nil {
		return r.bodyError(err)
	}
	if int64(buf.Len()) > limit {
		return r.bodyError(errTooLarge)
	}
	return 0, ""
}

func (r *Receiver) bodyError(err error) (int, string) {
	var mbe *http.MaxBytesError
	if errors.Is(err, errTooLarge) || errors.As(err, &mbe) {
		r.c.add(cTooLarge, 1)
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request over %d bytes (after decompression): send smaller batches", r.cfg.MaxRequestBytes)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		r.c.add(cSlowUpload, 1)
		return http.StatusRequestTimeout, fmt.Sprintf("the body did not arrive within %v of the headers (collect --body-timeout)", r.cfg.BodyTimeout)
	}
	r.c.add(cMalformed, 1)
	return http.StatusBadRequest, fmt.Sprintf("reading the body: %v (truncated or corrupt gzip?)", err)
}

func newGzipReader(src io.Reader) (*gzip.Reader, error) {
	if zr, ok := gzipPool.Get().(*gzip.Reader); ok {
		if err := zr.Reset(src); err != nil {
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(src)
}

// refuse answers a request the receiver has no room for: 429 when overloaded, 503 when
// shutting down, both with Retry-After, which OTLP exporters honour.
func refuse(w http.ResponseWriter, cfg Config, mt string, err error) {
	w.Header().Set("Retry-After", retryAfter(cfg))
	code := http.StatusServiceUnavailable
	if errors.Is(err, errOverloaded) {
		code = http.StatusTooManyRequests
	}
	writeStatus(w, mt, code, err.Error())
}

func retryAfter(cfg Config) string {
	return strconv.Itoa(max(1, int((cfg.RetryAfter+999_999_999)/1_000_000_000)))
}

// writeStatus answers with a google.rpc.Status body in the given encoding, as OTLP/HTTP
// requires for every 4xx and 5xx.
func writeStatus(w http.ResponseWriter, mt string, code int, msg string) {
	st := &spb.Status{Code: int32(grpcCode(code)), Message: msg}
	var body []byte
	if mt == ctJSON {
		body, _ = protojson.Marshal(st)
	} else {
		body, _ = proto.Marshal(st)
	}
	w.Header().Set("Content-Type", mt)
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// grpcCode maps an HTTP status to the gRPC code a Status body carries.
func grpcCode(httpCode int) codes.Code {
	switch httpCode {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusMethodNotAllowed:
		return codes.InvalidArgument
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	default:
		return codes.Internal
	}
}

// serveOther answers OTLP/HTTP metrics and logs, which headroom does not analyse, with success
// (an empty Export…ServiceResponse), after checking that the body is a request of that signal
// (400 if not): SDKs that export every signal to one endpoint then neither log an error each
// interval nor retry. The request is forwarded with Config.Forward, else discarded; see
// docs/commands/collect.md for why success and not 404.
func (r *Receiver) serveOther(path string, counted counter, decode func([]byte) error) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeStatus(w, ctProtobuf, http.StatusMethodNotAllowed, fmt.Sprintf("method %s: OTLP/HTTP wants POST", req.Method))
			return
		}
		mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
		if mt != ctProtobuf && mt != ctJSON {
			writeStatus(w, ctProtobuf, http.StatusUnsupportedMediaType,
				fmt.Sprintf("content type %q: want %s or %s", req.Header.Get("Content-Type"), ctProtobuf, ctJSON))
			return
		}
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(r.cfg.BodyTimeout))
		var buf bytes.Buffer
		if code, msg := r.readBody(w, req, &buf); code != 0 {
			writeStatus(w, mt, code, msg)
			return
		}
		if mt == ctProtobuf {
			if err := decode(buf.Bytes()); err != nil {
				writeStatus(w, mt, http.StatusBadRequest, fmt.Sprintf("not an OTLP protobuf request of %s: %v", path, err))
				return
			}
		} else if !json.Valid(buf.Bytes()) {
			writeStatus(w, mt, http.StatusBadRequest, fmt.Sprintf("not an OTLP JSON request of %s: invalid JSON", path))
			return
		}
		r.c.add(counted, 1)
		if r.fwd != nil {
			r.fwd.enqueue(path, mt, buf.Bytes())
		}
		w.Header().Set("Content-Type", mt)
		if mt == ctJSON {
			_, _ = w.Write([]byte("{}"))
		}
	}
}
