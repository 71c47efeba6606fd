package diagnose

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/headroom/headroom/result"
)

// Waterfall lays one trace out for a waterfall chart: its spans reachable from the root in
// depth-first start order, with offsets from the root's start, each marked when it is on the
// critical path (the same walk the endpoint profiles use). It returns nil for a trace without
// a root.
func Waterfall(t *Trace) *result.TraceView {
	a := newDiagnoser(DefaultConfig()).analyze(t)
	if a == nil {
		return nil
	}
	critical := map[int32]bool{}
	for _, s := range a.path {
		critical[s.node] = true
	}
	r := a.nodes[a.order[0]].s
	v := &result.TraceView{TraceID: t.ID, Endpoint: a.endpoint, DurationMS: msOf(a.latency)}
	var walk func(i int32, depth int)
	walk = func(i int32, depth int) {
		n := &a.nodes[i]
		v.Spans = append(v.Spans, result.SpanView{
			SpanID: n.s.SpanID, ParentID: n.s.ParentID, Name: n.s.Name, Depth: depth,
			StartMS: msOf(time.Duration(n.ws - r.Start.UnixNano())), DurMS: msOf(time.Duration(n.we - n.ws)), Critical: critical[i],
		})
		if depth >= maxDepth {
			return
		}
		cs := slices.Clone(n.children)
		slices.SortStableFunc(cs, func(x, y int32) int {
			return cmp.Or(cmp.Compare(a.nodes[x].ws, a.nodes[y].ws), cmp.Compare(a.nodes[x].s.SpanID, a.nodes[y].s.SpanID))
		})
		for _, c := range cs {
			walk(c, depth+1)
		}
	}
	walk(a.order[0], 0)
	return v
}

func msOf(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
