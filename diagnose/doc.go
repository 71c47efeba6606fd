// Package diagnose is pure analysis over assembled traces: per endpoint (root route) it gives
// latency percentiles, self time by category (db, cache, pool, http, rpc, queue, logging, remote,
// internal) and the critical path; its detectors (n_plus_one_db, n_plus_one_http,
// consecutive_db, consecutive_http, slow_query, sync_remote_call, pool_wait, large_payload,
// tail_latency, edge_cacheable, edge_rejectable) report result.Finding values ranked by share of
// P99 time; it compares the span composition of the slowest requests with the median ones; and,
// for requests that cross an edge node (headroom.tier = "edge"), it splits their time between
// the edge, the edge ↔ origin link and the origin (edge.go).
//
// diagnose must not import collect or any network code: it reads traces from the JSONL file
// format (one OTLP JSON ExportTraceServiceRequest per line) with its own small decoder, standard
// library only, tolerating and counting bad input.
package diagnose
