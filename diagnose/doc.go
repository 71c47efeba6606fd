// Package diagnose is pure analysis over assembled traces: per endpoint (root route) it gives
// latency percentiles, self time by category (db, cache, pool, http, rpc, queue, logging, remote,
// internal) and the critical path; its detectors (n_plus_one_db, n_plus_one_http,
// consecutive_db, consecutive_http, slow_query, sync_remote_call, pool_wait, large_payload,
// tail_latency, edge_cacheable, edge_rejectable) report result.Finding values ranked by share of
// P99 time; it compares the span composition of the slowest requests with the median ones; and,
// for requests that cross an edge node (headroom.tier = "edge"), it splits their time between
// the edge, the edge ↔ origin link and the origin (edge.go).
//
// # Streaming, and what is exact
//
// A [Stream] takes traces one at a time ([Stream.Add], or [Stream.ReadTraces] over the JSONL
// file through [ReadEach]) and keeps no span: per endpoint it reduces each trace into aggregates
// (request count, sums of self time and critical-path time, each detector's hits as sums,
// maxima and the few slowest trace ids a finding lists), distributions of durations, the slowest
// Config.TailExemplars requests and a uniform sample (reservoir) of Config.SampleExemplars ones,
// each request kept as a summary of its self time and critical path by operation, not as spans.
// [Diagnose] is a Stream whose bounds hold its whole input. With the default bounds:
//
//   - exact: counts, means, self times, critical paths, every detector's hits (sums, maxima,
//     evidence), the edge, service and function breakdowns' counts and means, and every
//     percentile of a distribution of up to Config.ExactValues values (4096);
//   - estimated past Config.ExactValues values: percentiles (endpoint P50/P90/P99, an operation's
//     P50 for tail_latency, the edge, service and hop times) come from an HDR histogram, within its
//     3 significant digits (relative error ≤ 2^-10), and so do the shares of P99 and the savings
//     capped by it; missing_deadline calls wait for the endpoint's P50 up to Config.ExactValues of
//     them, past that they are judged against the P50 so far;
//   - the tail is the slowest 1 % while that is at most Config.TailExemplars (256) requests, their
//     slowest 256 past it (25,600 requests of one endpoint);
//   - the median requests (P40–P60) are those of the sample: all of them up to
//     Config.SampleExemplars (1024) requests, a uniform sample of about 205 past it, so that the
//     median's mean times in tail_vs_median and tail_latency are estimates and its trace ids a
//     sample's.
//
// What still grows with the input, one small record each, not spans: a serverless function's
// invocations (cold_start compares cold and warm ones and needs their peak concurrency) and the
// candidate fetches of edge_cacheable (compared across traces in time order). Traces with
// neither cost nothing there.
//
// diagnose must not import collect or any network code: it reads traces from the JSONL file
// format (one OTLP JSON ExportTraceServiceRequest per line) with its own small decoder, standard
// library only, tolerating and counting bad input.
package diagnose
