// Package telemetry sets up the lab's OpenTelemetry tracing (SDK, OTLP/HTTP exporter, W3C
// propagation) and its structured logs (log/slog JSON with the trace and span ids of the context).
//
// It is the only package of the lab that imports the OpenTelemetry SDK and exporter; the others use
// the API only. It must not import headroom's measurement packages.
package telemetry
