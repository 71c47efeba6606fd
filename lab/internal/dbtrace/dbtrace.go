// Package dbtrace makes OpenTelemetry client spans for database statements, following the database
// semantic conventions (db.system.name, db.query.text, db.operation.name, db.namespace), plus the
// older db.system and db.statement keys that many backends still read.
//
// It is shared by the lab's stores so that every engine reports statements the same way. It must
// not import headroom's measurement packages.
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
	op := Operation(query)
	name := op
	if name == "" {
		name = d.system
	}
	return d.t.Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system.name", d.system),
			attribute.String("db.system", d.system),
			attribute.String("db.namespace", d.ns),
			attribute.String("db.operation.name", op),
			attribute.String("db.query.text", query),
			attribute.String("db.statement", query),
		))
}

// End records err (if any) on span and ends it.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Operation returns the statement's first keyword in upper case ("SELECT", "INSERT", ...).
func Operation(query string) string {
	q := strings.TrimSpace(query)
	if i := strings.IndexFunc(q, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '(' }); i >= 0 {
		q = q[:i]
	}
	return strings.ToUpper(q)
}
