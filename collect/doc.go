// Package collect is headroom's OTLP trace receiver: OTLP/HTTP (protobuf and JSON, gzip) and
// OTLP/gRPC on loopback ports, streaming assembly of spans into whole traces, and delivery of
// each completed trace to a callback (the CLI writes them as OTLP JSON lines for diagnose).
//
// It follows the OTLP specification's server rules: 400 for bad data, 415 for a content type
// it does not speak, 413 when a request is over the size limit after decompression, 429/503
// with Retry-After (gRPC RESOURCE_EXHAUSTED with RetryInfo / UNAVAILABLE) when its bounded
// ingest queue is full or it is shutting down, and partial success naming the spans it refused.
// Memory is bounded whatever the length of the run: by caps on open traces and on the spans
// they hold (in number and in encoded bytes: beyond them the oldest trace is written early),
// on spans per trace and attribute value length, on completed traces waiting to be written
// (assembly waits for them), and on the requests waiting for assembly (refused beyond). Every
// span refused, dropped or tolerated and every trace written early is counted (Stats).
//
// collect owns the OTLP dependencies (go.opentelemetry.io/collector/pdata, gRPC). It must not
// import lab/...; diagnose must not import collect: the two meet only in the OTLP JSON lines
// format.
package collect
