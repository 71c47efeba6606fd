package collect

import "sync/atomic"

// Reasons counted in Stats. They are stable names, printed by the CLI.
const (
	// Whole requests refused (Stats.RequestsRefused).
	ReasonMalformed      = "malformed"        // body is not valid OTLP protobuf/JSON, or bad gzip (400 / INVALID_ARGUMENT)
	ReasonContentType    = "bad_content_type" // neither application/x-protobuf nor application/json (415)
	ReasonEncoding       = "bad_encoding"     // a Content-Encoding other than gzip or identity (415)
	ReasonTooLarge       = "too_large"        // over MaxRequestBytes after decompression (413 / RESOURCE_EXHAUSTED)
	ReasonOverloaded     = "overloaded"       // the ingest queue was full (429 / RESOURCE_EXHAUSTED)
	ReasonSlowUpload     = "slow_upload"      // the body did not arrive within BodyTimeout (408)
	ReasonShuttingDown   = "shutting_down"    // the receiver was stopping (503 / UNAVAILABLE)
	ReasonBadMethod      = "bad_method"       // not a POST (405)
	ReasonInvalidTraceID = "invalid_trace_id" // span refused: all-zero trace id (partial success)
	ReasonInvalidSpanID  = "invalid_span_id"  // span refused: all-zero span id (partial success)

	// Accepted spans dropped during assembly (Stats.SpansDropped).
	ReasonDuplicateSpan = "duplicate_span_id" // a span id already seen in the same trace
	ReasonTraceTooLarge = "trace_span_limit"  // the trace already holds MaxSpansPerTrace spans

	// Kept, with a note (Stats.Tolerated).
	ReasonMissingParent  = "missing_parent"      // parent span id not in the written trace
	ReasonEndBeforeStart = "end_before_start"    // clock skew: end time before start time, kept as sent
	ReasonTruncated      = "attribute_truncated" // an attribute value cut to MaxAttrValueLen
	ReasonLateSpan       = "late_span"           // arrived after its trace was written; written as a fragment

	// How written traces ended (Stats.Traces).
	EndComplete = "complete" // CompleteAfter passed since its root (or entry) span arrived
	EndOrphan   = "orphan"   // no root or entry span arrived, and none of its spans for MaxIdle
	EndLate     = "late"     // a fragment of late spans of a trace already written
	EndEvicted  = "evicted"  // written early to stay within MaxOpenTraces / MaxBufferedSpans
	EndShutdown = "shutdown" // written early because the receiver shut down
)

// counter indexes the receiver's atomic counters.
type counter int

const (
	cRequests counter = iota
	cSpansAccepted
	cMalformed
	cContentType
	cEncoding
	cTooLarge
	cOverloaded
	cShuttingDown
	cBadMethod
	cSlowUpload
	cInvalidTraceID
	cInvalidSpanID
	cDuplicateSpan
	cTraceTooLarge
	cMissingParent
	cEndBeforeStart
	cTruncated
	cLateSpan
	cComplete
	cOrphan
	cLate
	cEvicted
	cShutdown
	cMetricsRequests
	cLogsRequests
	cForwarded
	cForwardDropped
	cForwardFailed
	nCounters
)

// group says which Stats map a counter belongs to.
type group int

const (
	gNone group = iota
	gRequests
	gSpansRejected
	gSpansDropped
	gTolerated
	gTraces
)

var counterInfo = [nCounters]struct {
	name  string
	group group
}{
	cRequests:        {"requests", gNone},
	cSpansAccepted:   {"spans_accepted", gNone},
	cMalformed:       {ReasonMalformed, gRequests},
	cContentType:     {ReasonContentType, gRequests},
	cEncoding:        {ReasonEncoding, gRequests},
	cTooLarge:        {ReasonTooLarge, gRequests},
	cOverloaded:      {ReasonOverloaded, gRequests},
	cShuttingDown:    {ReasonShuttingDown, gRequests},
	cBadMethod:       {ReasonBadMethod, gRequests},
	cSlowUpload:      {ReasonSlowUpload, gRequests},
	cInvalidTraceID:  {ReasonInvalidTraceID, gSpansRejected},
	cInvalidSpanID:   {ReasonInvalidSpanID, gSpansRejected},
	cDuplicateSpan:   {ReasonDuplicateSpan, gSpansDropped},
	cTraceTooLarge:   {ReasonTraceTooLarge, gSpansDropped},
	cMissingParent:   {ReasonMissingParent, gTolerated},
	cEndBeforeStart:  {ReasonEndBeforeStart, gTolerated},
	cTruncated:       {ReasonTruncated, gTolerated},
	cLateSpan:        {ReasonLateSpan, gTolerated},
	cComplete:        {EndComplete, gTraces},
	cOrphan:          {EndOrphan, gTraces},
	cLate:            {EndLate, gTraces},
	cEvicted:         {EndEvicted, gTraces},
	cShutdown:        {EndShutdown, gTraces},
	cMetricsRequests: {"metrics_requests", gNone},
	cLogsRequests:    {"logs_requests", gNone},
	cForwarded:       {"forwarded", gNone},
	cForwardDropped:  {"forward_dropped", gNone},
	cForwardFailed:   {"forward_failed", gNone},
}

type counters [nCounters]atomic.Int64

func (c *counters) add(k counter, n int64) {
	if n != 0 {
		c[k].Add(n)
	}
}

// Stats is a snapshot of a Receiver's counters. Maps hold only non-zero counts, keyed by the
// Reason… and End… constants.
type Stats struct {
	Requests        int64            // export requests received over HTTP and gRPC
	SpansAccepted   int64            // spans queued for assembly
	RequestsRefused map[string]int64 // whole requests refused, by reason
	SpansRejected   map[string]int64 // spans refused in a partial success response, by reason
	SpansDropped    map[string]int64 // accepted spans dropped during assembly, by reason
	Tolerated       map[string]int64 // spans or values kept with a note, by reason
	Traces          map[string]int64 // traces written, by how they ended
	OpenTraces      int64            // traces being assembled now
	BufferedSpans   int64            // spans held in open traces now
	BufferedBytes   int64            // those spans' size encoded as OTLP protobuf (Config.MaxBufferedBytes)
	// MetricsRequests and LogsRequests are the OTLP metrics and logs export requests answered
	// (with success: see Receiver); they are forwarded with Config.Forward, else discarded.
	MetricsRequests, LogsRequests int64
	// Forwarded, ForwardDropped and ForwardFailed count the requests of every signal sent on to
	// Config.Forward, dropped because its queue was full, and given up on (refused, or no
	// answer after the retries OTLP allows).
	Forwarded, ForwardDropped, ForwardFailed int64
}

// TracesWritten is the number of traces delivered, however they ended.
func (s Stats) TracesWritten() int64 { return sum(s.Traces) }

// Refused is the number of spans refused or dropped plus requests refused whole, the
// "rejected" figure of progress lines.
func (s Stats) Refused() (requests, spans int64) {
	return sum(s.RequestsRefused), sum(s.SpansRejected) + sum(s.SpansDropped)
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func (c *counters) snapshot() Stats {
	s := Stats{RequestsRefused: map[string]int64{}, SpansRejected: map[string]int64{}, SpansDropped: map[string]int64{},
		Tolerated: map[string]int64{}, Traces: map[string]int64{}}
	for k := range nCounters {
		v := c[k].Load()
		info := counterInfo[k]
		var m map[string]int64
		switch info.group {
		case gNone:
			*s.scalar(k) = v
			continue
		case gRequests:
			m = s.RequestsRefused
		case gSpansRejected:
			m = s.SpansRejected
		case gSpansDropped:
			m = s.SpansDropped
		case gTolerated:
			m = s.Tolerated
		case gTraces:
			m = s.Traces
		}
		if v != 0 {
			m[info.name] = v
		}
	}
	return s
}

// scalar is the field of s a counter of group gNone is.
func (s *Stats) scalar(k counter) *int64 {
	switch k {
	case cRequests:
		return &s.Requests
	case cSpansAccepted:
		return &s.SpansAccepted
	case cMetricsRequests:
		return &s.MetricsRequests
	case cLogsRequests:
		return &s.LogsRequests
	case cForwarded:
		return &s.Forwarded
	case cForwardDropped:
		return &s.ForwardDropped
	case cForwardFailed:
		return &s.ForwardFailed
	}
	return new(int64) // a counter of another group: not a field
}
