package diagnose

import (
	"cmp"
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
	hits  map[hitKey][]hit
	input *result.TraceInput
}

func (d *diagnoser) normalize(stmt string) string {
	n, ok := d.norm[stmt]
	if !ok {
		n = Normalize(stmt)
		if len(d.norm) < 1<<20 { // bound the cache; beyond it, normalize again
			d.norm[stmt] = n
		}
	}
	return n
}

type node struct {
	s        *Span
	cat      Category
	parent   int32 // -1 for the root
	children []int32
	// ws, we is the span clamped to its parent's window: the part that can delay the parent.
	ws, we time.Time
	self   time.Duration
	// owner is the nearest client span at or above this node that calls a non-critical
	// dependency, or -1.
	owner int32
	op    string
}

type segment struct {
	node int32
	d    time.Duration
}

// analyzed is one trace, as a tree reachable from its root with producer→consumer edges pruned.
type analyzed struct {
	id       string
	endpoint string
	latency  time.Duration
	nodes    []node
	order    []int32 // reachable nodes, parents before children
	path     []segment
}

func (d *diagnoser) analyze(t *Trace) *analyzed {
	r := root(t)
	if r == nil {
		if len(t.Spans) > 0 {
			d.input.Tolerated[ReasonNoRoot]++
		}
		return nil
	}
	a := &analyzed{id: t.ID, endpoint: endpointOf(r), latency: r.Duration(), nodes: make([]node, len(t.Spans))}
	idx := make(map[string]int32, len(t.Spans))
	ri := int32(-1)
	for i, s := range t.Spans {
		if _, dup := idx[s.SpanID]; !dup {
			idx[s.SpanID] = int32(i)
		}
		a.nodes[i] = node{s: s, cat: classify(s), parent: -1, owner: -1}
		if s == r {
			ri = int32(i)
		}
	}
	for i, s := range t.Spans {
		if int32(i) == ri {
			continue
		}
		p, ok := idx[s.ParentID]
		if !ok || p == int32(i) {
			d.input.Tolerated[ReasonOrphan]++
			continue
		}
		// A consumer under its producer is asynchronous: it does not delay the request.
		if s.Kind == KindConsumer && t.Spans[p].Kind == KindProducer {
			continue
		}
		a.nodes[i].parent = p
		a.nodes[p].children = append(a.nodes[p].children, int32(i))
	}
	// Top-down: clamp each span to its parent's window, find its owner, compute its self time.
	rn := &a.nodes[ri]
	rn.ws, rn.we = r.Start, r.End
	type item struct {
		i     int32
		depth int
	}
	stack := []item{{ri, 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		a.order = append(a.order, it.i)
		n := &a.nodes[it.i]
		if n.owner < 0 && dependency(n.s) != "" {
			n.owner = it.i
		}
		var iv []interval
		if it.depth < maxDepth {
			for _, c := range n.children {
				cn := &a.nodes[c]
				cn.ws, cn.we = clampTime(cn.s.Start, n.ws, n.we), clampTime(cn.s.End, n.ws, n.we)
				cn.owner = n.owner
				iv = append(iv, interval{cn.ws, cn.we})
				stack = append(stack, item{c, it.depth + 1})
			}
		}
		n.self = max(n.we.Sub(n.ws)-unionDuration(iv), 0)
	}
	a.path = a.criticalPath(ri, rn.ws, rn.we, 0, nil)
	return a
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
func (a *analyzed) criticalPath(i int32, start, end time.Time, depth int, out []segment) []segment {
	n := &a.nodes[i]
	cursor := end
	if depth < maxDepth && len(n.children) > 0 {
		cs := slices.Clone(n.children)
		slices.SortFunc(cs, func(x, y int32) int { return a.nodes[y].we.Compare(a.nodes[x].we) })
		for _, c := range cs {
			cn := &a.nodes[c]
			if !cn.ws.Before(cursor) || !cursor.After(start) {
				continue
			}
			ce := cn.we
			if ce.After(cursor) {
				ce = cursor
			}
			cst := cn.ws
			if cst.Before(start) {
				cst = start
			}
			if d := cursor.Sub(ce); d > 0 {
				out = append(out, segment{i, d})
			}
			out = a.criticalPath(c, cst, ce, depth+1, out)
			cursor = cst
		}
	}
	if d := cursor.Sub(start); d > 0 {
		out = append(out, segment{i, d})
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
	case statement(n.s) != "":
		n.op = d.normalize(statement(n.s))
	case isHTTPClient(n.s):
		n.op = httpOperation(n.s)
	default:
		n.op = n.s.Name
	}
	return n.op
}

type opKey struct {
	cat Category
	op  string
}

// profile is one endpoint's latency percentiles, mean self time per category, and the mean time
// per operation on the critical path. as is sorted by latency; lat holds its latencies.
func (d *diagnoser) profile(ep string, as []*analyzed, lat []time.Duration) result.EndpointProfile {
	var self [numCategories]time.Duration
	path := map[opKey]time.Duration{}
	var sum time.Duration
	for _, a := range as {
		sum += a.latency
		for _, i := range a.order {
			self[a.nodes[i].cat] += a.nodes[i].self
		}
		for _, s := range a.path {
			n := &a.nodes[s.node]
			path[opKey{n.cat, d.operation(n)}] += s.d
		}
	}
	count := time.Duration(len(as))
	p := result.EndpointProfile{Endpoint: ep, Count: len(as), P50MS: ms(percentile(lat, 0.5)), P90MS: ms(percentile(lat, 0.9)),
		P99MS: ms(percentile(lat, 0.99)), MeanMS: ms(sum / count), SelfTimeMS: map[string]float64{}, CriticalPath: []result.PathStep{}}
	for c, v := range self {
		if v > 0 {
			p.SelfTimeMS[Category(c).String()] = ms(v / count)
		}
	}
	for k, v := range path {
		share := 0.0
		if sum > 0 {
			share = round3(float64(v) / float64(sum))
		}
		p.CriticalPath = append(p.CriticalPath, result.PathStep{Category: k.cat.String(), Operation: k.op, MS: ms(v / count), Share: share})
	}
	slices.SortFunc(p.CriticalPath, func(x, y result.PathStep) int {
		return cmp.Or(cmp.Compare(y.MS, x.MS), strings.Compare(x.Category, y.Category), strings.Compare(x.Operation, y.Operation))
	})
	const maxSteps = 10
	p.CriticalPath = p.CriticalPath[:min(len(p.CriticalPath), maxSteps)]
	return p
}
