package result

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/headroom/headroom/hist"
)

// LoadSchema identifies a load run result.
const LoadSchema = "headroom.load/v1"

// Model is how a load run's requests came about; in JSON, "open" or "closed".
type Model string

const (
	// ModelOpen: requests arrive on a schedule, whatever the answers.
	ModelOpen Model = "open"
	// ModelClosed: users each send, wait for the answer, think, and repeat.
	ModelClosed Model = "closed"
)

// Load is the result of one load run, or of several merged ones.
type Load struct {
	Schema string `json:"schema"`
	// Target is the URL driven (the first target's, for a targets file).
	Target string `json:"target"`
	// Model is ModelOpen (arrivals on a schedule) or ModelClosed (users that wait for each answer).
	Model     Model     `json:"model"`
	StartedAt time.Time `json:"started_at"`
	// Partial is true when the run was ended early (Ctrl-C, SIGTERM): the numbers cover what ran.
	Partial bool `json:"partial"`

	// OfferedRPS is the rate the arrival process asked for over the measured period; 0 in the
	// closed model, where nothing is offered independently of the answers.
	OfferedRPS  float64 `json:"offered_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	DurationS   float64 `json:"duration_s"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	// ErrorsByKind counts errors by kind: "status_503", "timeout", "refused", "reset", "tls",
	// "protocol", "body_too_large", "unsent" (due during the run but never sent because every
	// connection stayed busy until the end), "other".
	ErrorsByKind map[string]int64 `json:"errors_by_kind"`

	// LatencyMS is measured from the intended send time: the honest number, free of coordinated
	// omission — time spent waiting for a busy connection counts. Only the generator's own
	// dispatch lag (Generator.DispatchLagMS: timer slack with a connection free) is left out, as
	// it is not the target's doing. ServiceMS is measured from the actual send, the view
	// closed-loop tools report. SendLagMS is actual minus intended send, all causes together.
	LatencyMS  Summary    `json:"latency_ms"`
	ServiceMS  Summary    `json:"service_ms"`
	SendLagMS  Summary    `json:"send_lag_ms"`
	Histograms Histograms `json:"histograms"`

	Timeline  []Second   `json:"timeline"`
	Exemplars []Exemplar `json:"exemplars"`
	Generator Generator  `json:"generator"`
	Verdict   Verdict    `json:"verdict"`
	SLO       *SLO       `json:"slo,omitempty"`
	// Config echoes exactly what ran (the load generator's configuration).
	Config json.RawMessage `json:"config"`
	// MergedFrom counts the runs merged into this one; 0 or absent for a single run.
	MergedFrom int `json:"merged_from,omitempty"`
	// Targets lists the targets of runs merged against different ones (merge --force); absent
	// when every run drove Target.
	Targets []string `json:"targets,omitempty"`
	// PerTarget splits a mixed run (several targets, such as a targets file) by target, each
	// URL pattern with its ids collapsed (see TargetStats.Name), in the order of the targets;
	// absent when the run drove one.
	PerTarget []TargetStats `json:"per_target,omitempty"`
	// Shard says which part of a sharded load this run sent (load --shard I/N); absent for a
	// whole load and for a merged one.
	Shard *Shard `json:"shard,omitempty"`
	// StartAt is the wall-clock instant the run was asked to start at (load --start-at), and how
	// far from it the run started; absent when it started at once.
	StartAt *StartAt `json:"start_at,omitempty"`
	// StartSpreadMS is, for the merge of a sharded load, how far apart its shards started
	// (latest actual start minus earliest); absent otherwise.
	StartSpreadMS *float64 `json:"start_spread_ms,omitempty"`
}

// Shard identifies one of Count runs that together send one load, each from its own machine.
type Shard struct {
	// Index is the shard's number, from 0 to Count-1.
	Index int `json:"index"`
	Count int `json:"count"`
}

// StartAt is a run's requested start instant and how far from it the run actually started.
type StartAt struct {
	Requested time.Time `json:"requested"`
	// OffsetMS is the actual start minus Requested, in milliseconds: the lateness of the
	// machine's timer, or how long ago Requested had passed when the run was started.
	OffsetMS float64 `json:"offset_ms"`
}

// TargetStats is one target's part of a mixed run. Requests never sent (the "unsent" kind of
// errors) had no target yet and count only in the run's totals.
type TargetStats struct {
	// Name is the method and URL pattern, such as "GET /api/posts/{n}": path segments that are
	// numbers, UUIDs or long hexadecimal ids are collapsed to {n}, {uuid} and {hex}, the query
	// left out, and the scheme and host kept only when the run's targets differ in them. Merge
	// matches targets by Name.
	Name         string           `json:"name"`
	Requests     int64            `json:"requests"`
	Errors       int64            `json:"errors"`
	ErrorsByKind map[string]int64 `json:"errors_by_kind,omitempty"`
	// AchievedRPS is the target's answered requests per second of the measured period.
	AchievedRPS float64 `json:"achieved_rps"`
	// LatencyMS is measured from the intended send time, as Load.LatencyMS.
	LatencyMS Summary `json:"latency_ms"`
	// Latency is LatencyMS's histogram, HDR-encoded, so that merged runs' targets are exact.
	Latency string `json:"latency"`
}

// Summary is a latency distribution in milliseconds.
type Summary struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// Histograms holds the full distributions, HDR-encoded (see hist.Encode): merging them is exact.
type Histograms struct {
	Latency string `json:"latency"`
	Service string `json:"service"`
	SendLag string `json:"send_lag"`
}

// Second is one second of the timeline, by completion time, counted from the end of warm-up.
type Second struct {
	T           int     `json:"t_s"`
	OfferedRPS  float64 `json:"offered_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
	// Latency is this second's latency histogram, so merged timelines stay exact.
	Latency string `json:"latency,omitempty"`
}

// Exemplar ties a request to the backend trace that served it.
type Exemplar struct {
	TraceID   string  `json:"trace_id"`
	LatencyMS float64 `json:"latency_ms"`
	// Why is "slowest" (one of the slowest requests) or "bucket" (the first request seen in a
	// latency bucket, so every part of the distribution has a trace to look at).
	Why string `json:"why"`
	// BucketMS is the upper bound of the bucket, for "bucket" exemplars.
	BucketMS float64 `json:"bucket_ms,omitempty"`
	Status   int     `json:"status,omitempty"`
	// AtS is the intended send time, in seconds from the end of warm-up.
	AtS float64 `json:"at_s"`
}

// Generator is the load generator's self-check: was it, rather than the target, the limit?
type Generator struct {
	// CPUSeconds is the CPU time the generator process used (user + system) during the run.
	CPUSeconds float64 `json:"cpu_s"`
	// CPUUtilization is CPUSeconds over wall time times usable cores (0..1).
	CPUUtilization float64 `json:"cpu_utilization"`
	Cores          int     `json:"cores"`
	Connections    int     `json:"connections"`
	// IO is how the connections moved their bytes: io_uring or epoll (event loops), goroutines
	// (one per connection) or net/http (HTTP/2, TLS). Merged runs that differ list each, joined by "+".
	IO string `json:"io,omitempty"`
	// AchievedRatio is the share of the requests due in the measured period that were sent
	// (open model): the arrivals actually drawn, so Poisson's chance shortfalls do not count.
	AchievedRatio float64 `json:"achieved_ratio"`
	// DispatchLagMS is how late the generator sent a request that a free connection could have
	// sent on time: its own lateness (timers, CPU), excluding waits for a busy connection.
	DispatchLagMS Summary `json:"dispatch_lag_ms"`
	// SamplesWritten and SamplesDropped count the requests written to the samples output
	// (load --samples) and those it fell too far behind to take; absent without one.
	SamplesWritten int64 `json:"samples_written,omitempty"`
	SamplesDropped int64 `json:"samples_dropped,omitempty"`
	// LateDispatches counts the requests sent more than 10 ms late with a connection free; a
	// run is invalid for its dispatch lag only when there were at least a few (5).
	LateDispatches int64 `json:"late_dispatches"`
	// QueuedShare is the share of requests that waited for a free connection; QueueWaitMS is how
	// long. That wait is charged to latency, as a real client with this many connections would feel it.
	QueuedShare float64 `json:"queued_share"`
	QueueWaitMS Summary `json:"queue_wait_ms"`
}

// Verdict says whether the run measured the target rather than the generator.
type Verdict struct {
	Valid   bool     `json:"valid"`
	Reasons []string `json:"reasons"`
	// Notes are observations that do not invalidate the run.
	Notes []string `json:"notes,omitempty"`
}

// SLO is the outcome of a service level objective checked against the run.
type SLO struct {
	Expr string `json:"expr"`
	// Pass is true when every check passed and the run can be judged at all (Reason empty).
	Pass bool `json:"pass"`
	// Reason says why the SLO fails whatever its checks say: the run is invalid, or no request
	// succeeded. Empty otherwise.
	Reason string  `json:"reason,omitempty"`
	Checks []Check `json:"checks"`
}

// Check is one clause of an SLO, such as p99<200ms.
type Check struct {
	Expr      string  `json:"expr"`
	Metric    string  `json:"metric"`
	Op        string  `json:"op"`
	Threshold float64 `json:"threshold"`
	Actual    float64 `json:"actual"`
	// Unit is the unit of Threshold and Actual: "ms", "%" or "rps".
	Unit string `json:"unit"`
	Pass bool   `json:"pass"`
	// Implicit marks the error budget added to an SLO that has no errors clause.
	Implicit bool `json:"implicit,omitempty"`
}

// Summarize reads a Summary off a histogram.
func Summarize(h *hist.Histogram) Summary {
	return Summary{
		Min: ms(h.Min()), Mean: ms(h.Mean()),
		P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)), P95: ms(h.Quantile(0.95)),
		P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)), Max: ms(h.Max()),
	}
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ErrSchema is returned (wrapped) when a file is not a result this version reads.
var ErrSchema = errors.New("unsupported result schema")

// ReadLoad decodes a load result and checks its schema and histograms.
func ReadLoad(r io.Reader) (*Load, error) {
	var l Load
	dec := json.NewDecoder(r)
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("decode load result: %w", err)
	}
	if l.Schema != LoadSchema {
		return nil, fmt.Errorf("%w %q: want %q", ErrSchema, l.Schema, LoadSchema)
	}
	for _, h := range []struct{ name, enc string }{
		{"latency", l.Histograms.Latency}, {"service", l.Histograms.Service}, {"send_lag", l.Histograms.SendLag},
	} {
		if _, err := hist.Decode(h.enc); err != nil {
			return nil, fmt.Errorf("histograms.%s: %w", h.name, err)
		}
	}
	return &l, nil
}

// Write encodes l as indented JSON.
func (l *Load) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}
