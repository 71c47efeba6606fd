package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config configures [Setup].
type Config struct {
	// ServiceName is the service.name resource attribute. Default "headroom-lab".
	ServiceName string
	// OTLPEndpoint is the OTLP/HTTP collector, e.g. http://127.0.0.1:4318 (the path defaults to
	// /v1/traces). Default "": spans are made (for trace ids in logs, exemplars and traceparent
	// propagation) but not exported.
	OTLPEndpoint string
	// Resource is added to the resource's attributes beside service.name (a function's
	// faas.name and faas.max_memory, as the FaaS conventions put them).
	Resource []attribute.KeyValue
	// SpanProcessors are added to the provider (for tests).
	SpanProcessors []sdktrace.SpanProcessor
}

// Telemetry holds the tracer provider and propagator. Shut it down to flush spans.
type Telemetry struct {
	TracerProvider *sdktrace.TracerProvider
	Propagator     propagation.TextMapPropagator
}

// Setup builds the tracer provider: every span is sampled unless the caller's traceparent says
// otherwise, and batches are exported to cfg.OTLPEndpoint when set.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.ServiceName == "" {
		cfg.ServiceName = "headroom-lab"
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithResource(resource.NewSchemaless(append([]attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}, cfg.Resource...)...)),
	}
	if cfg.OTLPEndpoint != "" {
		endpoint, err := tracesURL(cfg.OTLPEndpoint)
		if err != nil {
			return nil, err
		}
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
		}
		// The SDK's default queue (2,048 spans) overflows and drops spans at a few hundred
		// requests per second with n_plus_one on (~22 spans each): a measured lab must export
		// every span, so the queue holds several seconds of that and batches are larger.
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(1<<16), sdktrace.WithMaxExportBatchSize(2048)))
	}
	for _, sp := range cfg.SpanProcessors {
		opts = append(opts, sdktrace.WithSpanProcessor(sp))
	}
	return &Telemetry{
		TracerProvider: sdktrace.NewTracerProvider(opts...),
		Propagator:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

// tracesURL checks an OTLP/HTTP endpoint and adds the default /v1/traces path when it has none.
func tracesURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("telemetry: OTLP endpoint %q: want an http(s) URL such as http://127.0.0.1:4318", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// Shutdown flushes pending spans and stops the exporter, bounded by ctx.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if err := t.TracerProvider.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}

// Levels are the log levels ParseLevel reads, by name.
var Levels = []string{"debug", "info", "warn", "error"}

// ParseLevel parses one of Levels (or slog's offsets from one, such as info+2).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return l, fmt.Errorf("log level %q: want one of %s", s, strings.Join(Levels, ", "))
	}
	return l, nil
}

// NewLogger returns a JSON logger writing to w at level whose records carry trace_id and span_id
// when the context has a span.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(traceHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

// traceHandler adds the context's trace and span ids to each record.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
