package result

import (
	"encoding/json"
	"io"
)

// FindingsSchema identifies a diagnose result.
const FindingsSchema = "headroom.findings/v1"

// Findings is the result of diagnose: bottlenecks found in traces, ranked by share of P99 time.
type Findings struct {
	Schema   string    `json:"schema"`
	Findings []Finding `json:"findings"`
	// Endpoints profiles each endpoint (root route): latency, self time by category, critical path.
	Endpoints []EndpointProfile `json:"endpoints,omitempty"`
	// TailVsMedian compares the slowest requests' span composition with the median ones'.
	TailVsMedian []TailComparison `json:"tail_vs_median,omitempty"`
	// Edge breaks down, per endpoint, the requests whose traces cross an edge node: time at the
	// edge, on the edge ↔ origin link and at the origin, and the share answered at the edge.
	Edge []EdgeBreakdown `json:"edge,omitempty"`
	// Services breaks down, per endpoint, the requests whose traces cross from one service into
	// another: each service's own time and each hop's calls, time per call and network time.
	Services []ServiceBreakdown `json:"services,omitempty"`
	// Functions breaks down, per serverless function (traces with the OpenTelemetry FaaS
	// conventions), its cold and warm invocations and the price of keeping it warm.
	Functions []FunctionBreakdown `json:"functions,omitempty"`
	// Input says what was read and which bad input was tolerated.
	Input *TraceInput `json:"input,omitempty"`
	// Config echoes the thresholds the detectors ran with.
	Config json.RawMessage `json:"config,omitempty"`
}

// EndpointProfile is where one endpoint's time goes, from its traces.
type EndpointProfile struct {
	Endpoint string  `json:"endpoint"`
	Count    int     `json:"count"`
	P50MS    float64 `json:"p50_ms"`
	P90MS    float64 `json:"p90_ms"`
	P99MS    float64 `json:"p99_ms"`
	MeanMS   float64 `json:"mean_ms"`
	// SelfTimeMS is the mean time per request spent in each category's own spans (children
	// excluded), e.g. {"db": 12.5, "internal": 1.2}; categories with no time are absent.
	SelfTimeMS map[string]float64 `json:"self_time_ms"`
	// CriticalPath is the mean time per request each operation spends on the critical path,
	// largest first.
	CriticalPath []PathStep `json:"critical_path"`
}

// PathStep is one operation's share of an endpoint's critical path.
type PathStep struct {
	Category  string  `json:"category"`
	Operation string  `json:"operation"`
	MS        float64 `json:"ms"`
	// Share is MS as a fraction of the endpoint's mean latency.
	Share float64 `json:"share"`
}

// TailComparison is what the slowest requests of an endpoint spend more time on than the median ones.
type TailComparison struct {
	Endpoint       string   `json:"endpoint"`
	Summary        string   `json:"summary"`
	TailTraceIDs   []string `json:"tail_trace_ids"`
	MedianTraceIDs []string `json:"median_trace_ids"`
	TailMS         float64  `json:"tail_ms"`
	MedianMS       float64  `json:"median_ms"`
	// OverRepresented lists categories and operations by how much more time they take in the
	// tail than at the median, largest first.
	OverRepresented []Contribution `json:"over_represented"`
}

// Contribution is one category's or operation's mean time per request in the tail and at the median.
type Contribution struct {
	Category  string  `json:"category"`
	Operation string  `json:"operation,omitempty"`
	TailMS    float64 `json:"tail_ms"`
	MedianMS  float64 `json:"median_ms"`
	DeltaMS   float64 `json:"delta_ms"`
	// ShareOfGap is DeltaMS as a fraction of the tail's extra latency over the median.
	ShareOfGap float64 `json:"share_of_gap"`
}

// EdgeBreakdown is where the time of one endpoint's requests through an edge node goes. A request
// crosses an edge when its trace holds an edge server span (headroom.tier = "edge"); its origin
// fetches are the client spans under it with peer.service = "origin", and the origin's server
// span is the child of a fetch.
type EdgeBreakdown struct {
	Endpoint string `json:"endpoint"`
	// Requests is how many of the endpoint's requests crossed an edge node.
	Requests int `json:"requests"`
	// AnsweredBy counts Requests by who answered them (edge.answered_by): "cache", "origin",
	// "function:<name>"; a request without the attribute counts as "origin" when it fetched from
	// the origin, else as "edge".
	AnsweredBy map[string]int `json:"answered_by"`
	// AnsweredAtEdge is the fraction (0..1) of Requests answered without the origin: cache hits
	// and edge functions' own answers.
	AnsweredAtEdge float64 `json:"answered_at_edge"`
	// Edge is the time at the edge node: the edge span minus the union of its origin fetches,
	// over all Requests.
	Edge TierTime `json:"edge"`
	// Link is the time on the edge ↔ origin link: each origin fetch's client span minus the
	// origin's server span under it, summed per request, over the requests that fetched from the
	// origin and whose origin spans are all in the trace.
	Link TierTime `json:"link"`
	// Origin is the time in the origin's server spans, over the same requests as Link.
	Origin TierTime `json:"origin"`
	// OriginUnseen counts requests that fetched from the origin but lack an origin server span
	// under a fetch (the origin's spans were not collected): left out of Link and Origin, since
	// their link and origin time cannot be told apart.
	OriginUnseen int `json:"origin_unseen,omitempty"`
}

// TierTime is the P50 and P99 of one tier's time per request, over Requests requests.
type TierTime struct {
	Requests int     `json:"requests"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
}

// ServiceBreakdown is where the time of one endpoint's requests goes across services. A request
// crosses services when its trace holds a hop: a client span (a remote call's attempt) whose
// child is the callee's server span. A span's service is its resource's service.name (a span
// without one is its parent's); the callee of a hop is the client span's peer.service, else the
// server span's service. An edge node's origin fetches are the edge breakdown's link, not hops.
type ServiceBreakdown struct {
	Endpoint string `json:"endpoint"`
	// Requests is how many of the endpoint's requests crossed services.
	Requests int `json:"requests"`
	// Services is each service's own time per request: its spans' time less their children's,
	// a hop's client span excluded (its time is the callee's and the network's), largest mean first.
	Services []ServiceTime `json:"services"`
	// Hops lists the calls from one service to another, most calls per request first.
	Hops []HopTime `json:"hops"`
}

// ServiceTime is one service's own time per request over the Requests that reached it.
type ServiceTime struct {
	Service string   `json:"service"`
	MeanMS  float64  `json:"mean_ms"`
	Self    TierTime `json:"self"`
}

// HopTime is the calls from one service (Caller) to another (Peer) in an endpoint's requests.
// Each attempt of a remote call is one call.
type HopTime struct {
	Caller string `json:"caller"`
	Peer   string `json:"peer"`
	// Calls is the number of calls (client spans) on the hop in all the endpoint's requests that
	// crossed services; CallsPerRequest is Calls over those requests.
	Calls           int     `json:"calls"`
	CallsPerRequest float64 `json:"calls_per_request"`
	// Errors counts the calls that failed (error.type, or a 5xx or 429 status).
	Errors int `json:"errors,omitempty"`
	// Call is the time per call: the client span's.
	Call CallTime `json:"call"`
	// Network is the network part of a call: the client span minus the callee's server span
	// under it, over the calls whose server span is in the trace (Network.Calls of them).
	Network CallTime `json:"network"`
}

// CallTime is the P50, P99 and mean of the time per call, over Calls calls.
type CallTime struct {
	Calls  int     `json:"calls"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MeanMS float64 `json:"mean_ms"`
}

// FunctionBreakdown is one serverless function's invocations: a trace is an invocation when a
// span carries faas.coldstart, faas.invocation_id (faas.execution) or faas.trigger (the outermost
// such server, consumer or internal span); the
// function is its faas.name, else the trace's endpoint. An invocation's time is its trace's
// latency (the caller's wait, which holds the init phase when the trace starts upstream).
type FunctionBreakdown struct {
	Function string `json:"function"`
	// Endpoint is the endpoint most of the function's invocations were requests to.
	Endpoint string `json:"endpoint"`
	Trigger  string `json:"trigger,omitempty"`
	Provider string `json:"provider,omitempty"`
	// Invocations counts them; Cold and Warm are their times, by faas.coldstart.
	Invocations int `json:"invocations"`
	// TimerInvocations counts the invocations with faas.trigger=timer left out of the figures
	// because the function also serves other triggers: keep-warm pings (answered without work)
	// or scheduled jobs, which no user waits on.
	TimerInvocations int      `json:"timer_invocations,omitempty"`
	Cold             TierTime `json:"cold"`
	Warm             TierTime `json:"warm"`
	// ColdShare is the fraction (0..1) of invocations that were cold.
	ColdShare float64 `json:"cold_share"`
	// ColdStart is the cold-start time per cold invocation: its init-phase spans when the trace
	// has them, else its time over the warm P50.
	ColdStart TierTime `json:"cold_start"`
	// ColdShareOfP99 is the fraction (0..1) of the slowest 1 % invocations' time that is
	// cold-start time.
	ColdShareOfP99 float64 `json:"cold_share_of_p99"`
	// Init is the cold invocations' init phases, by span name in the order they start, when
	// their spans show them.
	Init []InitPhase `json:"init,omitempty"`
	// MemoryMB is faas.max_memory, or the configured default when absent.
	MemoryMB int `json:"memory_mb"`
	// RatePerSecond is the measured traffic (arrivals per second between the first and the last),
	// 0 when one invocation (or one instant) gives no rate; PeakConcurrency the most invocations
	// in flight at once.
	RatePerSecond float64 `json:"rate_per_second"`
	// RateKnown is true when RatePerSecond was measured (two arrivals apart at least).
	RateKnown       bool `json:"rate_known"`
	PeakConcurrency int  `json:"peak_concurrency"`
	// KeepWarmUSDPerMonth is the price of pinging PeakConcurrency instances at the configured
	// interval; ProvisionedUSDPerMonth that of PeakConcurrency provisioned instances, net of their
	// cheaper execution at the measured traffic, negative when that saves more than they cost
	// (both at the configured, dated prices).
	KeepWarmUSDPerMonth    float64 `json:"keep_warm_usd_per_month"`
	ProvisionedUSDPerMonth float64 `json:"provisioned_usd_per_month"`
}

// InitPhase is one init phase (span name) of the cold invocations that show it.
type InitPhase struct {
	Phase string   `json:"phase"`
	Time  TierTime `json:"time"`
}

// TraceInput counts what diagnose read.
type TraceInput struct {
	Traces int `json:"traces"`
	Spans  int `json:"spans"`
	// Tolerated counts bad input that was skipped or repaired, by reason (e.g.
	// "malformed_json_line", "duplicate_span_id", "end_before_start", "parent_span_missing").
	Tolerated map[string]int `json:"tolerated,omitempty"`
	// Background counts traces left out of the endpoints because no request or job started them
	// (their root is neither a server nor a consumer span: a poller's queries, start-up work)
	// while other traces had such an entry.
	Background int `json:"background,omitempty"`
}

// Kind says what a finding is. Its JSON strings are a contract (DESIGN.md lists them): add
// kinds, never rename them.
type Kind string

// The finding kinds.
const (
	KindNPlusOneDB      Kind = "n_plus_one_db"
	KindNPlusOneHTTP    Kind = "n_plus_one_http"
	KindConsecutiveDB   Kind = "consecutive_db"
	KindConsecutiveHTTP Kind = "consecutive_http"
	KindSlowQuery       Kind = "slow_query"
	KindSyncRemoteCall  Kind = "sync_remote_call"
	KindPoolWait        Kind = "pool_wait"
	KindLargePayload    Kind = "large_payload"
	KindCPUHotspot      Kind = "cpu_hotspot"
	// KindColdStart is a serverless function whose cold starts make a meaningful share of its
	// slowest invocations' time.
	KindColdStart Kind = "cold_start"
	// KindTailLatency is the operation that makes an endpoint's slowest requests slow: the one
	// whose time on the critical path grows most from the median requests to the tail.
	KindTailLatency Kind = "tail_latency"
	// KindEdgeCacheable is a GET answer fetched from the origin again and again, identical each
	// time, that an edge cache would have answered had the origin's headers let it.
	KindEdgeCacheable Kind = "edge_cacheable"
	// KindEdgeRejectable is requests the origin rejected (401/403 with lab.auth.rejected) after
	// the round trip past the edge, which an edge check could have rejected there.
	KindEdgeRejectable Kind = "edge_rejectable"
	// KindRetryStorm is one logical remote call made again and again: many sibling attempts to
	// one peer and route, most of them failed.
	KindRetryStorm Kind = "retry_storm"
	// KindMissingDeadline is remote calls without a deadline that last far past the endpoint's
	// median latency.
	KindMissingDeadline Kind = "missing_deadline"
	// KindSerialFanout is calls to several services (or routes) made one after the other although
	// nothing in the trace makes one wait for another.
	KindSerialFanout Kind = "serial_fanout"
	// KindNetworkHop is a hop between services whose network time dominates its calls' time.
	KindNetworkHop Kind = "network_hop"
)

// Severity grades a finding that is not (yet) costing what its kind usually costs.
type Severity string

// The severities. A finding without one costs the measured time it reports.
const (
	// SeverityLow marks a pattern that costs little where it was measured but scales with a cost
	// the measurement did not have, e.g. an N+1 on an embedded database that a network round trip
	// per query would make slow; the finding's what-if says how slow.
	SeverityLow Severity = "low"
)

// Finding is one bottleneck on one endpoint.
type Finding struct {
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity,omitempty"`
	Endpoint string   `json:"endpoint"`
	Summary  string   `json:"summary"`
	Evidence Evidence `json:"evidence"`
	// ShareOfP99 is the finding's time as a fraction (0..1) of the endpoint's P99 latency; 0
	// when there is no P99 to compare with (a cpu_hotspot comes from a profile, not traces).
	ShareOfP99 float64 `json:"share_of_p99"`
	// ShareOfP99Known is true when ShareOfP99 was measured against the endpoint's P99.
	ShareOfP99Known bool `json:"share_of_p99_known"`
	// EstimatedSavingMS is how much the remedy would take off the endpoint's P99; 0 when not
	// estimated (a cpu_hotspot).
	EstimatedSavingMS float64 `json:"estimated_saving_ms"`
	// EstimatedSavingKnown is true when EstimatedSavingMS is an estimate from the traces.
	EstimatedSavingKnown bool   `json:"estimated_saving_known"`
	Remedy               string `json:"remedy"`
}

// Evidence says where a finding was seen.
type Evidence struct {
	TraceIDs  []string `json:"trace_ids"`
	Count     int      `json:"count,omitempty"`
	Statement string   `json:"statement,omitempty"`
	TotalMS   float64  `json:"total_ms,omitempty"`
	// Operation is the call the finding is about when it is not a statement: a parameterized
	// URL, a dependency's span name.
	Operation string `json:"operation,omitempty"`
	// Bytes is the payload size, for large_payload.
	Bytes int64 `json:"bytes,omitempty"`
	// CPUShare is a cpu_hotspot's flat (self) share of the CPU samples, 0..1.
	CPUShare float64 `json:"cpu_share,omitempty"`
	// P50MS is, for tail_latency, the operation's median time per request on the critical path;
	// TotalMS is then its mean time in the tail requests.
	P50MS float64 `json:"p50_ms,omitempty"`
	// TailRequests is, for tail_latency, how many slowest requests made the tail; Count says how
	// many of them the operation explains.
	TailRequests int `json:"tail_requests,omitempty"`
	// WhatIfMS is, for a low-severity N+1, the time its repeats would take at the what-if round
	// trip per query (WhatIfRoundTripMS).
	WhatIfMS          float64 `json:"what_if_ms,omitempty"`
	WhatIfRoundTripMS float64 `json:"what_if_round_trip_ms,omitempty"`
	// RequestShare is, for the edge kinds, the fraction (0..1) of the endpoint's requests the
	// finding is about.
	RequestShare float64 `json:"request_share,omitempty"`
	// Reasons counts, for edge_rejectable, the rejections by status and lab.auth.rejected reason,
	// e.g. {"401 missing": 12, "401 expired": 3}.
	Reasons map[string]int `json:"reasons,omitempty"`
	// Answers counts, for edge_cacheable, the repeated fetches by the answer they got: its ETag
	// (`etag "abc"`) or, without one, status and size (`200, 5120 bytes`).
	Answers map[string]int `json:"answers,omitempty"`
	// AttemptsPerCall is, for retry_storm, the mean attempts per logical call; ErrorShare the
	// fraction (0..1) of those attempts that failed.
	AttemptsPerCall float64 `json:"attempts_per_call,omitempty"`
	ErrorShare      float64 `json:"error_share,omitempty"`
	// NetworkShare is, for network_hop, the fraction (0..1) of the calls' time spent on the
	// network (the client span minus the callee's server span).
	NetworkShare float64 `json:"network_share,omitempty"`
}

// Write writes f as indented JSON.
func (f *Findings) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}
