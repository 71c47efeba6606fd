package diagnose

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/result"
)

// maxDepth bounds the span tree walks, so a pathological chain of nested spans cannot exhaust
// the stack; deeper spans count as their ancestor's own time.
const maxDepth = 2000

type diagnoser struct {
	cfg   Config
	norm  map[string]string // statement → Normalize(statement): repeats are common
	input *result.TraceInput
	*matcher
	// The class of traces being reduced (see Stream.acc).
	*accum
	prefer map[string]bool // Config.PreferTraceIDs
	// Scratch reused from trace to trace: an analyzed trace is valid until the next.
	an      analyzed
	counts  []int32
	backing []int32
	idx     map[string]int32
	httpOps map[[2]string]string // method, URL → operation
	// opIDs numbers the names of the operations the endpoints keep (opNames), for opRef.
	opIDs   map[string]int32
	opNames []string
	stack   []item
	iv      []interval
	// children and run are consecutive's.
	children []int32
	run      []*node
	// svcNames and svcSelf are svcScan's scratch: each node's service, each service's own time.
	svcNames []string
	svcSelf  map[string]time.Duration
	// inConsecutive marks, in the trace being detected, the first call of each consecutive_http
	// run, which serial_fanout leaves to it.
	inConsecutive map[*node]bool
}

func (d *diagnoser) normalize(stmt string) string {
	n, ok := d.norm[stmt]
	if !ok {
		n = Normalize(stmt)
		if len(d.norm) < memoLimit { // bound the cache; beyond it, normalize again
			d.norm[stmt] = n
		}
	}
	return n
}

// opRef is an operation (an opKey) as a number: its category and the number of its name. The
// maps of the critical path by operation, updated by each segment of each request, are keyed by
// it, so that they hash an integer, not a statement. Only the operations they keep are
// numbered: the names are kept as long as the stream.
type opRef uint64

// named is the number of an operation's name.
func (d *diagnoser) named(op string) int32 {
	id, ok := d.opIDs[op]
	if !ok {
		id = int32(len(d.opNames))
		d.opIDs[op] = id
		d.opNames = append(d.opNames, op)
	}
	return id
}

func (d *diagnoser) key(r opRef) opKey { return opKey{Category(r >> 32), d.opNames[uint32(r)]} }

// ref is the node's operation as an opRef.
func (d *diagnoser) ref(n *node) opRef {
	if n.opID < 0 {
		n.opID = d.named(d.operation(n))
	}
	return opRef(n.cat)<<32 | opRef(uint32(n.opID))
}

// refOf is k as an opRef.
func (d *diagnoser) refOf(k opKey) opRef { return opRef(k.cat)<<32 | opRef(uint32(d.named(k.op))) }

type node struct {
	s        *Span
	at       spanAttrs
	cat      Category
	parent   int32 // -1 for the root
	children []int32
	// ws, we is the span clamped to its parent's window, in Unix nanoseconds: the part that can
	// delay the parent.
	ws, we int64
	self   time.Duration
	dep    string // what a client span calls, when a non-critical dependency (see matcher.dependency)
	// owner is the nearest client span at or above this node that calls a non-critical
	// dependency, or -1.
	owner int32
	// call is the outermost client span at or above this node (the call that left the service the
	// request entered), or -1: the tail attribution charges a remote service's time to it.
	call int32
	op   string // set by operation
	opID int32  // set by ref; -1 before
}

type segment struct {
	node int32
	d    time.Duration
}

// analyzed is one trace, as a tree reachable from its root with the edges to consumers pruned.
type analyzed struct {
	id       string
	endpoint string
	latency  time.Duration
	entry    bool // the root is a server or consumer span: a request or a job started the trace
	nodes    []node
	order    []int32 // reachable nodes, parents before children
	path     []segment
}

func (d *diagnoser) analyze(t *Trace) *analyzed {
	idx := d.idx
	clear(idx)
	for i, s := range t.Spans {
		if _, dup := idx[s.SpanID]; !dup {
			idx[s.SpanID] = int32(i)
		}
	}
	// The root is the longest span without a parent in the trace (as [Endpoint] picks it).
	ri := int32(-1)
	for i, s := range t.Spans {
		if _, ok := idx[s.ParentID]; s.ParentID != "" && ok {
			continue
		}
		if ri < 0 || s.Duration() > t.Spans[ri].Duration() {
			ri = int32(i)
		}
	}
	if ri < 0 {
		if len(t.Spans) > 0 {
			d.input.Tolerated[ReasonNoRoot]++
		}
		return nil
	}
	r := t.Spans[ri]
	a := &d.an
	*a = analyzed{id: t.ID, endpoint: endpointOf(r), latency: r.Duration(), entry: r.Kind == KindServer || r.Kind == KindConsumer,
		nodes: slices.Grow(a.nodes[:0], len(t.Spans))[:len(t.Spans)], order: a.order[:0], path: a.path[:0]}
	counts := slices.Grow(d.counts[:0], len(t.Spans)+1)[:len(t.Spans)+1]
	clear(counts)
	d.counts = counts
	for i, s := range t.Spans {
		n := &a.nodes[i]
		*n = node{s: s, at: attrsOf(s), parent: -1, owner: -1, call: -1, opID: -1}
		n.dep = d.dependency(s, &n.at)
		n.cat = d.classify(s, &n.at, n.dep)
		if int32(i) == ri {
			continue
		}
		p, ok := idx[s.ParentID]
		if !ok || p == int32(i) {
			d.input.Tolerated[ReasonOrphan]++
			continue
		}
		// A consumer is asynchronous: whether its parent is the producer span or, as with a
		// transactional outbox, the request that enqueued the job, it does not delay the request.
		if s.Kind == KindConsumer {
			continue
		}
		a.nodes[i].parent = p
		counts[p+1]++
	}
	// The children of all nodes share one backing array (fewer allocations over 1M spans).
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	backing := slices.Grow(d.backing[:0], int(counts[len(counts)-1]))[:counts[len(counts)-1]]
	d.backing = backing
	for i := range a.nodes {
		a.nodes[i].children = backing[counts[i]:counts[i]:counts[i+1]]
	}
	for i := range a.nodes {
		if p := a.nodes[i].parent; p >= 0 {
			a.nodes[p].children = append(a.nodes[p].children, int32(i))
		}
	}
	// Top-down: clamp each span to its parent's window, find its owner, compute its self time.
	rn := &a.nodes[ri]
	rn.ws, rn.we = r.Start.UnixNano(), max(r.End.UnixNano(), r.Start.UnixNano())
	rootStart, rootEnd := time.Unix(0, rn.ws), time.Unix(0, rn.we)
	stack := append(d.stack[:0], item{ri, 0})
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		a.order = append(a.order, it.i)
		n := &a.nodes[it.i]
		if n.owner < 0 && n.dep != "" {
			n.owner = it.i
		}
		if n.call < 0 && n.s.Kind == KindClient {
			n.call = it.i
		}
		iv := d.iv[:0]
		if it.depth < maxDepth {
			for _, c := range n.children {
				cn := &a.nodes[c]
				// A span outside its trace's root is a clock gone wrong (skew between hosts, a
				// bad timestamp): the request did not wait for it, so every detector sees it
				// clamped to the root, and the input counts it.
				if cn.s.Start.Before(rootStart) || cn.s.End.After(rootEnd) {
					s := *cn.s
					s.Start, s.End = clampTime(s.Start, rootStart, rootEnd), clampTime(s.End, rootStart, rootEnd)
					cn.s = &s
					d.input.Tolerated[ReasonOutsideRoot]++
				}
				cn.ws, cn.we = clamp(cn.s.Start.UnixNano(), n.ws, n.we), clamp(cn.s.End.UnixNano(), n.ws, n.we)
				cn.owner, cn.call = n.owner, n.call
				iv = append(iv, interval{cn.ws, cn.we})
				stack = append(stack, item{c, it.depth + 1})
			}
		}
		n.self = max(time.Duration(n.we-n.ws)-unionInPlace(iv), 0)
		d.iv = iv
	}
	d.stack = stack
	a.path = a.criticalPath(ri, rn.ws, rn.we, 0, a.path)
	return a
}

type item struct {
	i     int32
	depth int
}

func clamp(t, lo, hi int64) int64 { return min(max(t, lo), hi) }

// fromFloat converts a mean computed in float64 back to a Duration, saturating where it would
// not fit (a conversion out of range gives a negative Duration).
func fromFloat(ns float64) time.Duration {
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

func clampTime(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}

// criticalPath walks back from the end of node i's window [start, end]: the child that finished
// last before the cursor is on the path, recursively; the gaps between are i's own time on it.
func (a *analyzed) criticalPath(i int32, start, end int64, depth int, out []segment) []segment {
	n := &a.nodes[i]
	cursor := end
	if depth < maxDepth && len(n.children) > 0 {
		cs := n.children
		slices.SortFunc(cs, func(x, y int32) int { return cmp.Compare(a.nodes[y].we, a.nodes[x].we) })
		for _, c := range cs {
			cn := &a.nodes[c]
			if cn.ws >= cursor || cursor <= start {
				continue
			}
			ce, cst := min(cn.we, cursor), max(cn.ws, start)
			if d := cursor - ce; d > 0 {
				out = append(out, segment{i, time.Duration(d)})
			}
			out = a.criticalPath(c, cst, ce, depth+1, out)
			cursor = cst
		}
	}
	if d := cursor - start; d > 0 {
		out = append(out, segment{i, time.Duration(d)})
	}
	return out
}

// operation names what a span does, the same for repeats: a normalized statement, a
// parameterized URL, or the span name.
func (d *diagnoser) operation(n *node) string {
	if n.op != "" {
		return n.op
	}
	switch {
	case n.at.stmt != "":
		n.op = d.normalize(n.at.stmt)
	case isHTTPClient(n.s, &n.at):
		n.op = d.httpOperation(n)
	default:
		n.op = n.s.Name
	}
	return n.op
}

// httpOperation memoizes [httpOperation] by URL: parsing and parameterizing it is costly, and
// the same URLs repeat.
func (d *diagnoser) httpOperation(n *node) string {
	key := [2]string{n.at.method, n.at.url}
	if key == [2]string{} {
		return httpOperation(n.s)
	}
	op, ok := d.httpOps[key]
	if !ok {
		op = httpOperation(n.s)
		if len(d.httpOps) < memoLimit {
			d.httpOps[key] = op
		}
	}
	return op
}

type opKey struct {
	cat Category
	op  string
}

// profile is the endpoint's latency percentiles, mean self time per category, and the mean time
// per operation on the critical path.
func (e *endpoint) profile(d *diagnoser, ep string) result.EndpointProfile {
	count := float64(e.n)
	mean := func(v float64) float64 { return ms(fromFloat(v / count)) }
	sum := e.lat.sum
	p := result.EndpointProfile{Endpoint: ep, Count: e.n, P50MS: ms(e.lat.quantile(0.5)), P90MS: ms(e.lat.quantile(0.9)),
		P99MS: ms(e.lat.quantile(0.99)), MeanMS: mean(sum), SelfTimeMS: map[string]float64{}, CriticalPath: []result.PathStep{}}
	for c, v := range e.self {
		if v > 0 {
			p.SelfTimeMS[Category(c).String()] = mean(v)
		}
	}
	for r, v := range e.path {
		k := d.key(r)
		share := 0.0
		if sum > 0 {
			share = round3(v / sum)
		}
		p.CriticalPath = append(p.CriticalPath, result.PathStep{Category: k.cat.String(), Operation: k.op, MS: mean(v), Share: share})
	}
	slices.SortFunc(p.CriticalPath, func(x, y result.PathStep) int {
		return cmp.Or(cmp.Compare(y.MS, x.MS), strings.Compare(x.Category, y.Category), strings.Compare(x.Operation, y.Operation))
	})
	const maxSteps = 10
	p.CriticalPath = p.CriticalPath[:min(len(p.CriticalPath), maxSteps)]
	return p
}
