package diagnose

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/result"
)

// minTailTraces is the least number of an endpoint's traces for a tail-vs-median comparison: with
// fewer, "the tail" and "the median" are the same few requests.
const minTailTraces = 5

// minTailLatencyTraces is the least number of an endpoint's traces for a tail_latency finding:
// its tail is then at least 2 requests (see tailSize). A quick doctor run sends about 11.
const minTailLatencyTraces = 10

// tailMinOfMedian is the least growth in the tail, as a fraction of the median latency, for a
// tail_latency finding.
const tailMinOfMedian = 0.1

// tailSize is how many of n requests make the tail: the slowest 1 %, and at least the slowest
// few (3, or a fifth of n when that is fewer), because one request says little about the tail.
func tailSize(n int) int {
	return max(int(math.Ceil(float64(n)*0.01)), min(3, n/5), 1)
}

// tailVsMedian compares the mean self time per category and per operation of an endpoint's tail
// with that of its median requests (see [endpoint.tailAndMedian]), and lists what the tail
// spends more time on.
func (d *diagnoser) tailVsMedian(ep string, tail, median []*summary) *result.TailComparison {
	if len(tail) == 0 || len(median) == 0 {
		return nil
	}
	tc, tm := meanOf(tail, func(a *summary) []opTime { return a.comp }), meanOf(median, func(a *summary) []opTime { return a.comp })
	tl, ml := meanLatency(tail), meanLatency(median)
	gap := tl - ml
	if gap <= 0 {
		return nil
	}
	keys := map[opKey]bool{}
	for k := range tc {
		keys[k] = true
	}
	for k := range tm {
		keys[k] = true
	}
	var rows []result.Contribution
	for k := range keys {
		delta := tc[k] - tm[k]
		// Only what explains a visible part (≥ 5 %) of the gap is worth a line.
		if delta <= 0 || float64(delta) < 0.05*float64(gap) {
			continue
		}
		rows = append(rows, result.Contribution{Category: k.cat.String(), Operation: k.op, TailMS: ms(tc[k]), MedianMS: ms(tm[k]),
			DeltaMS: ms(delta), ShareOfGap: round3(float64(delta) / float64(gap))})
	}
	slices.SortFunc(rows, func(a, b result.Contribution) int {
		// Categories (no operation) first, then operations, each by delta.
		return cmp.Or(cmp.Compare(hasOp(a), hasOp(b)), cmp.Compare(b.DeltaMS, a.DeltaMS),
			strings.Compare(a.Category, b.Category), strings.Compare(a.Operation, b.Operation))
	})
	const maxRows = 8
	rows = rows[:min(len(rows), maxRows)]
	out := &result.TailComparison{Endpoint: ep, TailMS: ms(tl), MedianMS: ms(ml), OverRepresented: rows,
		TailTraceIDs: ids(tail, d.cfg.MaxEvidence), MedianTraceIDs: ids(median, d.cfg.MaxEvidence)}
	var parts []string
	for _, r := range rows {
		what := r.Category
		if r.Operation != "" {
			what = r.Operation
		}
		parts = append(parts, fmt.Sprintf("%s +%.1f ms (%.0f %% of the gap)", what, r.DeltaMS, r.ShareOfGap*100))
		if len(parts) == 3 {
			break
		}
	}
	out.Summary = fmt.Sprintf("the %d slowest requests take %.1f ms, the %d median ones %.1f ms", len(tail), ms(tl), len(median), ms(ml))
	if len(parts) > 0 {
		out.Summary += "; over-represented in the tail: " + strings.Join(parts, ", ")
	} else {
		out.Summary += "; no category or operation stands out: the tail is slower across the board"
	}
	return out
}

// composition fills m with one request's self time by category (operation "") and by category
// and operation, and returns it.
func (d *diagnoser) composition(a *analyzed, m map[opKey]time.Duration) map[opKey]time.Duration {
	clear(m)
	for _, i := range a.order {
		n := &a.nodes[i]
		if n.self <= 0 {
			continue
		}
		m[opKey{n.cat, ""}] += n.self
		m[opKey{n.cat, d.operation(n)}] += n.self
	}
	return m
}

func hasOp(c result.Contribution) int {
	if c.Operation != "" {
		return 1
	}
	return 0
}

func meanLatency(as []*summary) time.Duration {
	var s float64
	for _, a := range as {
		s += float64(a.latency)
	}
	return fromFloat(s / float64(len(as)))
}

// ids lists up to n trace ids, slowest first.
func ids(as []*summary, n int) []string {
	out := []string{}
	for i := len(as) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, as[i].id)
	}
	return out
}

// tailLatency attributes an endpoint's tail: it compares each operation's mean time on the
// critical path in the tail requests with that in the median ones, and reports the operation
// whose time grows most, when that growth passes Config.TailMinExtra and explains at least
// Config.TailMinShareOfGap of the tail's extra latency. e is the endpoint; p99 its P99.
func (d *diagnoser) tailLatency(ep string, e *endpoint, tail, median []*summary, p99 time.Duration) (result.Finding, bool) {
	if e.n < minTailLatencyTraces || len(tail) == 0 || len(median) == 0 {
		return result.Finding{}, false
	}
	gap := meanLatency(tail) - meanLatency(median)
	if gap <= 0 {
		return result.Finding{}, false
	}
	path := func(a *summary) []opTime { return a.path }
	tm, mm := meanOf(tail, path), meanOf(median, path)
	var top opKey
	var topDelta time.Duration
	for k, t := range tm {
		delta := t - mm[k]
		if delta > topDelta || (delta == topDelta && delta > 0 && cmp.Or(cmp.Compare(k.cat, top.cat), strings.Compare(k.op, top.op)) < 0) {
			top, topDelta = k, delta
		}
	}
	// A tail a few percent above the median is no tail: the growth must also reach a tenth of
	// the median latency.
	if topDelta < d.cfg.TailMinExtra || float64(topDelta) < d.cfg.TailMinShareOfGap*float64(gap) ||
		float64(topDelta) < tailMinOfMedian*float64(meanLatency(median)) {
		return result.Finding{}, false
	}
	// Its P50 over all the endpoint's requests, absent counting as 0: what a request usually
	// spends on it.
	var p50 time.Duration
	if o := e.opTimes[d.refOf(top)]; o != nil {
		p50 = o.quantileWithZeros(0.5, e.n-o.n)
	}
	// A tail request is explained by the operation when the operation's own excess over its P50
	// passes TailMinExtra and is at least half of the request's excess over the median latency.
	medianLat := meanLatency(median)
	var hs []hit
	var inExplained, saving float64
	for _, a := range tail {
		t := get(a.path, top)
		if excess := a.latency - medianLat; t-p50 >= d.cfg.TailMinExtra && 2*(t-p50) >= excess {
			hs = append(hs, hit{trace: a.id, latency: a.latency})
			inExplained += float64(t)
			saving += float64(t - p50)
		}
	}
	if len(hs) == 0 {
		return result.Finding{}, false
	}
	slices.SortFunc(hs, func(a, b hit) int {
		return cmp.Or(cmp.Compare(b.latency, a.latency), strings.Compare(a.trace, b.trace))
	})
	// Its time in the requests it explains, not over the whole tail, which can hold a request it
	// does not slow: a P99 that rests on one or two requests is theirs.
	n := float64(len(hs))
	inTail := fromFloat(inExplained / n)
	// Capping the operation at its P50 (a deadline, a hedge) saves its excess: never more than
	// its own time in those requests, nor than P99.
	est := min(fromFloat(saving/n), inTail, p99)
	share := 0.0
	if p99 > 0 {
		share = min(float64(inTail)/float64(p99), 1)
	}
	f := result.Finding{Kind: result.KindTailLatency, Endpoint: ep, ShareOfP99: round3(share), EstimatedSavingMS: ms(est),
		ShareOfP99Known: p99 > 0, EstimatedSavingKnown: p99 > 0,
		Evidence: result.Evidence{TraceIDs: d.evidence(hs), Count: len(hs), TotalMS: ms(inTail), P50MS: ms(p50), TailRequests: len(tail)},
		Remedy:   tailRemedy(top.cat)}
	if d.originFetches[top] {
		f.Remedy = tailRemedyEdge
	}
	if top.cat == CatDB {
		f.Evidence.Statement = top.op
	} else {
		f.Evidence.Operation = top.op
	}
	f.Summary = fmt.Sprintf("tail latency — %s takes %.0f ms %s against a P50 of %.0f ms, %.0f %% of P99 time",
		top.op, ms(inTail), explains(len(hs), len(tail)), ms(p50), share*100)
	return f, true
}

// explains says in which tail requests the operation is slow: "in the slowest request", "in 2 of
// the 3 slowest requests".
func explains(n, tail int) string {
	if tail == 1 {
		return "in the slowest request"
	}
	return fmt.Sprintf("in %d of the %d slowest requests", n, tail)
}

// tailRemedy is what bounds an operation's tail, by what the operation is.
func tailRemedy(c Category) string {
	switch c {
	case CatDB:
		return "check the query's plan in the slow runs (EXPLAIN ANALYZE: a missing index, a plan flip) and lock waits (blocking transactions); set a statement timeout"
	case CatPool:
		return "raise the pool size (within the database's connection limit) or hold connections for less time; bound the wait with a timeout"
	case CatLogging:
		return "ship logs asynchronously (a bounded in-process queue sent in batches), so the collector's slow moments stay off the request path"
	case CatInternal:
		return "profile the service under load (headroom profile: wall clock and CPU) to see what its own code waits on in the slow requests: locks, GC pauses, CPU saturation"
	default: // a remote call: HTTP, RPC, cache, queue, other
		return "give the call a deadline near its normal latency, retry within a retry budget, hedge a second request after its P95, and put a circuit breaker in front of the dependency"
	}
}

// tailRemedyEdge is the remedy when an edge's origin fetch makes the tail: the slowest requests
// are those the edge forwards, and a deadline would not make the origin nearer.
const tailRemedyEdge = "answer more at the edge: cache headers that let it keep the answer (public, s-maxage, stale-while-revalidate), " +
	"checks the edge can make itself (auth); and shorten the edge ↔ origin path (kept-alive connections, an origin nearer the edge)"

// pathByOp fills m with the time each operation spends on the trace's critical path, a remote
// service's spans charged to the call that reached it: that call is what the caller can bound.
func (d *diagnoser) pathByOp(a *analyzed, m map[opRef]time.Duration) {
	for _, s := range a.path {
		m[d.pathOp(a, s)] += s.d
	}
}

// pathOp is the operation a segment of the critical path is charged to.
func (d *diagnoser) pathOp(a *analyzed, s segment) opRef {
	n := &a.nodes[s.node]
	if n.call >= 0 {
		n = &a.nodes[n.call]
	}
	return d.ref(n)
}

// meanOf is, per operation, the mean over the requests as of the times of returns for each.
func meanOf(as []*summary, of func(*summary) []opTime) map[opKey]time.Duration {
	sums := map[opKey]float64{} // float64: years-long spans of a wrong clock would overflow a Duration
	for _, a := range as {
		for _, t := range of(a) {
			sums[t.k] += float64(t.d)
		}
	}
	m := make(map[opKey]time.Duration, len(sums))
	for k, v := range sums {
		m[k] = fromFloat(v / float64(len(as)))
	}
	return m
}
