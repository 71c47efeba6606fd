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
// A peer run as several replicas is called through a [Balancer] (Config.Balancer instead of
// BaseURL): each attempt goes to the healthy replica with the fewest attempts in flight, a retry
// or hedge to another replica than the attempt before it; active checks (GET /healthz) and
// passive ejection (a connection refused or reset) decide which replicas are healthy, and with
// none healthy all are tried (panic mode). SetEndpoints replaces the replicas while calls run,
// as a rolling restart does. The attempt span's url.full and server.port name the replica; the
// headroom_remote_endpoint_* series count each one's attempts in flight, picks and health.
//
// Like the rest of the lab it never imports headroom's measurement packages.
package remote
