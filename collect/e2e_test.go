package collect

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// emit sends nTraces traces of a root and 3 children through exp with the real SDK and
// returns their trace ids.
func emit(t *testing.T, exp sdktrace.SpanExporter, nTraces int) map[string]bool {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(64)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "e2e"))))
	tr := tp.Tracer("collect-e2e")
	ids := map[string]bool{}
	for i := range nTraces {
		ctx, root := tr.Start(context.Background(), "GET /api/posts", trace.WithAttributes(attribute.String("http.route", "/api/posts")))
		for range 3 {
			_, child := tr.Start(ctx, "SELECT users", trace.WithAttributes(attribute.String("db.statement", "SELECT id FROM users WHERE id = ?"), attribute.Int("i", i)))
			child.End()
		}
		root.End()
		ids[root.SpanContext().TraceID().String()] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("exporting: %v", err)
	}
	return ids
}

// checkAssembled waits for every trace in ids to be written whole (4 spans, complete).
func checkAssembled(t *testing.T, s *started, ids map[string]bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for left := len(ids); left > 0; left-- {
		select {
		case tr := <-s.got:
			if !ids[tr.ID] {
				t.Fatalf("unexpected trace %s", tr.ID)
			}
			if tr.Spans != 4 || tr.End != EndComplete {
				t.Errorf("trace %s: %d spans ending %q, want 4, complete", tr.ID, tr.Spans, tr.End)
			}
			delete(ids, tr.ID)
		case <-timeout:
			t.Fatalf("%d traces not written within 10s", left)
		}
	}
	st := s.r.Stats()
	if len(st.SpansDropped)+len(st.SpansRejected)+len(st.RequestsRefused) != 0 || st.Tolerated[ReasonMissingParent] != 0 {
		t.Errorf("a clean SDK export had refusals or drops: %+v", st)
	}
}

func TestOTelSDKExportersEndToEnd(t *testing.T) {
	t.Parallel()
	cfg := Config{CompleteAfter: 50 * time.Millisecond, MaxIdle: time.Second}
	for _, tc := range []struct {
		name string
		exp  func(s *started) (sdktrace.SpanExporter, error)
	}{
		{"http protobuf", func(s *started) (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(t.Context(), otlptracehttp.WithEndpoint(s.r.HTTPAddr().String()), otlptracehttp.WithInsecure())
		}},
		{"http protobuf gzip", func(s *started) (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(t.Context(), otlptracehttp.WithEndpoint(s.r.HTTPAddr().String()), otlptracehttp.WithInsecure(),
				otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}},
		{"grpc", func(s *started) (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(s.r.GRPCAddr().String()), otlptracegrpc.WithInsecure())
		}},
		{"grpc gzip", func(s *started) (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(s.r.GRPCAddr().String()), otlptracegrpc.WithInsecure(),
				otlptracegrpc.WithCompressor("gzip"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, cfg)
			exp, err := tc.exp(s)
			if err != nil {
				t.Fatal(err)
			}
			checkAssembled(t, s, emit(t, exp, 50))
		})
	}
}

// Shutdown writes traces still being assembled and delivers them before returning.
func TestShutdownFlushes(t *testing.T) {
	t.Parallel()
	s := start(t, Config{CompleteAfter: time.Hour, MaxIdle: time.Hour})
	exp, err := otlptracehttp.New(t.Context(), otlptracehttp.WithEndpoint(s.r.HTTPAddr().String()), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	ids := emit(t, exp, 10)
	s.shutdown(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.traces) != len(ids) {
		t.Fatalf("%d traces delivered by Shutdown, want %d", len(s.traces), len(ids))
	}
	for _, tr := range s.traces {
		if !ids[tr.ID] || tr.End != EndShutdown || tr.Spans != 4 {
			t.Errorf("trace %s: %d spans ending %q, want 4 ending shutdown", tr.ID, tr.Spans, tr.End)
		}
	}
	if st := s.r.Stats(); st.OpenTraces != 0 || st.BufferedSpans != 0 || st.Traces[EndShutdown] != int64(len(ids)) {
		t.Errorf("after shutdown: %+v", st)
	}
}

func TestGRPCPartialSuccessAndOverload(t *testing.T) {
	t.Parallel()
	// Not started: nothing drains the queue of size 1.
	r, err := New(Config{QueueSize: 1, RetryAfter: 3 * time.Second, MaxRequestBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newGRPCServer(r)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	client := ptraceotlp.NewGRPCClient(cc)

	td := build(spanSpec{trace: 1, span: 1, parent: -1})
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty().SetSpanID(sid(2)) // no trace id
	resp, err := client.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(td), grpc.UseCompressor(gzip.Name))
	if err != nil {
		t.Fatal(err)
	}
	if ps := resp.PartialSuccess(); ps.RejectedSpans() != 1 || ps.ErrorMessage() == "" {
		t.Errorf("partial success %d %q, want 1 rejected with a message", ps.RejectedSpans(), ps.ErrorMessage())
	}

	_, err = client.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(build(spanSpec{trace: 2, span: 1, parent: -1})))
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("queue full: %v, want RESOURCE_EXHAUSTED", err)
	}
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay != 3*time.Second {
		t.Errorf("RetryInfo delay %s, want 3s: exporters retry RESOURCE_EXHAUSTED only with it", delay)
	}

	big := build(spanSpec{trace: 10, span: 1, parent: -1})
	big.ResourceSpans().At(0).Resource().Attributes().PutStr("huge", string(make([]byte, 2<<20)))
	_, err = client.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(big), grpc.UseCompressor(gzip.Name))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("over the size limit after decompression: %v, want RESOURCE_EXHAUSTED", err)
	}

	// Bytes that are not an ExportTraceServiceRequest: refused by gRPC before Export, counted.
	err = cc.Invoke(t.Context(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
		ptr([]byte("\x0a\xff\xff\xff\xff\x0fnot protobuf")), new([]byte), grpc.ForceCodecV2(rawCodec{}))
	if status.Code(err) == codes.OK || status.Code(err) == codes.Unavailable {
		t.Errorf("malformed message: %v, want a non-retryable error", err)
	}
	if n := r.Stats().RequestsRefused[ReasonMalformed]; n != 1 {
		t.Errorf("malformed gRPC requests counted %d, want 1", n)
	}

	r.qmu.Lock()
	r.closing = true
	r.qmu.Unlock()
	_, err = client.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(td))
	if status.Code(err) != codes.Unavailable {
		t.Errorf("shutting down: %v, want UNAVAILABLE", err)
	}
}

func ptr[T any](v T) *T { return &v }

// rawCodec sends a []byte message as is.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "raw" }

func TestStartPortInUse(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Close() })
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	_ = free.Close()
	r, err := New(Config{HTTPAddr: freeAddr, GRPCAddr: busy.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Start(t.Context())
	if !errors.Is(err, ErrListen) || !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("Start on a busy port: %v, want ErrListen wrapping EADDRINUSE, naming the address", err)
	}
	if r.HTTPAddr() != nil || r.GRPCAddr() != nil {
		t.Errorf("addresses %v, %v after a failed Start, want none", r.HTTPAddr(), r.GRPCAddr())
	}
	// The HTTP port it did get is released again.
	if ln, err := net.Listen("tcp", freeAddr); err != nil {
		t.Errorf("HTTP port kept after a failed Start: %v", err)
	} else {
		_ = ln.Close()
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after a failed Start: %v, want a no-op", err)
	}
}

// Serve runs until its context ends, then shuts down and delivers what is open.
func TestServe(t *testing.T) {
	t.Parallel()
	got := make(chan *Trace, 1)
	r, err := New(Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: Off, CompleteAfter: time.Hour, MaxIdle: time.Hour,
		OnTrace: func(tr *Trace) { got <- tr }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx, 5*time.Second) }()
	for r.HTTPAddr() == nil {
		select {
		case err := <-served:
			t.Fatalf("Serve returned early: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	a := post(t, "http://"+r.HTTPAddr().String()+"/v1/traces", ctJSON, "", jsonBody(build(spanSpec{trace: 7, span: 1, parent: -1})))
	if a.code != 200 {
		t.Fatalf("status %d", a.code)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	select {
	case tr := <-got:
		if tr.ID != tid(7).String() || tr.End != EndShutdown {
			t.Errorf("delivered %s ending %q, want %s ending shutdown", tr.ID, tr.End, tid(7))
		}
	default:
		t.Fatal("Serve returned before delivering the open trace")
	}
}
