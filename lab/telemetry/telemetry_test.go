package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/headroom/headroom/lab/telemetry"
)

func TestOTLPExport(t *testing.T) {
	t.Parallel()
	got := make(chan string, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type")
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)
	tel, err := telemetry.Setup(t.Context(), telemetry.Config{OTLPEndpoint: recv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider.Tracer("test").Start(t.Context(), "work")
	span.End()
	if err := tel.Shutdown(t.Context()); err != nil { // flushes the batch
		t.Fatal(err)
	}
	select {
	case req := <-got:
		if req != "POST /v1/traces application/x-protobuf" {
			t.Errorf("export request = %q", req)
		}
	default:
		t.Fatal("no export request after Shutdown")
	}
}

func TestBadEndpoint(t *testing.T) {
	t.Parallel()
	for _, ep := range []string{"127.0.0.1:4318", "ftp://x", "http://"} {
		if _, err := telemetry.Setup(t.Context(), telemetry.Config{OTLPEndpoint: ep}); err == nil {
			t.Errorf("endpoint %q: no error", ep)
		}
	}
}

func TestLoggerAddsTraceIDs(t *testing.T) {
	t.Parallel()
	tel, err := telemetry.Setup(t.Context(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, slog.LevelInfo).With("k", "v")
	ctx, span := tel.TracerProvider.Tracer("test").Start(t.Context(), "work")
	log.InfoContext(ctx, "hello")
	span.End()
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["trace_id"] != span.SpanContext().TraceID().String() || rec["k"] != "v" {
		t.Errorf("log record = %v", rec)
	}
	if _, err := telemetry.ParseLevel("loud"); err == nil {
		t.Error("ParseLevel(loud): no error")
	}
}
