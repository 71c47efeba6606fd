package dbtrace

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/headroom/headroom/lab/store"

// Tracer starts statement spans. The zero value is not usable; use [New].
type Tracer struct {
	t      trace.Tracer
	system string
	ns     string
}

// New returns a Tracer for a database engine (system, e.g. "sqlite" or "postgresql") and database
// name (namespace). A nil provider means no spans.
func New(tp trace.TracerProvider, system, namespace string) *Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &Tracer{t: tp.Tracer(ScopeName), system: system, ns: namespace}
}

// Start begins a client span for query. End it with [End].
func (d *Tracer) Start(ctx context.Context, query string) (context.Context, trace.Span) {
	op, table := Operation(query), Collection(query)
	// Span names follow the conventions' "{operation} {collection}", e.g. "SELECT users".
	name := strings.TrimSpace(op + " " + table)
	if name == "" {
		name = d.system
	}
	attrs := []attribute.KeyValue{
		attribute.String("db.system.name", d.system),
		attribute.String("db.system", d.system),
		attribute.String("db.namespace", d.ns),
		attribute.String("db.operation.name", op),
		attribute.String("db.query.text", query),
		attribute.String("db.statement", query),
	}
	if table != "" {
		attrs = append(attrs, attribute.String("db.collection.name", table))
	}
	return d.t.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// StartAcquire begins a span for the wait for a pooled connection ("pool.acquire", as otelpgx
// names it), so a trace shows time lost to an exhausted pool. End it with [End].
func (d *Tracer) StartAcquire(ctx context.Context, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return d.t.Start(ctx, "pool.acquire", append(opts, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
		attribute.String("db.system.name", d.system), attribute.String("db.namespace", d.ns)))...)
}

// End records err (if any) on span and ends it.
func End(span trace.Span, err error, opts ...trace.SpanEndOption) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End(opts...)
}

// Operation returns the statement's first keyword in upper case ("SELECT", "INSERT", ...).
func Operation(query string) string {
	q := strings.TrimSpace(query)
	if i := strings.IndexFunc(q, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '(' }); i >= 0 {
		q = q[:i]
	}
	return strings.ToUpper(q)
}

// Collection returns the first table the statement reads or writes: the word after the first FROM,
// INTO, UPDATE or COPY, or "" if there is none (e.g. "SELECT 1").
func Collection(query string) string {
	fields := strings.Fields(query)
	for i, f := range fields {
		switch strings.ToUpper(f) {
		case "FROM", "INTO", "UPDATE", "COPY":
			if i+1 < len(fields) {
				name := strings.Trim(fields[i+1], `"(),;`)
				if name != "" && !strings.EqualFold(name, "SELECT") {
					return name
				}
			}
		}
	}
	return ""
}
