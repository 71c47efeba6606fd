package diagnose

import (
	"cmp"
	"slices"
	"strings"
)

// hitAgg is what a finding needs of its hits, reduced as they come: sums, maxima and counts
// exactly, and of the traces only those its evidence can list, so that its memory does not grow
// with the number of hits.
type hitAgg struct {
	n                     int
	time, saving, share   float64 // float64: years-long spans of a wrong clock would overflow a Duration
	maxCount              int
	maxBytes              int64
	attempts, errors      int     // the service kinds' (svcHit)
	network, call         float64 // network_hop's
	labels                map[string]int
	noEdge                bool
	storable, notStorable int
	control               hit // the slowest hit that recorded a Cache-Control, if any (edge set)
	// top is the slowest hits of distinct traces (latency descending, then trace id), as many as
	// a finding lists; preferred the hits of traces in Config.PreferTraceIDs (one per trace).
	top       []hit
	preferred []hit
}

// hitAggs are one finding's hits above the kind's floor ([0]) and below it ([1]).
type hitAggs [2]hitAgg

// slower orders hits slowest first, then by trace id: the order evidence lists them in.
func slower(a, b *hit) int {
	return cmp.Or(cmp.Compare(b.latency, a.latency), strings.Compare(a.trace, b.trace))
}

func (g *hitAgg) add(h hit, maxEvidence int, prefer map[string]bool) {
	g.n++
	g.time += float64(h.time)
	g.saving += float64(h.saving)
	g.share += h.share
	g.maxCount = max(g.maxCount, h.count)
	g.maxBytes = max(g.maxBytes, h.bytes)
	if s := h.svc; s != nil {
		g.attempts += s.attempts
		g.errors += s.errors
		g.network += float64(s.network)
		g.call += float64(s.call)
	}
	if e := h.edge; e != nil {
		if g.labels == nil {
			g.labels = map[string]int{}
		}
		g.labels[e.label]++
		g.noEdge = g.noEdge || e.noEdge
		switch e.storable {
		case "true":
			g.storable++
		case "false":
			g.notStorable++
		}
		if e.control != "" && (g.control.edge == nil || slower(&h, &g.control) < 0) {
			g.control = h
		}
	}
	if prefer[h.trace] && !hasTrace(g.preferred, h.trace) {
		g.preferred = append(g.preferred, h)
	}
	if hasTrace(g.top, h.trace) {
		return
	}
	i, _ := slices.BinarySearchFunc(g.top, h, func(x, y hit) int { return slower(&x, &y) })
	if i < maxEvidence {
		g.top = slices.Insert(g.top, i, h)
		g.top = g.top[:min(len(g.top), maxEvidence)]
	}
}

func hasTrace(hs []hit, trace string) bool {
	for i := range hs {
		if hs[i].trace == trace {
			return true
		}
	}
	return false
}

// hits is the hits the evidence can list, slowest first, then the preferred ones.
func (g *hitAgg) hits() []hit { return append(slices.Clone(g.top), g.preferred...) }
