package diagnose

import (
	"cmp"
	"container/heap"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/result"
)

// Stream diagnoses traces one at a time: [Stream.Add] analyses a trace and reduces it into
// per-endpoint aggregates and bounded sets of request summaries, so that the trace's spans can
// be dropped; [Stream.Findings] ranks the findings. Its memory is bounded by the number of
// endpoints, operations and finding keys (see Config.ExactValues, Config.TailExemplars and
// Config.SampleExemplars and the package documentation for what is exact and what estimated),
// not by the number of spans. A Stream is not safe for concurrent use.
type Stream struct {
	d *diagnoser
	// acc[1] holds the traces a request or a job started, acc[0] the others: when there are
	// any of the former, the latter are background work, counted and not profiled.
	acc  [2]*accum
	seq  int
	rng  *rand.Rand
	tail map[string]bool // Config.TailTraceIDs
	// read counts the input tolerated by ReadTraces's reading, for the findings.
	read map[string]int
	out  *result.Findings // once Findings ended the stream
	// Scratch reused from trace to trace.
	path map[opRef]time.Duration
	comp map[opKey]time.Duration
}

// accum is what the stream keeps of one class of traces (see Stream.acc).
type accum struct {
	traces    int
	endpoints map[string]*endpoint
	hits      map[hitKey]*hitAggs
	// funcs is each serverless function's invocations, by name.
	funcs map[string][]funcInv
	// fetches are the candidates for edge_cacheable, compared across traces at the end;
	// requests is each endpoint's request count, set at the end.
	fetches  []edgeFetch
	requests map[string]int
	// originFetches are the operations of edges' origin fetches, for tail_latency's remedy.
	originFetches map[opKey]bool
}

func newAccum() *accum {
	return &accum{endpoints: map[string]*endpoint{}, hits: map[hitKey]*hitAggs{}, requests: map[string]int{}, originFetches: map[opKey]bool{}}
}

// summary is what the tail-vs-median comparison and tail_latency need of one request: its
// self time by category and operation, and its critical path by operation (see pathByOp).
type summary struct {
	seq     int // arrival order: the identity of a request (trace ids may repeat)
	id      string
	latency time.Duration
	comp    []opTime
	path    []opTime
}

type opTime struct {
	k opKey
	d time.Duration
}

func get(ts []opTime, k opKey) time.Duration {
	for _, t := range ts {
		if t.k == k {
			return t.d
		}
	}
	return 0
}

// bySpeed orders summaries fastest first, as the whole-slice analysis sorted requests.
func bySpeed(a, b *summary) int {
	return cmp.Or(cmp.Compare(a.latency, b.latency), strings.Compare(a.id, b.id), cmp.Compare(a.seq, b.seq))
}

// slowest is a min-heap of the slowest requests kept.
type slowest []*summary

func (h slowest) Len() int           { return len(h) }
func (h slowest) Less(i, j int) bool { return bySpeed(h[i], h[j]) < 0 }
func (h slowest) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slowest) Push(x any)        { *h = append(*h, x.(*summary)) }
func (h *slowest) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// endpoint is what the stream keeps of one endpoint's requests.
type endpoint struct {
	n       int
	lat     *dist
	self    [numCategories]float64
	path    map[opRef]float64 // time on the critical path by the node's own operation (the profile's)
	opTimes map[opRef]*dist   // each pathByOp operation's time per request, where it has some
	slowest slowest           // the slowest Config.TailExemplars requests
	sample  []*summary        // a uniform sample of Config.SampleExemplars requests
	named   []*summary        // those of Config.TailTraceIDs
	edge    edgeAgg
	svc     svcAgg
	// missing_deadline's calls wait for the endpoint's P50 (deadlines) until there are more than
	// Config.ExactValues of them; then the threshold is fixed at the P50 so far (deadline).
	deadlines []deadlineCall
	deadline  time.Duration
}

type deadlineCall struct {
	k hitKey
	h hit
}

// NewStream returns an empty Stream diagnosing with cfg, defaults filled in.
func NewStream(cfg Config) *Stream {
	cfg = cfg.withDefaults()
	s := &Stream{d: newDiagnoser(cfg), acc: [2]*accum{newAccum(), newAccum()}, rng: rand.New(rand.NewPCG(1, 2)),
		tail: map[string]bool{}, read: map[string]int{}, path: map[opRef]time.Duration{}, comp: map[opKey]time.Duration{}}
	for _, id := range cfg.TailTraceIDs {
		s.tail[id] = true
	}
	return s
}

// ReadTraces reads traces from r with [ReadEach] and adds those keep keeps (nil: every one); the
// findings also count the input the reading tolerated. It returns what ReadEach returns.
func (s *Stream) ReadTraces(r io.Reader, cfg ReadConfig, keep func(*Trace) bool) (*Input, error) {
	in, err := ReadEach(r, cfg, func(t *Trace) {
		if keep == nil || keep(t) {
			s.Add(t)
		}
	})
	if in != nil {
		s.Tolerate(in.Tolerated)
	}
	return in, err
}

// Tolerate adds the bad input a reader other than [ReadTraces] (such as one of a trace backend's
// API) counted, by reason, to what the findings report as tolerated.
func (s *Stream) Tolerate(counts map[string]int) {
	for k, v := range counts {
		s.read[k] += v
	}
}

// Add analyses one trace and reduces it into the stream's aggregates; the stream keeps no
// reference to t or its spans.
func (s *Stream) Add(t *Trace) {
	d := s.d
	d.input.Traces++
	d.input.Spans += len(t.Spans)
	a := d.analyze(t)
	if a == nil {
		return
	}
	acc := s.acc[0]
	if a.entry {
		acc = s.acc[1]
	}
	d.accum = acc
	acc.traces++
	e := acc.endpoints[a.endpoint]
	if e == nil {
		e = &endpoint{lat: newDist(d.cfg.ExactValues), path: map[opRef]float64{}, opTimes: map[opRef]*dist{}}
		acc.endpoints[a.endpoint] = e
	}
	s.seq++
	e.add(s, a)
	clear(d.inConsecutive)
	d.detect(a)
	e.edge.add(d.edgeScan(a), d.cfg.ExactValues)
	e.svc.add(d.svcScan(a, e), d.cfg.ExactValues)
	d.funcScan(a)
}

func (e *endpoint) add(s *Stream, a *analyzed) {
	d, cfg := s.d, s.d.cfg
	e.n++
	e.lat.add(a.latency)
	for _, i := range a.order {
		e.self[a.nodes[i].cat] += float64(a.nodes[i].self)
	}
	for _, sg := range a.path {
		n := &a.nodes[sg.node]
		e.path[d.ref(n)] += float64(sg.d)
	}
	path := s.path
	clear(path)
	d.pathByOp(a, path)
	for k, v := range path {
		o := e.opTimes[k]
		if o == nil {
			o = newDist(cfg.ExactValues)
			e.opTimes[k] = o
		}
		o.add(v)
	}
	// The summary is built only for a request a bounded set keeps.
	var sum *summary
	keep := func() *summary {
		if sum == nil {
			sum = &summary{seq: s.seq, id: a.id, latency: a.latency, path: d.sortedRefs(path), comp: sorted(d.composition(a, s.comp))}
		}
		return sum
	}
	if s.tail[a.id] {
		e.named = append(e.named, keep())
	}
	probe := summary{seq: s.seq, id: a.id, latency: a.latency}
	switch {
	case len(e.slowest) < cfg.TailExemplars:
		heap.Push(&e.slowest, keep())
	case bySpeed(&probe, e.slowest[0]) > 0:
		e.slowest[0] = keep()
		heap.Fix(&e.slowest, 0)
	}
	// Reservoir sampling (Vitter's algorithm R): each request is in the sample with the same
	// probability, so its middle is a sample of the endpoint's median requests.
	if len(e.sample) < cfg.SampleExemplars {
		e.sample = append(e.sample, keep())
	} else if j := s.rng.IntN(e.n); j < len(e.sample) {
		e.sample[j] = keep()
	}
}

// sorted is m as a slice, in a fixed order.
func sorted(m map[opKey]time.Duration) []opTime {
	out := make([]opTime, 0, len(m))
	for k, v := range m {
		out = append(out, opTime{k, v})
	}
	return sortOps(out)
}

// sortedRefs is sorted for a map keyed by opRef.
func (d *diagnoser) sortedRefs(m map[opRef]time.Duration) []opTime {
	out := make([]opTime, 0, len(m))
	for r, v := range m {
		out = append(out, opTime{d.key(r), v})
	}
	return sortOps(out)
}

func sortOps(out []opTime) []opTime {
	slices.SortFunc(out, func(x, y opTime) int { return cmp.Or(cmp.Compare(x.k.cat, y.k.cat), strings.Compare(x.k.op, y.k.op)) })
	return out
}

// deadlineCall takes a remote call without a deadline of at least MissingDeadlineMin: it is a
// missing_deadline when it lasts MissingDeadlineP50Multiple times the endpoint's P50.
func (e *endpoint) deadlineCall(d *diagnoser, k hitKey, h hit) {
	if e.deadline == 0 {
		e.deadlines = append(e.deadlines, deadlineCall{k, h})
		if len(e.deadlines) > d.cfg.ExactValues {
			e.decideDeadlines(d)
		}
		return
	}
	if h.time >= e.deadline {
		h.saving = h.time - e.deadline
		d.addHit(k, h)
	}
}

// decideDeadlines fixes the missing_deadline threshold at the endpoint's P50 so far, and judges
// the calls that waited for it.
func (e *endpoint) decideDeadlines(d *diagnoser) {
	if e.deadline == 0 {
		e.deadline = max(MissingDeadlineMin, MissingDeadlineP50Multiple*e.lat.quantile(0.5))
	}
	calls := e.deadlines
	e.deadlines = nil
	for _, c := range calls {
		e.deadlineCall(d, c.k, c.h)
	}
}

// tailAndMedian splits the endpoint's requests into its tail — the load run's slowest exemplars
// at or above P90, else its slowest 1 % and at least its slowest few, at most
// Config.TailExemplars — and its median requests (between P40 and P60, tail excluded), both
// fastest first; the median ones are those of the sample, all of them while the endpoint has no
// more than Config.SampleExemplars requests. It returns no tail with fewer than minTailTraces
// requests.
func (e *endpoint) tailAndMedian() (tail, median []*summary) {
	if e.n < minTailTraces {
		return nil, nil
	}
	p90 := e.lat.quantile(0.9)
	slices.SortFunc(e.named, bySpeed)
	for _, a := range e.named {
		if a.latency >= p90 {
			tail = append(tail, a)
		}
	}
	if len(tail) == 0 {
		slowest := slices.SortedFunc(slices.Values(e.slowest), bySpeed)
		tail = slowest[len(slowest)-min(tailSize(e.n), len(slowest)):]
	}
	in := map[int]bool{}
	for _, a := range tail {
		in[a.seq] = true
	}
	sample := slices.SortedFunc(slices.Values(e.sample), bySpeed)
	m := len(sample)
	lo, hi := int(float64(m)*0.4), int(math.Ceil(float64(m)*0.6))
	for _, a := range sample[lo:max(hi, lo+1)] {
		if !in[a.seq] {
			median = append(median, a)
		}
	}
	return tail, median
}

// Findings ranks the findings over the traces added. It ends the stream: later calls return the
// same findings, and Add must not be called after it.
func (s *Stream) Findings() *result.Findings {
	if s.out != nil {
		return s.out
	}
	s.out = s.findings()
	return s.out
}

func (s *Stream) findings() *result.Findings {
	d := s.d
	acc := s.acc[0]
	// When requests or jobs started some traces, the others (a background poller's queries,
	// start-up work) are no endpoint of the service: they are counted, not profiled.
	if s.acc[1].traces > 0 {
		acc = s.acc[1]
		d.input.Background += s.acc[0].traces
	}
	d.accum = acc
	for k, v := range s.read {
		d.input.Tolerated[k] += v
	}
	out := &result.Findings{Schema: result.FindingsSchema, Findings: []result.Finding{}, Input: d.input}
	if len(d.input.Tolerated) == 0 {
		d.input.Tolerated = nil
	}
	p99 := map[string]time.Duration{}
	for _, ep := range slices.Sorted(maps.Keys(acc.endpoints)) {
		e := acc.endpoints[ep]
		p99[ep] = e.lat.quantile(0.99)
		out.Endpoints = append(out.Endpoints, e.profile(d, ep))
		acc.requests[ep] = e.n
		e.decideDeadlines(d)
		if b, ok := e.edge.breakdown(ep); ok {
			out.Edge = append(out.Edge, b)
		}
		if b, ok := e.svc.breakdown(ep); ok {
			out.Services = append(out.Services, b)
		}
		tail, median := e.tailAndMedian()
		if tc := d.tailVsMedian(ep, tail, median); tc != nil {
			out.TailVsMedian = append(out.TailVsMedian, *tc)
		}
		if f, ok := d.tailLatency(ep, e, tail, median, p99[ep]); ok {
			out.Findings = append(out.Findings, f)
		}
	}
	d.edgeCacheable()
	fns, fnFindings, coldTraces := d.functions()
	out.Functions = fns
	out.Findings = append(slices.DeleteFunc(out.Findings, func(f result.Finding) bool { return coldTail(f, coldTraces) }), fnFindings...)
	for k, hs := range d.hits {
		if f, ok := d.finding(k, hs, p99[k.endpoint]); ok {
			out.Findings = append(out.Findings, f)
		}
	}
	// Low-severity findings (what-ifs) come after those that cost their time now.
	slices.SortFunc(out.Findings, func(a, b result.Finding) int {
		return cmp.Or(cmp.Compare(lowRank(a), lowRank(b)), cmp.Compare(b.ShareOfP99, a.ShareOfP99), cmp.Compare(a.Endpoint, b.Endpoint), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Evidence.Statement, b.Evidence.Statement), cmp.Compare(a.Evidence.Operation, b.Evidence.Operation))
	})
	out.Config = d.cfg.echo()
	return out
}
