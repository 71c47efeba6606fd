// Package collect is headroom's OTLP trace receiver: OTLP/HTTP (protobuf and JSON, gzip) and
// OTLP/gRPC on loopback ports, streaming assembly of spans into whole traces, and delivery of
// each completed trace to a callback (the CLI writes them as OTLP JSON lines for diagnose).
//
// It follows the OTLP specification's server rules: 400 for bad data, 415 for a content type
// it does not speak, 413 when a request is over the size limit after decompression, 429/503
// with Retry-After (gRPC RESOURCE_EXHAUSTED with RetryInfo / UNAVAILABLE) when its bounded
// ingest queue is full or it is shutting down, and partial success naming the spans it refused.
// Memory is bounded by caps on open traces, buffered spans, spans per trace and attribute
// value length; every span refused, dropped or tolerated is counted with its reason (Stats).
//
// collect owns the OTLP dependencies (go.opentelemetry.io/collector/pdata, gRPC). It must not
// import lab/...; diagnose must not import collect: the two meet only in the OTLP JSON lines
// format.
package collect
