package diagnose

import (
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/result"
)

// Kinds returns the finding kinds diagnose can report, sorted.
func Kinds() []result.Kind {
	return []result.Kind{result.KindColdStart, result.KindConsecutiveDB, result.KindConsecutiveHTTP, result.KindEdgeCacheable, result.KindEdgeRejectable,
		result.KindLargePayload, result.KindMissingDeadline, result.KindNPlusOneDB, result.KindNPlusOneHTTP, result.KindNetworkHop,
		result.KindPoolWait, result.KindRetryStorm, result.KindSerialFanout, result.KindSlowQuery, result.KindSyncRemoteCall, result.KindTailLatency}
}

// Config sets the detectors' thresholds. The zero value uses the defaults documented per field
// (the …Default constants), which follow Sentry's performance-issue defaults where Sentry has
// the detector.
type Config struct {
	// NPlusOneMinCount is how many times the same normalized statement must run under one parent
	// to be an N+1. Default 5.
	NPlusOneMinCount int `json:"n_plus_one_min_count"`
	// NPlusOneMinTotal is the least total time of the repeats (their union when concurrent).
	// Default 50ms.
	NPlusOneMinTotal time.Duration `json:"n_plus_one_min_total"`
	// NPlusOneRoundTrip is the round trip per query that the what-if of an N+1 below
	// NPlusOneMinTotal assumes: such repeats are reported with low severity and the time they
	// would take at this round trip, as across a network to a database in the same region.
	// Default 1ms.
	NPlusOneRoundTrip time.Duration `json:"n_plus_one_round_trip"`
	// NPlusOneHTTPMinCount is how many calls to the same parameterized URL under one parent are an
	// N+1 of HTTP calls. Default 5.
	NPlusOneHTTPMinCount int `json:"n_plus_one_http_min_count"`
	// NPlusOneHTTPMinTotal is the least union of those calls. Default 50ms.
	NPlusOneHTTPMinTotal time.Duration `json:"n_plus_one_http_min_total"`
	// SlowQueryMin is the duration from which one database span is a slow_query. Default 500ms.
	SlowQueryMin time.Duration `json:"slow_query_min"`
	// ConsecutiveDBMinSaved is the least time running the independent queries of a sequence in
	// parallel must save. Default 100ms. As in Sentry, a sequence is two or more SELECTs under one
	// parent, one after the other with nothing else between; the ones after the first without a
	// WHERE clause and without literals or parameters are independent, each must exceed
	// ConsecutiveDBMinSpan, and the saving must be at least 10 % of the sequence's time.
	ConsecutiveDBMinSaved time.Duration `json:"consecutive_db_min_saved"`
	// ConsecutiveDBMinSpan is the least duration of each independent query. Default 30ms.
	ConsecutiveDBMinSpan time.Duration `json:"consecutive_db_min_span"`
	// ConsecutiveHTTPMinCount is the least number of sequential HTTP calls. Default 3.
	ConsecutiveHTTPMinCount int `json:"consecutive_http_min_count"`
	// ConsecutiveHTTPMinSpan is the least duration of each call. Default 500ms.
	ConsecutiveHTTPMinSpan time.Duration `json:"consecutive_http_min_span"`
	// ConsecutiveHTTPMinSaved is the least saving (sum − longest) of running them in parallel.
	// Default 2s.
	ConsecutiveHTTPMinSaved time.Duration `json:"consecutive_http_min_saved"`
	// ConsecutiveHTTPMaxGap is the longest pause between two calls of one sequence. Default 500ms.
	ConsecutiveHTTPMaxGap time.Duration `json:"consecutive_http_max_gap"`
	// SyncRemoteMinShare is the least mean share of the critical path a call to a non-critical
	// dependency (logging, email, analytics, notifications) must take to be a sync_remote_call.
	// Default 0.1.
	SyncRemoteMinShare float64 `json:"sync_remote_min_share"`
	// SyncRemoteMin is the least mean time such a call must take on the critical path. Default 5ms.
	SyncRemoteMin time.Duration `json:"sync_remote_min"`
	// PoolWaitMin is the least time one request waits for pooled connections to count. Default 10ms.
	PoolWaitMin time.Duration `json:"pool_wait_min"`
	// LargePayloadBytes is the body size from which a response or message is a large_payload.
	// Default 300000 (Sentry's).
	LargePayloadBytes int64 `json:"large_payload_bytes"`
	// TailMinExtra is the least extra time per request an operation must take in an endpoint's
	// slowest requests over its median ones to be its tail_latency (and at least a tenth of the
	// median latency), and over its own P50 in one of those requests for the finding to explain
	// that request. Default 10ms.
	TailMinExtra time.Duration `json:"tail_min_extra"`
	// TailMinShareOfGap is the least fraction of the tail's extra latency over the median that
	// the operation's extra time must explain. Default 0.25.
	TailMinShareOfGap float64 `json:"tail_min_share_of_gap"`
	// MaxEvidence is how many trace ids a finding lists. Default 5.
	MaxEvidence int `json:"max_evidence"`
	// PreferTraceIDs are trace ids listed first as evidence when they show the finding (the load
	// run's exemplars, slowest first).
	PreferTraceIDs []string `json:"-"`
	// TailTraceIDs are the slowest requests' trace ids (the load run's "slowest" exemplars). When
	// none of an endpoint's traces is among them, its slowest 1 % are its tail.
	TailTraceIDs []string `json:"-"`

	// The prices of the cold_start remedies. Defaults: AWS Lambda's public x86 prices in
	// us-east-1 as of 2026 (see /work/shared/reference/tier-anchors.md); set your own.

	// LambdaGBSecondUSD is the on-demand price of one GB-second of execution. Default 0.0000166667.
	LambdaGBSecondUSD float64 `json:"lambda_gb_second_usd"`
	// LambdaRequestUSD is the price of one invocation. Default 0.0000002 ($0.20 per million).
	LambdaRequestUSD float64 `json:"lambda_request_usd"`
	// ProvisionedGBSecondUSD is the price of one GB-second of provisioned concurrency enabled.
	// Default 0.0000041667.
	ProvisionedGBSecondUSD float64 `json:"provisioned_gb_second_usd"`
	// ProvisionedExecGBSecondUSD is the price of one GB-second executed on provisioned
	// concurrency (instead of LambdaGBSecondUSD). Default 0.0000097222.
	ProvisionedExecGBSecondUSD float64 `json:"provisioned_exec_gb_second_usd"`
	// FunctionMemoryMB is a function's memory when its traces lack faas.max_memory. Default 128
	// (Lambda's default).
	FunctionMemoryMB int `json:"function_memory_mb"`
	// KeepWarmInterval is how often a keep-warm pinger calls each instance it keeps warm (under
	// the platform's idle reclaim time: Lambda's is seldom under 7 minutes). Default 5m.
	KeepWarmInterval time.Duration `json:"keep_warm_interval"`

	// The bounds of a [Stream]'s memory, per endpoint: up to them its results are those of the
	// whole-slice analysis, past them some are estimates (see the package documentation). They
	// bound memory, not what is looked for, so the result's config does not echo them; [Diagnose]
	// raises them to its input's size.

	// ExactValues is how many values of a distribution (an endpoint's latencies, an operation's
	// time per request, a hop's calls, ...) are kept for exact percentiles; past it, an HDR
	// histogram keeps them within 3 significant digits. Default 4096.
	ExactValues int `json:"-"`
	// TailExemplars is how many of an endpoint's slowest requests are kept for its tail: its
	// slowest 1 % while that is no more. Default 256.
	TailExemplars int `json:"-"`
	// SampleExemplars is the size of the uniform sample of an endpoint's requests whose middle
	// is its median requests: all of them while there are no more. Default 1024.
	SampleExemplars int `json:"-"`
}

// Defaults of Config, which zero fields stand for.
const (
	NPlusOneMinCountDefault           = 5
	NPlusOneMinTotalDefault           = 50 * time.Millisecond
	NPlusOneRoundTripDefault          = time.Millisecond
	NPlusOneHTTPMinCountDefault       = 5
	NPlusOneHTTPMinTotalDefault       = 50 * time.Millisecond
	SlowQueryMinDefault               = 500 * time.Millisecond
	ConsecutiveDBMinSavedDefault      = 100 * time.Millisecond
	ConsecutiveDBMinSpanDefault       = 30 * time.Millisecond
	ConsecutiveHTTPMinCountDefault    = 3
	ConsecutiveHTTPMinSpanDefault     = 500 * time.Millisecond
	ConsecutiveHTTPMinSavedDefault    = 2 * time.Second
	ConsecutiveHTTPMaxGapDefault      = 500 * time.Millisecond
	SyncRemoteMinShareDefault         = 0.1
	SyncRemoteMinDefault              = 5 * time.Millisecond
	PoolWaitMinDefault                = 10 * time.Millisecond
	LargePayloadBytesDefault          = 300000
	TailMinExtraDefault               = 10 * time.Millisecond
	TailMinShareOfGapDefault          = 0.25
	MaxEvidenceDefault                = 5
	LambdaGBSecondUSDDefault          = 0.0000166667
	LambdaRequestUSDDefault           = 0.0000002
	ProvisionedGBSecondUSDDefault     = 0.0000041667
	ProvisionedExecGBSecondUSDDefault = 0.0000097222
	FunctionMemoryMBDefault           = 128
	KeepWarmIntervalDefault           = 5 * time.Minute
	ExactValuesDefault                = 4096
	TailExemplarsDefault              = 256
	SampleExemplarsDefault            = 1024
)

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt(&c.NPlusOneMinCount, NPlusOneMinCountDefault)
	def(&c.NPlusOneMinTotal, NPlusOneMinTotalDefault)
	def(&c.NPlusOneRoundTrip, NPlusOneRoundTripDefault)
	defInt(&c.NPlusOneHTTPMinCount, NPlusOneHTTPMinCountDefault)
	def(&c.NPlusOneHTTPMinTotal, NPlusOneHTTPMinTotalDefault)
	def(&c.SlowQueryMin, SlowQueryMinDefault)
	def(&c.ConsecutiveDBMinSaved, ConsecutiveDBMinSavedDefault)
	def(&c.ConsecutiveDBMinSpan, ConsecutiveDBMinSpanDefault)
	defInt(&c.ConsecutiveHTTPMinCount, ConsecutiveHTTPMinCountDefault)
	def(&c.ConsecutiveHTTPMinSpan, ConsecutiveHTTPMinSpanDefault)
	def(&c.ConsecutiveHTTPMinSaved, ConsecutiveHTTPMinSavedDefault)
	def(&c.ConsecutiveHTTPMaxGap, ConsecutiveHTTPMaxGapDefault)
	if c.SyncRemoteMinShare <= 0 {
		c.SyncRemoteMinShare = SyncRemoteMinShareDefault
	}
	def(&c.SyncRemoteMin, SyncRemoteMinDefault)
	def(&c.PoolWaitMin, PoolWaitMinDefault)
	if c.LargePayloadBytes <= 0 {
		c.LargePayloadBytes = LargePayloadBytesDefault
	}
	def(&c.TailMinExtra, TailMinExtraDefault)
	if c.TailMinShareOfGap <= 0 {
		c.TailMinShareOfGap = TailMinShareOfGapDefault
	}
	defInt(&c.MaxEvidence, MaxEvidenceDefault)
	for _, p := range []struct {
		v *float64
		d float64
	}{{&c.LambdaGBSecondUSD, LambdaGBSecondUSDDefault}, {&c.LambdaRequestUSD, LambdaRequestUSDDefault},
		{&c.ProvisionedGBSecondUSD, ProvisionedGBSecondUSDDefault}, {&c.ProvisionedExecGBSecondUSD, ProvisionedExecGBSecondUSDDefault}} {
		if *p.v <= 0 {
			*p.v = p.d
		}
	}
	defInt(&c.FunctionMemoryMB, FunctionMemoryMBDefault)
	def(&c.KeepWarmInterval, KeepWarmIntervalDefault)
	defInt(&c.ExactValues, ExactValuesDefault)
	defInt(&c.TailExemplars, TailExemplarsDefault)
	defInt(&c.SampleExemplars, SampleExemplarsDefault)
	return c
}

// Validate reports every threshold out of range, each a *fielderr.Error naming its Config field
// and what is valid. Zero means the default everywhere. It fills nothing in: Diagnose does.
func (c Config) Validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{"NPlusOneMinTotal": c.NPlusOneMinTotal,
		"NPlusOneHTTPMinTotal": c.NPlusOneHTTPMinTotal, "SlowQueryMin": c.SlowQueryMin,
		"ConsecutiveDBMinSaved": c.ConsecutiveDBMinSaved, "ConsecutiveDBMinSpan": c.ConsecutiveDBMinSpan,
		"ConsecutiveHTTPMinSpan": c.ConsecutiveHTTPMinSpan, "ConsecutiveHTTPMinSaved": c.ConsecutiveHTTPMinSaved,
		"ConsecutiveHTTPMaxGap": c.ConsecutiveHTTPMaxGap, "SyncRemoteMin": c.SyncRemoteMin, "PoolWaitMin": c.PoolWaitMin,
		"NPlusOneRoundTrip": c.NPlusOneRoundTrip, "TailMinExtra": c.TailMinExtra, "KeepWarmInterval": c.KeepWarmInterval} {
		if d < 0 {
			errs = append(errs, fielderr.New(nil, name, "%v: want a duration ≥ 0 (0 = default)", d))
		}
	}
	for name, n := range map[string]int64{"NPlusOneMinCount": int64(c.NPlusOneMinCount),
		"NPlusOneHTTPMinCount": int64(c.NPlusOneHTTPMinCount), "ConsecutiveHTTPMinCount": int64(c.ConsecutiveHTTPMinCount),
		"LargePayloadBytes": c.LargePayloadBytes, "MaxEvidence": int64(c.MaxEvidence), "FunctionMemoryMB": int64(c.FunctionMemoryMB),
		"ExactValues": int64(c.ExactValues), "TailExemplars": int64(c.TailExemplars), "SampleExemplars": int64(c.SampleExemplars)} {
		if n < 0 {
			errs = append(errs, fielderr.New(nil, name, "%d: want a number ≥ 0 (0 = default)", n))
		}
	}
	for name, v := range map[string]float64{"SyncRemoteMinShare": c.SyncRemoteMinShare, "TailMinShareOfGap": c.TailMinShareOfGap} {
		if v < 0 || v > 1 || math.IsNaN(v) {
			errs = append(errs, fielderr.New(nil, name, "%v: want a fraction in [0, 1] (0 = default)", v))
		}
	}
	for name, v := range map[string]float64{"LambdaGBSecondUSD": c.LambdaGBSecondUSD, "LambdaRequestUSD": c.LambdaRequestUSD,
		"ProvisionedGBSecondUSD": c.ProvisionedGBSecondUSD, "ProvisionedExecGBSecondUSD": c.ProvisionedExecGBSecondUSD} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, fielderr.New(nil, name, "%v: want a price in USD ≥ 0 (0 = default)", v))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

var (
	reString = regexp.MustCompile(`'(?:[^']|'')*'`)
	reNumber = regexp.MustCompile(`\b-?\d+(?:\.\d+)?\b`)
	reInList = regexp.MustCompile(`(?i)\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)`)
	reSpace  = regexp.MustCompile(`\s+`)
	// reTuples finds a multi-row VALUES list, whose length varies with the batch.
	reTuples = regexp.MustCompile(`(\(\s*\?(?:\s*,\s*\?)*\s*\))(?:\s*,\s*\(\s*\?(?:\s*,\s*\?)*\s*\))+`)
	// reParam finds what makes a query depend on values: literals, booleans, placeholders.
	reParam = regexp.MustCompile(`'|\b(?i:true|false)\b|\b\d+\b|\?|\$\d|%s|:[a-zA-Z_]\w*`)
)

// Normalize replaces literals, numbers and IN-lists of a SQL statement by placeholders, so that
// repeats of one query with different arguments compare equal.
func Normalize(stmt string) string {
	s := reString.ReplaceAllString(stmt, "?")
	s = reNumber.ReplaceAllString(s, "?")
	s = strings.NewReplacer("$?", "?").Replace(s)
	s = reInList.ReplaceAllString(s, "IN (?)")
	s = reTuples.ReplaceAllString(s, "$1, ...")
	return strings.TrimSpace(reSpace.ReplaceAllString(s, " "))
}

// root returns the trace's root span: the longest one without a parent present in the trace.
func root(t *Trace) *Span {
	ids := make(map[string]bool, len(t.Spans))
	for _, s := range t.Spans {
		ids[s.SpanID] = true
	}
	var r *Span
	for _, s := range t.Spans {
		if s.ParentID == "" || !ids[s.ParentID] {
			if r == nil || s.Duration() > r.Duration() {
				r = s
			}
		}
	}
	return r
}

// Endpoint is the route of a trace: the root's http.route (with its method) or its name.
func Endpoint(t *Trace) string {
	r := root(t)
	if r == nil {
		return ""
	}
	return endpointOf(r)
}

func endpointOf(r *Span) string {
	if route := r.Attrs["http.route"]; route != "" {
		m := attr(r, keysHTTPMethod...)
		if m != "" && !strings.HasPrefix(route, m+" ") {
			return m + " " + route
		}
		return route
	}
	return r.Name
}

type interval struct{ s, e int64 }

// unionInPlace is the time covered by at least one of the intervals, which it sorts.
func unionInPlace(iv []interval) time.Duration {
	slices.SortFunc(iv, func(a, b interval) int { return cmp.Compare(a.s, b.s) })
	var total, curS, curE int64
	for i, x := range iv {
		if i == 0 || x.s > curE {
			total += curE - curS
			curS, curE = x.s, x.e
			continue
		}
		curE = max(curE, x.e)
	}
	return time.Duration(total + curE - curS)
}

func spansUnion(spans []*Span) time.Duration {
	iv := make([]interval, len(spans))
	for i, s := range spans {
		iv[i] = interval{s.Start.UnixNano(), max(s.End.UnixNano(), s.Start.UnixNano())}
	}
	return unionInPlace(iv)
}

// percentile is the nearest-rank q-quantile of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[nearestRank(q, len(sorted))]
}

// nearestRank is the index (0-based) of the nearest-rank q-quantile among n sorted values.
func nearestRank(q float64, n int) int {
	i := int(math.Ceil(q*float64(n))) - 1
	return min(max(i, 0), max(n-1, 0))
}

// Analyze is [Diagnose] over what [Read] returned: the findings also count the input it tolerated.
func Analyze(in *Input, cfg Config) *result.Findings {
	f := Diagnose(in.Traces, cfg)
	for k, v := range in.Tolerated {
		if f.Input.Tolerated == nil {
			f.Input.Tolerated = map[string]int{}
		}
		f.Input.Tolerated[k] += v
	}
	return f
}

// newDiagnoser returns a diagnoser for cfg, defaults filled in.
func newDiagnoser(cfg Config) *diagnoser {
	d := &diagnoser{cfg: cfg, norm: map[string]string{}, matcher: newMatcher(), accum: newAccum(), idx: map[string]int32{}, httpOps: map[[2]string]string{},
		opIDs: map[string]int32{},
		input: &result.TraceInput{Tolerated: map[string]int{}}, prefer: map[string]bool{}, inConsecutive: map[*node]bool{}, svcSelf: map[string]time.Duration{}}
	for _, id := range cfg.PreferTraceIDs {
		d.prefer[id] = true
	}
	return d
}

// Diagnose profiles each endpoint, runs the detectors over traces, compares the tail with the
// median, and returns findings ranked by share of P99 time. It is a pure function of its input:
// a [Stream] whose bounds are raised to the input's size, so that every figure is exact.
// Spans outside their trace's root (clock skew) are analyzed clamped to it and counted under
// [ReasonOutsideRoot]; a finding's estimated saving never exceeds its own time nor the P99.
func Diagnose(traces []*Trace, cfg Config) *result.Findings {
	// A distribution can hold more values than there are traces (a hop's calls): no bound.
	cfg.ExactValues = math.MaxInt
	cfg.TailExemplars = max(cfg.TailExemplars, len(traces))
	cfg.SampleExemplars = max(cfg.SampleExemplars, len(traces))
	s := NewStream(cfg)
	for _, t := range traces {
		s.Add(t)
	}
	return s.Findings()
}

func lowRank(f result.Finding) int {
	if f.Severity == result.SeverityLow {
		return 1
	}
	return 0
}

// echo is the configuration as JSON for the result, durations written as Go durations ("50ms").
func (c Config) echo() json.RawMessage {
	m := map[string]any{}
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		if d, ok := v.Field(i).Interface().(time.Duration); ok {
			m[tag] = d.String()
		} else {
			m[tag] = v.Field(i).Interface()
		}
	}
	b, _ := json.Marshal(m)
	return b
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// DefaultConfig returns the configuration the zero Config stands for, every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }
