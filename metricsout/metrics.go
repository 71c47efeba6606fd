package metricsout

// kind is how a metric aggregates.
type kind int

const (
	kindCounter kind = iota
	kindGauge
	kindHistogram
)

// metric names one exported metric in both conventions: the OpenTelemetry name and unit, and
// the Prometheus name the OpenTelemetry Collector's Prometheus exporters derive from them
// (unit suffix, _total on counters), so a dashboard works whichever way the data arrived.
type metric struct {
	otel, unit     string
	prom, promUnit string
	kind           kind
	help           string
}

// The exported metrics. Labels (attributes in OTLP) of each: run_id, target, phase.
var (
	mRequests = &metric{otel: "headroom.requests", unit: "{request}", prom: "headroom_requests_total", kind: kindCounter,
		help: "Requests of the measured period that were sent, errors included."}
	mErrors = &metric{otel: "headroom.request.errors", unit: "{request}", prom: "headroom_request_errors_total", kind: kindCounter,
		help: "Requests of the measured period that failed: transport errors, timeouts, statuses of 400 and above."}
	mLatency = &metric{otel: "headroom.request.latency", unit: "s", prom: "headroom_request_latency_seconds", promUnit: "seconds", kind: kindHistogram,
		help: "Latency measured from each request's intended send time (no coordinated omission)."}
	mOffered = &metric{otel: "headroom.offered.rate", unit: "{request}/s", prom: "headroom_offered_requests_per_second", kind: kindGauge,
		help: "The arrival rate the load asked for in the last second."}
	mAchieved = &metric{otel: "headroom.achieved.rate", unit: "{request}/s", prom: "headroom_achieved_requests_per_second", kind: kindGauge,
		help: "Requests completed in the last second."}
)

// The series of the classic latency histogram (Config.Histograms): no metadata of their own.
var (
	mLatencyBucket = &metric{prom: "headroom_request_latency_seconds_bucket", kind: kindCounter}
	mLatencySum    = &metric{prom: "headroom_request_latency_seconds_sum", kind: kindCounter}
	mLatencyCount  = &metric{prom: "headroom_request_latency_seconds_count", kind: kindCounter}
)

// point is one metric's value for one series at a push.
type point struct {
	metric               *metric
	runID, target, phase string
	le                   string   // a classic bucket's bound
	value                float64  // counters and gauges
	hist                 *expHist // histograms
}
