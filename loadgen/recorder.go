package loadgen

import (
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/result"
)

// sample is one request's timeline, in time since the start of the run.
type sample struct {
	due    time.Duration // intended send time
	pickup time.Duration // when a connection was free to take it
	sent   time.Duration // when it was written
	done   time.Duration // when the answer (or error) was complete
	status int
	bytes  int64  // of the answer's body
	kind   string // error kind; "" for success
	trace  [16]byte
	target int // index in Config.Targets
}

// exemplarBucketsMS are the upper bounds of the latency buckets that each keep one exemplar.
var exemplarBucketsMS = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 3600000}

// recorder accumulates samples into histograms, counters, the current timeline second and
// exemplars. Its memory is fixed: a handful of histograms and a few dozen exemplars. It is safe
// for concurrent use; a record holds its lock for well under a microsecond.
type recorder struct {
	warmup time.Duration

	mu                             sync.Mutex
	lat, svc, lag, dispatch, queue *hist.Histogram
	interval                       *hist.Histogram
	intervalReqs, intervalErrs     int64
	requests, errors, queued       int64
	late                           int64 // dispatched more than maxDispatchLagP99 late
	kinds                          map[string]int64
	slowest                        []result.Exemplar // min-heap by latency, at most SlowestExemplars
	buckets                        []result.Exemplar // one per exemplarBucketsMS entry; empty TraceID = none yet
	timeline                       []result.Second
	// groups are the per-target parts of a mixed run, groupOf maps a target index to its part;
	// both empty for a run of one part.
	groups  []targetAcc
	groupOf []int
	// samples keeps each sample for Config.Samples, up to samplesBatch until the writer takes
	// them; dropped counts those that found it full. nil without Config.Samples.
	samples []sampleRec
	dropped int64
}

// targetAcc accumulates one per-target part.
type targetAcc struct {
	name             string
	lat              *hist.Histogram
	requests, errors int64
	kinds            map[string]int64
}

// newRecorder makes the recorder of a run of targets, with a part per name of targetGroups.
func newRecorder(warmup time.Duration, targets []Target) *recorder {
	r := &recorder{
		warmup: warmup,
		lat:    hist.New(), svc: hist.New(), lag: hist.New(), dispatch: hist.New(), queue: hist.New(),
		interval: hist.New(),
		kinds:    map[string]int64{},
		buckets:  make([]result.Exemplar, len(exemplarBucketsMS)),
	}
	names, groupOf := targetGroups(targets)
	r.groupOf = groupOf
	for _, n := range names {
		r.groups = append(r.groups, targetAcc{name: n, lat: hist.New(), kinds: map[string]int64{}})
	}
	return r
}

// record counts a sample, unless it was due during warm-up.
func (r *recorder) record(s *sample) {
	if s.due < r.warmup {
		return
	}
	// Latency runs from the due time, so waiting for a busy connection counts (no coordinated
	// omission), but not the generator's own dispatch lag — the timer slack or scheduling delay
	// between the moment a free connection could send and the send. That lag is the generator's
	// fault, not the target's: it is recorded on its own and the verdict bounds it.
	ready := max(s.due, s.pickup)
	dispatch := s.sent - ready
	latency := s.done - s.due - dispatch
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat.Record(latency)
	r.svc.Record(s.done - s.sent)
	r.lag.Record(s.sent - s.due)
	r.dispatch.Record(dispatch)
	if dispatch > maxDispatchLagP99 {
		r.late++
	}
	if s.pickup > s.due {
		r.queued++
		r.queue.Record(s.pickup - s.due)
	}
	r.interval.Record(latency)
	r.requests++
	r.intervalReqs++
	if s.kind != "" {
		r.errors++
		r.intervalErrs++
		r.kinds[s.kind]++
	}
	if r.groups != nil {
		g := &r.groups[r.groupOf[s.target]]
		g.lat.Record(latency)
		g.requests++
		if s.kind != "" {
			g.errors++
			g.kinds[s.kind]++
		}
	}
	r.exemplar(s, latency)
	if r.samples != nil {
		if len(r.samples) == cap(r.samples) {
			r.dropped++
		} else {
			r.samples = append(r.samples, sampleRec{due: s.due, sent: s.sent, latency: latency, service: s.done - s.sent,
				status: s.status, bytes: s.bytes, kind: s.kind, trace: s.trace, target: s.target})
		}
	}
}

// keepSamples makes the recorder keep samples for a samplesWriter.
func (r *recorder) keepSamples() { r.samples = make([]sampleRec, 0, samplesBatch) }

// takeSamples returns the samples kept so far and keeps the next ones in empty, a batch of
// samplesBatch capacity.
func (r *recorder) takeSamples(empty []sampleRec) []sampleRec {
	r.mu.Lock()
	defer r.mu.Unlock()
	batch := r.samples
	r.samples = empty
	return batch
}

// droppedSamples is how many samples found the batch full.
func (r *recorder) droppedSamples() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// exemplar keeps s if it is among the slowest or the first in its latency bucket.
func (r *recorder) exemplar(s *sample, latency time.Duration) {
	lms := float64(latency) / float64(time.Millisecond)
	b := sort.SearchFloat64s(exemplarBucketsMS, lms)
	b = min(b, len(exemplarBucketsMS)-1)
	keepSlow := len(r.slowest) < result.SlowestExemplars || lms > r.slowest[0].LatencyMS
	if !keepSlow && r.buckets[b].TraceID != "" {
		return
	}
	e := result.Exemplar{
		TraceID: hex.EncodeToString(s.trace[:]), LatencyMS: lms, Status: s.status,
		AtS: (s.due - r.warmup).Seconds(),
	}
	if r.buckets[b].TraceID == "" {
		be := e
		be.Why, be.BucketMS = "bucket", exemplarBucketsMS[b]
		r.buckets[b] = be
	}
	if keepSlow {
		e.Why = "slowest"
		if len(r.slowest) == result.SlowestExemplars {
			r.slowest[0] = e
			heapDown(r.slowest)
		} else {
			r.slowest = append(r.slowest, e)
			heapUp(r.slowest)
		}
	}
}

// heapUp and heapDown keep a min-heap of exemplars by latency, so the fastest of the slowest is
// at index 0 and a new sample is compared with it in O(1).
func heapUp(h []result.Exemplar) {
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].LatencyMS <= h[i].LatencyMS {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func heapDown(h []result.Exemplar) {
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(h) && h[l].LatencyMS < h[m].LatencyMS {
			m = l
		}
		if l+1 < len(h) && h[l+1].LatencyMS < h[m].LatencyMS {
			m = l + 1
		}
		if m == i {
			return
		}
		h[m], h[i] = h[i], h[m]
		i = m
	}
}

// cut closes timeline second t (counted from the end of warm-up), which lasted length, and
// returns it along with the run's totals so far.
func (r *recorder) cut(t int, length time.Duration, offered float64) (s result.Second, requests, errors int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s = result.Second{
		T: t, OfferedRPS: offered, Requests: r.intervalReqs, Errors: r.intervalErrs,
		AchievedRPS: float64(r.intervalReqs) / length.Seconds(),
	}
	if r.interval.Count() > 0 {
		sum := result.Summarize(r.interval)
		s.P50, s.P99, s.Max = sum.P50, sum.P99, sum.Max
		if enc, err := r.interval.Encode(); err == nil {
			s.Latency = enc
		}
	}
	r.interval.Reset()
	r.intervalReqs, r.intervalErrs = 0, 0
	r.timeline = append(r.timeline, s)
	return s, r.requests, r.errors
}

// unsent counts n requests that were due during the run but never sent.
func (r *recorder) unsent(n int64) {
	if n == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests += n
	r.errors += n
	r.kinds["unsent"] += n
}

// fill writes the recorded statistics into l.
func (r *recorder) fill(l *result.Load) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	l.Requests, l.Errors = r.requests, r.errors
	l.ErrorsByKind = map[string]int64{}
	for k, v := range r.kinds {
		l.ErrorsByKind[k] = v
	}
	l.LatencyMS, l.ServiceMS, l.SendLagMS = result.Summarize(r.lat), result.Summarize(r.svc), result.Summarize(r.lag)
	l.Generator.DispatchLagMS = result.Summarize(r.dispatch)
	l.Generator.QueueWaitMS = result.Summarize(r.queue)
	l.Generator.LateDispatches = r.late
	if sent := r.lat.Count(); sent > 0 {
		l.Generator.QueuedShare = float64(r.queued) / float64(sent)
	}
	for _, p := range []struct {
		dst *string
		h   *hist.Histogram
	}{{&l.Histograms.Latency, r.lat}, {&l.Histograms.Service, r.svc}, {&l.Histograms.SendLag, r.lag}} {
		enc, err := p.h.Encode()
		if err != nil {
			return fmt.Errorf("encode histograms: %w", err)
		}
		*p.dst = enc
	}
	var ex []result.Exemplar
	ex = append(ex, r.slowest...)
	for _, e := range r.buckets {
		if e.TraceID != "" {
			ex = append(ex, e)
		}
	}
	l.Exemplars = result.KeepExemplars(ex)
	l.Timeline = append([]result.Second(nil), r.timeline...)
	for _, g := range r.groups {
		t := result.TargetStats{Name: g.name, Requests: g.requests, Errors: g.errors, LatencyMS: result.Summarize(g.lat)}
		if len(g.kinds) > 0 {
			t.ErrorsByKind = maps.Clone(g.kinds)
		}
		enc, err := g.lat.Encode()
		if err != nil {
			return fmt.Errorf("encode histograms: %w", err)
		}
		t.Latency = enc
		l.PerTarget = append(l.PerTarget, t)
	}
	return nil
}
