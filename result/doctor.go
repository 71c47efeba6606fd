package result

import "strings"

// DoctorSchema identifies a doctor report.
const DoctorSchema = "headroom.doctor/v1"

// Doctor is what `headroom doctor` measured: each endpoint under one or more conditions and, when
// a sweep ran, its capacity; then the diagnosis of the traces of a steady run, with evidence.
type Doctor struct {
	Schema string `json:"schema"`
	Target string `json:"target"`
	// InvalidMeasurements lists every measurement whose load generator judged itself the limit
	// (its verdict invalid), with why: their numbers are not the target's. Empty when all are
	// valid.
	InvalidMeasurements []InvalidMeasurement `json:"invalid_measurements"`
	// Lab describes the lab doctor started in process; nil for an outside URL.
	Lab          *DoctorLab    `json:"lab,omitempty"`
	Measurements []Measurement `json:"measurements"`

	// SLO is the objective the sweeps judged every step against; "" when no sweep ran.
	SLO string `json:"slo,omitempty"`
	// OTLP is the OTLP/HTTP endpoint doctor received traces on; "" when it collected none.
	OTLP string `json:"otlp,omitempty"`
	// OTLPGRPC is the OTLP/gRPC endpoint doctor received traces on, as an exporter's
	// OTEL_EXPORTER_OTLP_ENDPOINT spells it (http://host:port); "" when it listened on none.
	OTLPGRPC string `json:"otlp_grpc,omitempty"`
	// TracesAnalyzed is how many traces of the steady run the diagnosis read.
	TracesAnalyzed int `json:"traces_analyzed"`
	// NoTraces, when traces were expected (OTLP is set) but none reached the analysis, says so
	// and what to check.
	NoTraces string `json:"no_traces,omitempty"`
	// Endpoints holds, per endpoint, its sweep (when one ran) and the steady run's rate.
	Endpoints []DoctorEndpoint `json:"endpoints,omitempty"`
	// Findings are diagnose's, ranked, joined with the load results' exemplar trace ids.
	Findings []Finding `json:"findings,omitempty"`
	// Breakdown is where the time of each endpoint's requests goes, by operation (self time).
	Breakdown []EndpointBreakdown `json:"breakdown,omitempty"`
	// Edge is diagnose's per-endpoint breakdown of the steady run's requests that crossed an
	// edge node (Findings.Edge): time at the edge, on the edge ↔ origin link and at the origin.
	// Empty when none did.
	Edge []EdgeBreakdown `json:"edge,omitempty"`
	// Services is diagnose's per-endpoint breakdown of the steady run's requests whose traces
	// cross from one service into another (Findings.Services): each service's own time and each
	// hop's calls per request, time per call and network time. Empty when none did.
	Services []ServiceBreakdown `json:"services,omitempty"`
	// Functions is diagnose's per-function breakdown of the steady run's serverless invocations
	// (Findings.Functions): cold vs warm, init phases, the remedies' monthly price. Empty when
	// no trace carried the FaaS conventions.
	Functions []FunctionBreakdown `json:"functions,omitempty"`
	// Exemplar is a slow request's trace with its critical path, the report's waterfall.
	Exemplar *TraceView `json:"exemplar,omitempty"`
	// Profiles are the flame graphs of the steady run, as files next to report.json.
	Profiles []Profile `json:"profiles,omitempty"`
	// Phases say how long each phase took, in the order run.
	Phases []Phase `json:"phases,omitempty"`
	// Notes explain what doctor could not do and why (no pprof endpoint, no traces received).
	Notes []string `json:"notes,omitempty"`
}

// DoctorLab describes the lab a doctor run started.
type DoctorLab struct {
	URL          string `json:"url"`
	DB           string `json:"db"`
	Antipatterns string `json:"antipatterns"`
	Users        int64  `json:"users"`
	Posts        int64  `json:"posts"`
	// Edge is the lab's edge tier when doctor measured through it (doctor --edge); nil otherwise.
	Edge *DoctorEdge `json:"edge,omitempty"`
}

// DoctorEdge is the edge tier of the lab doctor started (headroom lab --edge), as the lab's
// GET /admin/info describes it.
type DoctorEdge struct {
	// URL is where users reach the edge node, across the user ↔ edge link: PathEdge.
	URL string `json:"url"`
	// DirectURL reaches the origin without the edge, across both distances: PathDirect.
	DirectURL string `json:"direct_url"`
	// NodeURL is the edge node itself, without a link (not measured by doctor).
	NodeURL string `json:"node_url,omitempty"`
	// OriginVia says how the edge node reaches the origin (protocol, TLS, connection reuse).
	OriginVia string `json:"origin_via,omitempty"`
	// Geography states the links' round trips and jitter.
	Geography string `json:"geography,omitempty"`
}

// Path names the way a measurement's requests took to the target.
type Path string

// The paths doctor --edge measures.
const (
	// PathEdge is through the edge node: user ↔ edge link, the edge, then the edge ↔ origin
	// link when the edge does not answer itself.
	PathEdge Path = "edge"
	// PathDirect is straight to the origin across the direct link (both distances summed).
	PathDirect Path = "direct"
)

// Condition names the target's state during a measurement.
type Condition string

// The conditions doctor measures under.
const (
	// ConditionAsIs is the target as doctor found it (any service, or the lab with no
	// anti-pattern on).
	ConditionAsIs Condition = "as is"
	// ConditionAntipatternsOn is the lab with its anti-patterns on, as started.
	ConditionAntipatternsOn Condition = "antipatterns on"
	// ConditionAntipatternsOff is the lab measured again with every anti-pattern off.
	ConditionAntipatternsOff Condition = "antipatterns off"
)

// Measurement is one endpoint measured under one condition; File is its full load result.
type Measurement struct {
	Endpoint string `json:"endpoint"`
	// Condition is ConditionAsIs, or on the lab ConditionAntipatternsOn / ConditionAntipatternsOff.
	Condition Condition `json:"condition"`
	// Path is PathEdge or PathDirect when doctor measured the lab's edge tier (--edge); ""
	// otherwise.
	Path        Path    `json:"path,omitempty"`
	File        string  `json:"file"`
	OfferedRPS  float64 `json:"offered_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	LatencyMS   Summary `json:"latency_ms"`
	Valid       bool    `json:"valid"`
	// InvalidReasons say why the load generator judged the measurement invalid (its verdict's
	// reasons); empty when Valid.
	InvalidReasons []string `json:"invalid_reasons,omitempty"`
}

// InvalidMeasurement names a measurement whose verdict is invalid, and why.
type InvalidMeasurement struct {
	Endpoint  string    `json:"endpoint"`
	Condition Condition `json:"condition"`
	// Path is the measurement's Path; "" without --edge.
	Path    Path     `json:"path,omitempty"`
	File    string   `json:"file"`
	Reasons []string `json:"reasons"`
}

// Invalid returns why m is invalid, as one line: its reasons, or the fallback when it has none.
func (m Measurement) Invalid() string {
	if len(m.InvalidReasons) == 0 {
		return "the load generator, not the target, was the limit"
	}
	return strings.Join(m.InvalidReasons, "; ")
}

// DoctorEndpoint is one endpoint's capacity: its sweep, when one ran, and the rate of the
// steady run that collected its traces and profiles.
type DoctorEndpoint struct {
	Endpoint string `json:"endpoint"`
	// Sweep is the endpoint's capacity sweep; nil with a fixed --rate.
	Sweep *Sweep `json:"sweep,omitempty"`
	// SteadyRPS is the rate of the steady run: the fixed rate, or the sweep's recommended rate
	// divided by the number of endpoints, which the steady run sends at once.
	SteadyRPS float64 `json:"steady_rps"`
	// SteadyFile is the steady run's full load result.
	SteadyFile string `json:"steady_file,omitempty"`
}

// EndpointBreakdown is where one endpoint's request time goes: the mean self time per request of
// each operation (span name), largest first.
type EndpointBreakdown struct {
	Endpoint string `json:"endpoint"`
	Traces   int    `json:"traces"`
	// TotalMS is the mean root span duration.
	TotalMS float64 `json:"total_ms"`
	Parts   []Part  `json:"parts"`
}

// Part is one operation's share of an endpoint's time.
type Part struct {
	Name   string  `json:"name"`
	SelfMS float64 `json:"self_ms"`
}

// TraceView is one trace laid out for a waterfall: spans in start order with offsets from the
// trace's start, the critical path marked.
type TraceView struct {
	TraceID    string     `json:"trace_id"`
	Endpoint   string     `json:"endpoint"`
	DurationMS float64    `json:"duration_ms"`
	Spans      []SpanView `json:"spans"`
}

// SpanView is one span of a TraceView.
type SpanView struct {
	SpanID   string  `json:"span_id"`
	ParentID string  `json:"parent_id,omitempty"`
	Name     string  `json:"name"`
	Depth    int     `json:"depth"`
	StartMS  float64 `json:"start_ms"`
	DurMS    float64 `json:"duration_ms"`
	// Critical is true on the critical path: the chain of spans that the request waited for.
	Critical bool `json:"critical"`
}

// Profile is one flame graph of the steady run.
type Profile struct {
	// Kind is "cpu" (on-CPU samples) or "wall" (fgprof: on and off CPU).
	Kind string `json:"kind"`
	// File is the flame graph SVG, relative to report.json.
	File    string  `json:"file"`
	Seconds float64 `json:"seconds"`
}

// Phase is one phase of a doctor run and its wall time.
type Phase struct {
	Name      string  `json:"name"`
	DurationS float64 `json:"duration_s"`
}
