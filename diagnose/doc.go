// Package diagnose is pure analysis over assembled traces: it finds bottlenecks (so far N+1
// database queries) and reports them as result.Finding values ranked by share of P99 time.
//
// diagnose must not import collect or any network code: it reads traces from the JSONL file
// format (one OTLP JSON ExportTraceServiceRequest per line) with the standard library only.
package diagnose
