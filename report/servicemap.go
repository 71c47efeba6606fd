package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/headroom/headroom/result"
)

// The service map's bounds: a map beyond them would be unreadable, and the service names come
// from traces, so their number is not ours to trust. What is left out is counted in a note and
// stays in the table.
const (
	maxMapServices = 12
	maxMapHops     = 24
)

// The service map's geometry, in SVG user units.
const (
	mapNodeW   = 150
	mapNodeH   = 38
	mapColW    = 300 // a column per call depth, with room for a hop's label between
	mapRowH    = 78
	mapMargin  = 20
	mapNameLen = 22 // runes of a service name drawn in its box; the full name is its tooltip
)

// serviceMapView is one endpoint's service map: services as boxes, left to right by call depth
// from the entry, and hops as arrows.
type serviceMapView struct {
	Endpoint string
	Requests int
	W, H     int
	// NodeW and NodeH are a service box's size.
	NodeW, NodeH int
	Nodes        []mapNode
	Edges        []mapEdge
	// Hops is the endpoint's hops, all of them, for the table under the map.
	Hops []result.HopTime
	// Left says how many services and hops the map leaves out; "" when none.
	Left string
}

type mapNode struct {
	Name, Label string
	X, Y        int
	// Self is the service's own mean time per request, "" when diagnose gave none.
	Self string
}

type mapEdge struct {
	// D is the SVG path from the caller's box to the peer's.
	D            string
	LabelX       int
	LabelY       int
	Label, Title string
	Width        string
	Error        bool
}

// serviceMaps lays out the service map of each endpoint in bs.
func serviceMaps(bs []result.ServiceBreakdown) []serviceMapView {
	out := make([]serviceMapView, 0, len(bs))
	for _, b := range bs {
		out = append(out, serviceMap(b))
	}
	return out
}

// serviceMap lays out b's services by call depth: the entry services (callers nobody calls; the
// first caller by name when every caller is called) at depth 0, then breadth first along the
// hops; a service no hop reaches goes in a column after the last. Within a column, by name.
func serviceMap(b result.ServiceBreakdown) serviceMapView {
	v := serviceMapView{Endpoint: b.Endpoint, Requests: b.Requests, Hops: b.Hops, NodeW: mapNodeW, NodeH: mapNodeH}
	self := map[string]float64{}
	names := map[string]bool{}
	for _, s := range b.Services {
		self[s.Service], names[s.Service] = s.MeanMS, true
	}
	for _, h := range b.Hops {
		names[h.Caller] = true
	}
	hops := slices.Clone(b.Hops)
	alias := peerAliases(names, hops)
	to := func(h result.HopTime) string { return cmp.Or(alias[h.Peer], h.Peer) }
	called := map[string]bool{}
	for _, h := range hops {
		names[to(h)], called[to(h)] = true, true
	}
	slices.SortFunc(hops, func(a, c result.HopTime) int {
		return cmp.Or(cmp.Compare(a.Caller, c.Caller), cmp.Compare(to(a), to(c)), cmp.Compare(a.Peer, c.Peer))
	})
	depth := map[string]int{}
	var queue []string
	for _, h := range hops {
		if _, seen := depth[h.Caller]; !seen && !called[h.Caller] {
			depth[h.Caller] = 0
			queue = append(queue, h.Caller)
		}
	}
	if len(queue) == 0 && len(hops) > 0 {
		depth[hops[0].Caller] = 0
		queue = append(queue, hops[0].Caller)
	}
	last := 0
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, h := range hops {
			if _, seen := depth[to(h)]; h.Caller == s && !seen {
				depth[to(h)] = depth[s] + 1
				last = max(last, depth[s]+1)
				queue = append(queue, to(h))
			}
		}
	}
	all := make([]string, 0, len(names))
	for n := range names {
		if _, ok := depth[n]; !ok {
			depth[n] = last + 1
		}
		all = append(all, n)
	}
	slices.SortFunc(all, func(a, c string) int { return cmp.Or(cmp.Compare(depth[a], depth[c]), cmp.Compare(a, c)) })
	drawn := all[:min(len(all), maxMapServices)]

	pos := map[string][2]int{}
	rows := map[int]int{}
	cols := 0
	for _, n := range drawn {
		d := depth[n]
		x, y := mapMargin+d*mapColW, mapMargin+rows[d]*mapRowH
		rows[d]++
		cols = max(cols, d+1)
		pos[n] = [2]int{x, y}
		node := mapNode{Name: n, Label: serviceName(n, mapNameLen), X: x, Y: y}
		if ms, ok := self[n]; ok {
			node.Self = "self " + num(ms) + " ms"
		}
		v.Nodes = append(v.Nodes, node)
	}
	maxRows := 0
	for _, r := range rows {
		maxRows = max(maxRows, r)
	}
	v.W = 2*mapMargin + max(cols-1, 0)*mapColW + mapNodeW
	v.H = 2*mapMargin + max(maxRows-1, 0)*mapRowH + mapNodeH + mapRowH/2 // room for arcs under the last row

	// The hops drawn: both ends drawn, most calls per request first, then by name.
	var edges []result.HopTime
	for _, h := range hops {
		_, okc := pos[h.Caller]
		_, okp := pos[to(h)]
		if okc && okp {
			edges = append(edges, h)
		}
	}
	slices.SortStableFunc(edges, func(a, c result.HopTime) int { return cmp.Compare(c.CallsPerRequest, a.CallsPerRequest) })
	hopsLeft := len(b.Hops) - min(len(edges), maxMapHops)
	for _, h := range edges[:min(len(edges), maxMapHops)] {
		v.Edges = append(v.Edges, mapEdgeOf(h, pos[h.Caller], pos[to(h)]))
	}
	if left := len(all) - len(drawn); left > 0 || hopsLeft > 0 {
		v.Left = fmt.Sprintf("The map leaves out %d services and %d hops (it draws at most %d services and %d hops); the table lists every hop.", left, hopsLeft, maxMapServices, maxMapHops)
	}
	return v
}

// peerAliases maps a hop's peer (its peer.service) to the service (service.name) it names,
// when the two differ: the peer is no service's name, and exactly one service's name is the
// peer's with a prefix ("posts" and "headroom-posts"). So a callee and its own calls are one box.
func peerAliases(services map[string]bool, hops []result.HopTime) map[string]string {
	alias := map[string]string{}
	for _, h := range hops {
		if services[h.Peer] {
			continue
		}
		var match []string
		for s := range services {
			if strings.HasSuffix(s, "-"+h.Peer) {
				match = append(match, s)
			}
		}
		if len(match) == 1 {
			alias[h.Peer] = match[0]
		}
	}
	return alias
}

// mapEdgeOf is the arrow of hop h from the box at c to the box at p: straight from the caller's
// right side to the peer's left when the peer is in a later column, else an arc under both
// boxes.
func mapEdgeOf(h result.HopTime, c, p [2]int) mapEdge {
	e := mapEdge{Error: h.Errors > 0, Width: fmt.Sprintf("%.1f", math.Min(1.5+2*math.Log2(1+h.CallsPerRequest), 9))}
	if p[0] > c[0] {
		x1, y1, x2, y2 := c[0]+mapNodeW, c[1]+mapNodeH/2, p[0]-4, p[1]+mapNodeH/2
		e.D = fmt.Sprintf("M%d %d L%d %d", x1, y1, x2, y2)
		e.LabelX, e.LabelY = (x1+x2)/2, (y1+y2)/2-5
	} else {
		x1, y1, x2, y2 := c[0]+mapNodeW/2-10, c[1]+mapNodeH, p[0]+mapNodeW/2+10, p[1]+mapNodeH+4
		cx, cy := (x1+x2)/2, max(y1, y2)+mapRowH/2
		e.D = fmt.Sprintf("M%d %d Q%d %d %d %d", x1, y1, cx, cy, x2, y2)
		e.LabelX, e.LabelY = (x1+2*cx+x2)/4, (y1+2*cy+y2)/4+4
	}
	e.Label = fmt.Sprintf("%.1f×", h.CallsPerRequest)
	if h.Call.Calls > 0 {
		e.Label += " · " + num(h.Call.P50MS) + " ms"
	}
	if h.Network.Calls > 0 {
		e.Label += " (" + num(h.Network.P50MS) + ")"
	}
	e.Title = fmt.Sprintf("%s → %s: %d calls, %.1f per request, call P50 / P99 %s ms, network P50 / P99 %s ms, %d errors",
		h.Caller, h.Peer, h.Calls, h.CallsPerRequest, callTime(h.Call), callTime(h.Network), h.Errors)
	return e
}
