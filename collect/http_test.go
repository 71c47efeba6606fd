package collect

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// started runs a receiver on loopback ports for the test and collects what it writes.
type started struct {
	r      *Receiver
	mu     sync.Mutex
	traces []*Trace
	got    chan *Trace
}

func start(t *testing.T, cfg Config) *started {
	t.Helper()
	s := &started{got: make(chan *Trace, 1024)}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = "127.0.0.1:0"
	}
	cfg.OnTrace = func(tr *Trace) {
		s.mu.Lock()
		s.traces = append(s.traces, tr)
		s.mu.Unlock()
		select {
		case s.got <- tr:
		default:
		}
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.r = r
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

func (s *started) shutdown(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.r.Shutdown(ctx); err != nil {
		t.Error(err)
	}
}

func (s *started) url() string { return "http://" + s.r.HTTPAddr().String() + "/v1/traces" }

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

type answer struct {
	code        int
	contentType string
	retryAfter  string
	body        []byte
}

func post(t *testing.T, url, contentType, encoding string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), b}
}

// statusMessage decodes a google.rpc.Status error body in the answer's encoding.
func statusMessage(t *testing.T, a answer) string {
	t.Helper()
	var st spb.Status
	var err error
	if a.contentType == ctJSON {
		err = protojson.Unmarshal(a.body, &st)
	} else {
		err = proto.Unmarshal(a.body, &st)
	}
	if err != nil {
		t.Fatalf("error body is not a google.rpc.Status in %s: %v (%q)", a.contentType, err, a.body)
	}
	return st.GetMessage()
}

// partial decodes an ExportTraceServiceResponse in the answer's encoding.
func partial(t *testing.T, a answer) (int64, string) {
	t.Helper()
	resp := ptraceotlp.NewExportResponse()
	var err error
	if a.contentType == ctJSON {
		err = resp.UnmarshalJSON(a.body)
	} else {
		err = resp.UnmarshalProto(a.body)
	}
	if err != nil {
		t.Fatalf("response body is not an ExportTraceServiceResponse in %s: %v", a.contentType, err)
	}
	return resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage()
}

func TestHTTPStatusCodes(t *testing.T) {
	t.Parallel()
	s := start(t, Config{MaxRequestBytes: 1 << 20})
	good := build(spanSpec{trace: 1, span: 1, parent: -1, start: 1, end: 2})
	goodGz := gz(protoBody(good))
	bomb := gz(make([]byte, 8<<20)) // 8 MiB of zeros, ~8 KiB on the wire
	for _, tc := range []struct {
		name, ct, enc string
		body          []byte
		code          int
		msg           string // substring of the error message
	}{
		{"protobuf", ctProtobuf, "", protoBody(good), 200, ""},
		{"json", ctJSON, "", jsonBody(good), 200, ""},
		{"json with charset", ctJSON + "; charset=utf-8", "", jsonBody(good), 200, ""},
		{"gzip protobuf", ctProtobuf, "gzip", goodGz, 200, ""},
		{"gzip json", ctJSON, "gzip", gz(jsonBody(good)), 200, ""},
		{"empty request", ctProtobuf, "", nil, 200, ""},
		{"malformed protobuf", ctProtobuf, "", []byte("\x0a\xff\xff\xff\xff\x0fnot protobuf"), 400, "not an OTLP protobuf"},
		{"malformed json", ctJSON, "", []byte(`{"resourceSpans":[{`), 400, "not an OTLP JSON"},
		{"json with a bad hex id", ctJSON, "", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"01"}]}]}]}`), 400, "not an OTLP JSON"},
		{"truncated gzip", ctProtobuf, "gzip", goodGz[:len(goodGz)-6], 400, "truncated or corrupt gzip"},
		{"not gzip at all", ctProtobuf, "gzip", protoBody(good), 400, "gzip"},
		{"wrong content type", "text/plain", "", protoBody(good), 415, `content type "text/plain"`},
		{"no content type", "", "", protoBody(good), 415, "want application/x-protobuf or application/json"},
		{"unknown encoding", ctProtobuf, "br", protoBody(good), 415, `content encoding "br"`},
		{"over the limit", ctProtobuf, "", make([]byte, 2<<20), 413, "over 1048576 bytes"},
		{"zip bomb: over the limit after decompression", ctProtobuf, "gzip", bomb, 413, "after decompression"},
	} {
		a := post(t, s.url(), tc.ct, tc.enc, tc.body)
		if a.code != tc.code {
			t.Errorf("%s: status %d, want %d (%q)", tc.name, a.code, tc.code, a.body)
			continue
		}
		if tc.code != 200 {
			if msg := statusMessage(t, a); !strings.Contains(msg, tc.msg) {
				t.Errorf("%s: message %q, want it to say %q", tc.name, msg, tc.msg)
			}
			continue
		}
		if n, msg := partial(t, a); n != 0 || msg != "" {
			t.Errorf("%s: partial success %d %q on a valid request", tc.name, n, msg)
		}
	}
	if a := postMethod(t, http.MethodGet, s.url()); a != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", a)
	}
	st := s.r.Stats()
	want := map[string]int64{ReasonMalformed: 5, ReasonContentType: 2, ReasonEncoding: 1, ReasonTooLarge: 2, ReasonBadMethod: 1}
	for k, v := range want {
		if st.RequestsRefused[k] != v {
			t.Errorf("refused %s: %d, want %d (all: %v)", k, st.RequestsRefused[k], v, st.RequestsRefused)
		}
	}
	if st.SpansAccepted != 5 {
		t.Errorf("spans accepted %d, want 5 (one per valid non-empty request)", st.SpansAccepted)
	}
}

func postMethod(t *testing.T, method, url string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Invalid spans are refused with a partial success in the request's encoding, the rest kept;
// clock skew and huge values are kept with a count.
func TestHTTPPartialSuccessAndTolerance(t *testing.T) {
	t.Parallel()
	s := start(t, Config{MaxAttrValueLen: 100, CompleteAfter: 20 * time.Millisecond, MaxIdle: time.Second})
	td := build(
		spanSpec{trace: 1, span: 1, parent: -1, start: 10, end: 5, attrs: map[string]string{"db.statement": strings.Repeat("é", 1000)}},
		spanSpec{trace: 1, span: 2, parent: 1, start: 6, end: 7},
	)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	bad := spans.AppendEmpty() // all-zero trace id
	bad.SetSpanID(sid(3))
	bad2 := spans.AppendEmpty() // all-zero span id
	bad2.SetTraceID(tid(1))
	for _, enc := range []struct {
		ct   string
		body []byte
	}{{ctProtobuf, protoBody(td)}, {ctJSON, jsonBody(td)}} {
		a := post(t, s.url(), enc.ct, "", enc.body)
		if a.code != 200 || a.contentType != enc.ct {
			t.Fatalf("%s: status %d content type %q, want 200 in the request's encoding", enc.ct, a.code, a.contentType)
		}
		n, msg := partial(t, a)
		if n != 2 || !strings.Contains(msg, "1 with an all-zero trace id, 1 with an all-zero span id") {
			t.Errorf("%s: partial success %d %q, want 2 rejected, naming both reasons", enc.ct, n, msg)
		}
	}
	tr := <-s.got
	if tr.Spans != 2 {
		t.Fatalf("trace has %d spans, want the 2 valid ones", tr.Spans)
	}
	v, _ := tr.Traces().ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get("db.statement")
	if got := v.Str(); len(got) != 100 || !strings.HasPrefix(strings.Repeat("é", 50), got) {
		t.Errorf("truncated value is %d bytes %q, want 100 bytes of whole runes", len(got), got)
	}
	st := s.r.Stats()
	if st.SpansRejected[ReasonInvalidTraceID] != 2 || st.SpansRejected[ReasonInvalidSpanID] != 2 {
		t.Errorf("rejected %v, want 2 of each reason", st.SpansRejected)
	}
	if st.Tolerated[ReasonEndBeforeStart] != 2 || st.Tolerated[ReasonTruncated] != 2 {
		t.Errorf("tolerated %v, want 2 end_before_start and 2 attribute_truncated", st.Tolerated)
	}
	// The second request repeated both spans: duplicates dropped, or a late fragment if the
	// first trace was already written.
	if st.SpansDropped[ReasonDuplicateSpan]+st.Tolerated[ReasonLateSpan] != 2 {
		t.Errorf("dropped %v tolerated %v: want the 2 repeated spans dropped as duplicates or kept late", st.SpansDropped, st.Tolerated)
	}
}

// A full ingest queue refuses with 429 and Retry-After; a stopping receiver with 503.
func TestHTTPOverloadedAndShuttingDown(t *testing.T) {
	t.Parallel()
	// Not started: nothing drains the queue, so the second request finds it full.
	r, err := New(Config{QueueSize: 1, RetryAfter: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(r.serveHTTP))
	t.Cleanup(srv.Close)
	body := protoBody(build(spanSpec{trace: 1, span: 1, parent: -1}))
	if a := post(t, srv.URL, ctProtobuf, "", body); a.code != 200 {
		t.Fatalf("first request: %d, want 200", a.code)
	}
	a := post(t, srv.URL, ctJSON, "", jsonBody(build(spanSpec{trace: 2, span: 1, parent: -1})))
	if a.code != http.StatusTooManyRequests || a.retryAfter != "2" {
		t.Errorf("queue full: status %d Retry-After %q, want 429 and 2 (1.5s rounded up)", a.code, a.retryAfter)
	}
	if msg := statusMessage(t, a); !strings.Contains(msg, "queue full") {
		t.Errorf("message %q", msg)
	}
	r.qmu.Lock()
	r.closing = true
	r.qmu.Unlock()
	a = post(t, srv.URL, ctProtobuf, "", body)
	if a.code != http.StatusServiceUnavailable || a.retryAfter == "" {
		t.Errorf("shutting down: status %d Retry-After %q, want 503 with Retry-After", a.code, a.retryAfter)
	}
	st := r.Stats()
	if st.RequestsRefused[ReasonOverloaded] != 1 || st.RequestsRefused[ReasonShuttingDown] != 1 || st.SpansAccepted != 1 {
		t.Errorf("stats %+v", st)
	}
}
