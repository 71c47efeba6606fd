package diagnose

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/result"
)

// The thresholds of the service findings (see docs/commands/diagnose.md).
const (
	// RetryStormMinAttempts is the least number of sibling attempts of one call (client spans to
	// one peer and route under one parent) for a retry_storm.
	RetryStormMinAttempts = 3
	// RetryStormMinErrorShare is the share of those attempts that must have failed, exceeded:
	// most of them.
	RetryStormMinErrorShare = 0.5
	// MissingDeadlineP50Multiple is how many times the endpoint's P50 latency a remote call
	// without a deadline must last to be a missing_deadline: a deadline derived from the
	// request's budget would have ended it there.
	MissingDeadlineP50Multiple = 3
	// MissingDeadlineMin is the least duration of such a call, so that a fast endpoint's few
	// milliseconds of jitter are no finding.
	MissingDeadlineMin = 100 * time.Millisecond
	// SerialFanoutMinCalls is the least number of calls to different peers or routes, one after
	// the other under one parent, for a serial_fanout.
	SerialFanoutMinCalls = 3
	// SerialFanoutMinSaved is the least saving (their sum less the longest) of running them
	// concurrently.
	SerialFanoutMinSaved = 10 * time.Millisecond
	// NetworkHopMinShare is the least share of a hop's call time its network part must take for a
	// network_hop (the mean over its requests).
	NetworkHopMinShare = 0.5
	// NetworkHopMin is the least mean network time per call on the hop: a same-zone round trip
	// (~0.1 ms) dominating a trivial call is no finding, a cross-zone one (~2 ms) is.
	NetworkHopMin = time.Millisecond
)

// The span attributes of remote calls between services (the contract of issue 22; see
// docs/commands/diagnose.md).
const (
	attrServiceName  = "service.name"
	attrCallAttempt  = "headroom.call.attempt"
	attrCallAttempts = "headroom.call.attempts" // on the parent span of one logical call's attempts
	attrCallHedge    = "headroom.call.hedge"
	attrErrorType    = "error.type"
)

// svcCall is one client span on a hop in one request.
type svcCall struct {
	caller, peer string
	call         time.Duration
	network      time.Duration
	seen         bool // the callee's server span is in the trace: network is known
	failed       bool
}

// svcRequest is what one request's trace says about its services.
type svcRequest struct {
	crossed bool
	self    map[string]time.Duration // per service
	calls   []svcCall
}

// svcHit is what a service finding's hit adds to [hit].
type svcHit struct {
	attempts, errors int
	// network is network_hop's network time and call its calls' time, in this request.
	network, call time.Duration
}

// failed reports whether a call's attempt failed: an error type, a 5xx or a 429.
func failed(s *Span) bool {
	st := status(s)
	return s.Attrs[attrErrorType] != "" || st >= 500 || st == 429
}

// hasDeadline reports whether a call records a deadline or timeout (headroom.call.deadline_ms
// or any attribute so named).
func hasDeadline(s *Span) bool {
	for k := range s.Attrs {
		if strings.Contains(k, "deadline") || strings.Contains(k, "timeout") {
			return true
		}
	}
	return false
}

// isRemote reports whether a client span is a call to another service (peer.service), not an edge
// node's origin fetch (the edge breakdown's link).
func (n *node) isRemote() bool {
	return n.s.Kind == KindClient && n.at.peerService != "" && !isOriginFetch(n.s)
}

// callOf is the node whose operation names a remote call for grouping: the child itself when it
// is an HTTP client span, the first attempt when it is a logical call's parent; nil otherwise.
func callOf(a *analyzed, n *node) *node {
	if n.cat == CatHTTP {
		return n
	}
	if n.at.logical {
		for _, c := range n.children {
			if cn := &a.nodes[c]; cn.s.Kind == KindClient {
				return cn
			}
		}
	}
	return nil
}

// peerOf is the peer.service a remote call calls, or its first attempt's for a logical call.
func peerOf(a *analyzed, n *node) string {
	if p := n.at.peerService; p != "" || !n.at.logical {
		return p
	}
	for _, c := range n.children {
		if cn := &a.nodes[c]; cn.s.Kind == KindClient {
			return cn.at.peerService
		}
	}
	return ""
}

// svcScan reads the services of one trace (its breakdown) and finds the service kinds in it;
// e is its endpoint, which judges missing_deadline against its P50.
func (d *diagnoser) svcScan(a *analyzed, e *endpoint) svcRequest {
	// Scratch reused from trace to trace: most traces cross no service, and pay for little.
	svc := slices.Grow(d.svcNames[:0], len(a.nodes))[:len(a.nodes)]
	d.svcNames = svc
	self := d.svcSelf
	clear(self)
	for _, i := range a.order {
		n := &a.nodes[i]
		svc[i] = n.at.service
		if svc[i] == "" && n.parent >= 0 {
			svc[i] = svc[n.parent]
		}
	}
	var r svcRequest
	for _, i := range a.order {
		n := &a.nodes[i]
		d.retries(a, n)
		d.serialFanout(a, n)
		if !n.isRemote() {
			self[svc[i]] += n.self
			continue
		}
		var server *node
		for _, c := range n.children {
			if cn := &a.nodes[c]; cn.s.Kind == KindServer && (server == nil || dur(cn) > dur(server)) {
				server = cn
			}
		}
		c := svcCall{caller: svc[i], peer: n.at.peerService, call: dur(n), failed: failed(n.s)}
		if server != nil {
			c.seen, c.network = true, max(dur(n)-dur(server), 0)
			r.crossed = true
		}
		r.calls = append(r.calls, c)
		if !hasDeadline(n.s) && c.call >= MissingDeadlineMin {
			op := c.peer + " " + d.operation(n)
			e.deadlineCall(d, hitKey{kind: result.KindMissingDeadline, endpoint: a.endpoint, op: op},
				hit{trace: a.id, latency: a.latency, count: 1, time: c.call})
		}
	}
	if r.crossed {
		d.networkHops(a, r.calls)
		r.self = maps.Clone(self)
	}
	return r
}

// remoteChildren counts n's children that are remote or logical calls, up to enough.
func remoteChildren(a *analyzed, n *node, enough int) int {
	k := 0
	for _, c := range n.children {
		if cn := &a.nodes[c]; cn.isRemote() || cn.at.logical {
			if k++; k == enough {
				break
			}
		}
	}
	return k
}

// retries finds retry storms among n's children: sibling attempts of one call (client spans to
// one peer and operation, hedged copies aside), most of them failed.
func (d *diagnoser) retries(a *analyzed, n *node) {
	if len(n.children) < RetryStormMinAttempts || remoteChildren(a, n, RetryStormMinAttempts) < RetryStormMinAttempts {
		return
	}
	type gk struct{ peer, op string }
	groups := map[gk][]*node{}
	for _, c := range n.children {
		cn := &a.nodes[c]
		if !cn.isRemote() || cn.s.Attrs[attrCallHedge] == "true" {
			continue
		}
		k := gk{cn.at.peerService, d.operation(cn)}
		groups[k] = append(groups[k], cn)
	}
	for k, g := range groups {
		if len(g) < RetryStormMinAttempts {
			continue
		}
		errs := 0
		var kept *node // the attempt a breaker or budget would have left: the success, else the first
		ws, we := g[0].ws, g[0].we
		for _, cn := range g {
			if failed(cn.s) {
				errs++
			} else if kept == nil {
				kept = cn
			}
			ws, we = min(ws, cn.ws), max(we, cn.we)
		}
		if float64(errs) <= RetryStormMinErrorShare*float64(len(g)) {
			continue
		}
		if kept == nil {
			kept = g[0]
			for _, cn := range g {
				if cn.ws < kept.ws {
					kept = cn
				}
			}
		}
		window := time.Duration(we - ws)
		d.add(hitKey{kind: result.KindRetryStorm, endpoint: a.endpoint, op: k.peer + " " + k.op}, a,
			hit{count: len(g), time: window, saving: window - dur(kept), svc: &svcHit{attempts: len(g), errors: errs}})
	}
}

// serialFanout finds runs of n's children that are remote calls to at least
// SerialFanoutMinCalls different peers, each started after the previous ended: they could run
// concurrently. A run that is already a
// consecutive_http is left to it.
func (d *diagnoser) serialFanout(a *analyzed, n *node) {
	if len(n.children) < SerialFanoutMinCalls || n.at.logical || remoteChildren(a, n, SerialFanoutMinCalls) < SerialFanoutMinCalls {
		return
	}
	type call struct {
		n    *node
		op   string
		peer string
	}
	var calls []call
	for _, c := range n.children {
		cn := &a.nodes[c]
		if !cn.isRemote() && !cn.at.logical {
			continue
		}
		op := cn.s.Name
		if call := callOf(a, cn); call != nil {
			op = d.operation(call)
		}
		p := peerOf(a, cn)
		if p != "" {
			op = p + " " + op
		}
		calls = append(calls, call{cn, op, p})
	}
	slices.SortFunc(calls, func(x, y call) int { return cmp.Compare(x.n.ws, y.n.ws) })
	var run []call
	flush := func() {
		defer func() { run = run[:0] }()
		if len(run) < SerialFanoutMinCalls || d.inConsecutive[run[0].n] {
			return
		}
		seen, peers := map[string]bool{}, map[string]bool{}
		var sum, longest time.Duration
		ops := make([]string, 0, len(run))
		for _, c := range run {
			if seen[c.op] { // a repeat: an N+1 or a retry, not a fan-out
				return
			}
			seen[c.op], peers[c.peer] = true, true
			sum += dur(c.n)
			longest = max(longest, dur(c.n))
			ops = append(ops, c.op)
		}
		// Calls to one service one after another are most often one step feeding the next
		// (create an order, charge it, settle it): a fan-out asks different services.
		if len(peers) < SerialFanoutMinCalls {
			return
		}
		if saved := sum - longest; saved >= SerialFanoutMinSaved {
			d.add(hitKey{kind: result.KindSerialFanout, endpoint: a.endpoint, op: strings.Join(ops, "; ")}, a,
				hit{count: len(run), time: sum, saving: saved})
		}
	}
	for _, c := range calls {
		if len(run) > 0 && c.n.ws < run[len(run)-1].n.we {
			flush()
		}
		run = append(run, c)
	}
	flush()
}

// networkHops adds, per hop of the request, its network time and its calls' time, for
// network_hop (judged over all the hop's requests in [svcFinding]).
func (d *diagnoser) networkHops(a *analyzed, calls []svcCall) {
	type hk struct{ caller, peer string }
	sums := map[hk]*svcHit{}
	for _, c := range calls {
		if !c.seen {
			continue
		}
		k := hk{c.caller, c.peer}
		h := sums[k]
		if h == nil {
			h = &svcHit{}
			sums[k] = h
		}
		h.attempts++
		h.network += c.network
		h.call += c.call
	}
	for k, h := range sums {
		d.add(hitKey{kind: result.KindNetworkHop, endpoint: a.endpoint, op: k.caller + " → " + k.peer}, a,
			hit{count: h.attempts, time: h.network, saving: h.network, svc: h})
	}
}

// svcFinding fills in a service finding from its hits: f has the kind's evidence and numbers.
// It reports false when the hits do not pass the kind's aggregate threshold.
func svcFinding(f *result.Finding, hs *hitAgg) bool {
	mean, pct := f.Evidence.TotalMS, f.ShareOfP99*100
	switch f.Kind {
	case result.KindRetryStorm:
		f.Evidence.AttemptsPerCall = round3(float64(hs.attempts) / float64(hs.n))
		f.Evidence.ErrorShare = round3(float64(hs.errors) / float64(hs.attempts))
		f.Summary = fmt.Sprintf("retry storm — %s is attempted %.1f× per call (up to %d), %.0f %% of the attempts failed, in %s; "+
			"%.0f ms per call, %.0f %% of P99 time", f.Evidence.Operation, f.Evidence.AttemptsPerCall, f.Evidence.Count,
			f.Evidence.ErrorShare*100, requests(hs.n), mean, pct)
		f.Remedy = "bound the retries: a retry budget (at most ~10 % extra calls), exponential backoff with jitter, retry only idempotent calls, and a circuit breaker that fails fast while the peer is down"
	case result.KindMissingDeadline:
		f.Evidence.Count = hs.n
		f.Summary = fmt.Sprintf("call without a deadline — %s has no deadline and lasted %.0f ms on average in %s (≥ %d× the endpoint's P50 and ≥ %v), %.0f %% of P99 time",
			f.Evidence.Operation, mean, requests(hs.n), MissingDeadlineP50Multiple, MissingDeadlineMin, pct)
		f.Remedy = "give each remote call a deadline derived from the request's remaining budget (propagated to the callee), so a slow or hung peer fails the call instead of holding the request"
	case result.KindSerialFanout:
		f.Summary = fmt.Sprintf("serial fan-out — %d calls to different services run one after another (%s), %.0f ms; concurrently they would save %.0f ms, %.0f %% of P99 time",
			f.Evidence.Count, f.Evidence.Operation, mean, f.EstimatedSavingMS, pct)
		f.Remedy = "run the independent calls concurrently (errgroup with the request's context), or add a batch endpoint that answers them in one call"
	case result.KindNetworkHop:
		network, call, calls := hs.network, hs.call, hs.attempts
		if call <= 0 || calls == 0 {
			return false
		}
		share, perCall := network/call, fromFloat(network/float64(calls))
		if share < NetworkHopMinShare || perCall < NetworkHopMin {
			return false
		}
		f.Evidence.NetworkShare = round3(min(share, 1))
		f.Evidence.Count = calls
		f.Summary = fmt.Sprintf("network-bound hop — on %s the network takes %.0f %% of each call (%.2f ms per call, %.1f calls per request), %.1f ms per request, %.0f %% of P99 time",
			f.Evidence.Operation, share*100, ms(perCall), float64(calls)/float64(hs.n), mean, pct)
		f.Remedy = "cut the round trips: co-locate the two services (same zone or process), batch the calls into one, or cache the callee's answers at the caller"
	}
	return true
}

// svcAgg reduces the services of one endpoint's requests, as they come, to its breakdown.
type svcAgg struct {
	requests int
	self     map[string]*dist // per service
	hops     map[hopKey]*hopAgg
}

type hopKey struct{ caller, peer string }

type hopAgg struct {
	calls, errors int
	call, network *dist
}

func (g *svcAgg) add(r svcRequest, exact int) {
	if !r.crossed {
		return
	}
	if g.self == nil {
		g.self, g.hops = map[string]*dist{}, map[hopKey]*hopAgg{}
	}
	g.requests++
	for s, t := range r.self {
		if g.self[s] == nil {
			g.self[s] = newDist(exact)
		}
		g.self[s].add(t)
	}
	for _, c := range r.calls {
		h := g.hops[hopKey{c.caller, c.peer}]
		if h == nil {
			h = &hopAgg{call: newDist(exact), network: newDist(exact)}
			g.hops[hopKey{c.caller, c.peer}] = h
		}
		h.calls++
		if c.failed {
			h.errors++
		}
		h.call.add(c.call)
		if c.seen {
			h.network.add(c.network)
		}
	}
}

// breakdown summarizes the requests of endpoint ep that crossed services, or reports false when
// none did.
func (g *svcAgg) breakdown(ep string) (result.ServiceBreakdown, bool) {
	if g.requests == 0 {
		return result.ServiceBreakdown{}, false
	}
	b := result.ServiceBreakdown{Endpoint: ep, Requests: g.requests, Services: []result.ServiceTime{}, Hops: []result.HopTime{}}
	for _, s := range slices.Sorted(maps.Keys(g.self)) {
		ds := g.self[s]
		b.Services = append(b.Services, result.ServiceTime{Service: s, MeanMS: ms(ds.mean()), Self: ds.tier()})
	}
	slices.SortStableFunc(b.Services, func(x, y result.ServiceTime) int { return cmp.Compare(y.MeanMS, x.MeanMS) })
	for k, h := range g.hops {
		b.Hops = append(b.Hops, result.HopTime{Caller: k.caller, Peer: k.peer, Calls: h.calls, Errors: h.errors,
			CallsPerRequest: round3(float64(h.calls) / float64(b.Requests)), Call: h.call.callTime(), Network: h.network.callTime()})
	}
	slices.SortFunc(b.Hops, func(x, y result.HopTime) int {
		return cmp.Or(cmp.Compare(y.Calls, x.Calls), strings.Compare(x.Caller, y.Caller), strings.Compare(x.Peer, y.Peer))
	})
	return b, true
}

// attemptOf is a call's headroom.call.attempt, 0 when absent or not a number.
func attemptOf(s *Span) int {
	a := s.Attrs[attrCallAttempt]
	if a == "" { // Atoi allocates its error: skip the absent attribute first
		return 0
	}
	v, err := strconv.Atoi(a)
	if err != nil {
		return 0
	}
	return v
}
