// Package remote is the HTTP/JSON client every remote call of the lab's services mode goes
// through: one [Client] per called service (peer), with a deadline per attempt and per call,
// retries with exponential backoff and jitter held to a retry budget, a circuit breaker, a
// bulkhead and hedged requests, built on failsafe-go. Switches reproduce the classic mistakes
// (no timeout at all, naive retries: a retry storm) so that their cost can be measured.
//
// Every logical call makes an internal span "call <peer> <METHOD> <route>" and, under it, a
// client span per attempt (otelhttp) whose attributes say which attempt it was, whether it was
// a hedged copy, the deadline it had and why it failed; the callee continues the trace through
// W3C trace context. Its Prometheus series carry the peer as a constant label, so one
// Registerer takes the clients of every peer.
//
// Like the rest of the lab it never imports headroom's measurement packages.
package remote
