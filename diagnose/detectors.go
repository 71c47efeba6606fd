package diagnose

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/result"
)

// hitKey groups the occurrences of one finding: a kind on an endpoint about one statement or call.
type hitKey struct {
	kind               result.Kind
	endpoint, stmt, op string
}

// hit is one trace's occurrence of a finding.
type hit struct {
	trace   string
	latency time.Duration
	count   int
	time    time.Duration // the finding's time in this trace
	saving  time.Duration // what the remedy would save in this trace
	share   float64       // sync_remote_call: share of the critical path
	bytes   int64
	// belowFloor marks N+1 repeats under NPlusOneMinTotal: reported, with low severity, only
	// when no trace shows them above it.
	belowFloor bool
	edge       *edgeHit // the edge kinds' details
	svc        *svcHit  // the service kinds' details
}

func (d *diagnoser) add(k hitKey, a *analyzed, h hit) {
	h.trace, h.latency = a.id, a.latency
	d.addHit(k, h)
}

// addHit reduces h, its trace and latency set, into its finding's aggregate.
func (d *diagnoser) addHit(k hitKey, h hit) {
	// What a request spends on one thing fits in the request, and a remedy saves at most that.
	h.time = min(max(h.time, 0), h.latency)
	h.saving = min(max(h.saving, 0), h.time)
	g := d.hits[k]
	if g == nil {
		g = &hitAggs{}
		d.hits[k] = g
	}
	i := 0
	if h.belowFloor {
		i = 1
	}
	g[i].add(h, d.cfg.MaxEvidence, d.prefer)
}

// detect runs every detector over one trace.
func (d *diagnoser) detect(a *analyzed) {
	cfg := d.cfg
	for _, i := range a.order {
		n := &a.nodes[i]
		d.repeats(a, n)
		d.consecutive(a, n)
		if n.at.stmt != "" && n.s.Duration() >= cfg.SlowQueryMin {
			d.add(hitKey{kind: result.KindSlowQuery, endpoint: a.endpoint, stmt: d.operation(n)}, a,
				hit{count: 1, time: n.s.Duration(), saving: n.s.Duration() - cfg.SlowQueryMin})
		}
		if size := n.at.bodySize; size >= cfg.LargePayloadBytes {
			op := d.operation(n)
			if n.s.Kind == KindServer || i == a.order[0] { // the endpoint's own response
				op = a.endpoint + " response"
			}
			dur := time.Duration(n.we - n.ws)
			// Transfer time scales with size: trimming to the threshold saves the rest.
			saving := time.Duration(float64(dur) * (1 - float64(cfg.LargePayloadBytes)/float64(size)))
			d.add(hitKey{kind: result.KindLargePayload, endpoint: a.endpoint, op: op}, a, hit{count: 1, time: dur, saving: saving, bytes: size})
		}
	}
	d.syncRemote(a)
	d.poolWait(a)
}

// repeats finds N+1 queries and N+1 HTTP calls among n's children.
func (d *diagnoser) repeats(a *analyzed, n *node) {
	// The children of one logical call are its attempts: retries (retry_storm), not repeats.
	if len(n.children) < min(d.cfg.NPlusOneMinCount, d.cfg.NPlusOneHTTPMinCount) || n.at.logical {
		return
	}
	type gk struct {
		http bool
		op   string
	}
	groups := map[gk][]*Span{}
	for _, c := range n.children {
		cn := &a.nodes[c]
		switch {
		case cn.at.stmt != "":
			k := gk{false, d.operation(cn)}
			groups[k] = append(groups[k], cn.s)
		case attemptOf(cn.s) > 1 || cn.s.Attrs[attrCallHedge] == "true":
			// A retry or a hedged copy of a call among its siblings repeats the call, not the work.
		default:
			if call := callOf(a, cn); call != nil {
				k := gk{true, d.operation(call)}
				groups[k] = append(groups[k], cn.s)
			}
		}
	}
	for k, g := range groups {
		op := k.op
		minCount, minTotal, kind := d.cfg.NPlusOneMinCount, d.cfg.NPlusOneMinTotal, result.KindNPlusOneDB
		key := hitKey{kind: kind, endpoint: a.endpoint, stmt: op}
		if k.http {
			minCount, minTotal, kind = d.cfg.NPlusOneHTTPMinCount, d.cfg.NPlusOneHTTPMinTotal, result.KindNPlusOneHTTP
			key = hitKey{kind: kind, endpoint: a.endpoint, op: op}
		}
		if len(g) < minCount {
			continue
		}
		u := spansUnion(g)
		// Fast repeats of a query (an embedded database) cost a round trip each across a
		// network: they are kept for a low-severity what-if; fast HTTP calls already made theirs.
		if u < minTotal && k.http {
			continue
		}
		// One batched query or call costs about one of the repeats.
		d.add(key, a, hit{count: len(g), time: u, saving: max(u-u/time.Duration(len(g)), 0), belowFloor: u < minTotal})
	}
}

func isSelect(stmt string) bool {
	s := strings.TrimSpace(stmt)
	return len(s) >= 6 && strings.EqualFold(s[:6], "SELECT")
}

// consecutive finds sequences of n's children that run one after the other although they could
// run in parallel: SELECTs (consecutive_db) and HTTP calls (consecutive_http).
func (d *diagnoser) consecutive(a *analyzed, n *node) {
	if len(n.children) < 2 || n.at.logical {
		return
	}
	cs := append(d.children[:0], n.children...)
	d.children = cs
	slices.SortFunc(cs, func(x, y int32) int { return a.nodes[x].s.Start.Compare(a.nodes[y].s.Start) })
	run := d.run[:0]
	defer func() { d.run = run }()
	var runHTTP bool
	flush := func() {
		if runHTTP {
			d.consecutiveHTTP(a, run)
		} else {
			d.consecutiveDB(a, run)
		}
		run = run[:0]
	}
	for _, c := range cs {
		cn := &a.nodes[c]
		isDB := isSelect(cn.at.stmt)
		isHTTP := callOf(a, cn) != nil
		if !isDB && !isHTTP {
			// Driver noise (a connection reset, a zero-length event span) does not separate calls.
			if cn.s.Duration() >= time.Millisecond {
				flush()
			}
			continue
		}
		if len(run) > 0 {
			last := run[len(run)-1].s
			if runHTTP != isHTTP || cn.s.Start.Before(last.End) ||
				(isHTTP && cn.s.Start.Sub(last.End) > d.cfg.ConsecutiveHTTPMaxGap) {
				flush()
			}
		}
		runHTTP = isHTTP
		run = append(run, cn)
	}
	flush()
}

// containsFold reports whether s contains the ASCII word w (letters) in any case, without the
// copy strings.ToUpper makes; EqualFold only where the first letter matches.
func containsFold(s, w string) bool {
	first := w[0] | 0x20 // lower case
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i]|0x20 == first && strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

func (d *diagnoser) consecutiveDB(a *analyzed, run []*node) {
	if len(run) < 2 {
		return
	}
	var total, maxIndep, sumDep time.Duration
	var indep []*node
	for i, n := range run {
		dur := n.s.Duration()
		total += dur
		stmt := n.at.stmt
		if i > 0 && !containsFold(stmt, "WHERE") && !reParam.MatchString(stmt) && !strings.HasSuffix(stmt, "...") {
			if dur <= d.cfg.ConsecutiveDBMinSpan {
				return
			}
			indep = append(indep, n)
			maxIndep = max(maxIndep, dur)
		} else {
			sumDep += dur
		}
	}
	if len(indep) == 0 {
		return
	}
	saved := total - max(maxIndep, sumDep)
	if saved < d.cfg.ConsecutiveDBMinSaved || float64(saved) < 0.1*float64(total) {
		return
	}
	ops := make([]string, 0, len(run))
	for _, n := range run {
		ops = append(ops, d.operation(n))
	}
	d.add(hitKey{kind: result.KindConsecutiveDB, endpoint: a.endpoint, stmt: strings.Join(ops, "; ")}, a,
		hit{count: len(run), time: total, saving: saved})
}

func (d *diagnoser) consecutiveHTTP(a *analyzed, run []*node) {
	if len(run) < d.cfg.ConsecutiveHTTPMinCount {
		return
	}
	var sum, longest time.Duration
	ops := make([]string, 0, len(run))
	for _, n := range run {
		dur := n.s.Duration()
		if dur < d.cfg.ConsecutiveHTTPMinSpan {
			return
		}
		sum += dur
		longest = max(longest, dur)
		ops = append(ops, d.operation(n))
	}
	if saved := sum - longest; saved >= d.cfg.ConsecutiveHTTPMinSaved {
		d.inConsecutive[run[0]] = true
		d.add(hitKey{kind: result.KindConsecutiveHTTP, endpoint: a.endpoint, op: strings.Join(ops, "; ")}, a,
			hit{count: len(run), time: sum, saving: saved})
	}
}

// syncRemote finds calls to non-critical dependencies on the critical path, by their time on it.
func (d *diagnoser) syncRemote(a *analyzed) {
	if a.latency <= 0 {
		return
	}
	onPath := map[int32]time.Duration{}
	for _, s := range a.path {
		if o := a.nodes[s.node].owner; o >= 0 {
			onPath[o] += s.d
		}
	}
	type gk struct{ dep, op string }
	byOp := map[gk]time.Duration{}
	counts := map[gk]int{}
	for o, t := range onPath {
		n := &a.nodes[o]
		k := gk{n.dep, d.operation(n)}
		byOp[k] += t
		counts[k]++
	}
	for k, t := range byOp {
		d.add(hitKey{kind: result.KindSyncRemoteCall, endpoint: a.endpoint, op: k.dep + "\x00" + k.op}, a,
			hit{count: counts[k], time: t, saving: t, share: float64(t) / float64(a.latency)})
	}
}

// attrPoolWaitTime is the semantic conventions' connection pool wait, in seconds.
const attrPoolWaitTime = "db.client.connection.wait_time"

// poolWait sums the time the request waited for pooled connections: pool-acquire spans and the
// db.client.connection.wait_time attribute (seconds, as the semantic conventions' metric).
func (d *diagnoser) poolWait(a *analyzed) {
	var wait time.Duration
	count := 0
	op := ""
	for _, i := range a.order {
		n := &a.nodes[i]
		if n.cat == CatPool {
			wait += time.Duration(n.we - n.ws)
			count++
			op = cmp.Or(op, n.s.Name)
		}
		if w := n.at.poolWait; w == "" {
			continue
		} else if v, err := strconv.ParseFloat(w, 64); err == nil && v > 0 && v < 1e6 {
			wait += time.Duration(v * float64(time.Second))
			count++
			op = cmp.Or(op, attrPoolWaitTime)
		}
	}
	if count > 0 && wait >= d.cfg.PoolWaitMin {
		d.add(hitKey{kind: result.KindPoolWait, endpoint: a.endpoint, op: op}, a, hit{count: count, time: wait, saving: wait})
	}
}

// finding turns a key's hits into one ranked finding, or none when the occurrences do not pass the
// kind's aggregate threshold. p99 is the endpoint's.
func (d *diagnoser) finding(k hitKey, g *hitAggs, p99 time.Duration) (result.Finding, bool) {
	hs := &g[0]
	low := hs.n == 0
	if low {
		hs = &g[1]
	}
	maxCount, maxBytes := hs.maxCount, hs.maxBytes
	n := float64(hs.n)
	mean, meanShare := fromFloat(hs.time/n), hs.share/n
	// The estimate is of P99's reduction: it cannot take P99 below zero.
	meanSaving := min(fromFloat(hs.saving/n), p99)
	shareP99 := 0.0
	if p99 > 0 {
		shareP99 = min(float64(mean)/float64(p99), 1)
	}
	f := result.Finding{Kind: k.kind, Endpoint: k.endpoint, ShareOfP99: round3(shareP99), EstimatedSavingMS: ms(meanSaving),
		ShareOfP99Known: p99 > 0, EstimatedSavingKnown: p99 > 0,
		Evidence: result.Evidence{TraceIDs: d.evidence(hs.hits()), Count: maxCount, Statement: k.stmt, Operation: k.op, TotalMS: ms(mean)}}
	pct := shareP99 * 100
	switch k.kind {
	case result.KindNPlusOneDB:
		f.Remedy = "batch it (one IN query or a join) or load the rows up front"
		if low {
			f.Severity = result.SeverityLow
			rtt := d.cfg.NPlusOneRoundTrip
			whatIf := time.Duration(maxCount) * rtt
			f.Evidence.WhatIfMS, f.Evidence.WhatIfRoundTripMS = ms(whatIf), ms(rtt)
			f.Summary = fmt.Sprintf("N+1 query (low: %g ms in all here, under the %g ms floor) — %s runs %d× per request under one parent: "+
				"%d queries per request; at %g ms per round trip this is +%g ms", ms(mean), ms(d.cfg.NPlusOneMinTotal), k.stmt, maxCount,
				maxCount, ms(rtt), ms(whatIf))
			break
		}
		f.Summary = fmt.Sprintf("N+1 query — %s runs %d× per request under one parent, %.0f %% of P99 time", k.stmt, maxCount, pct)
	case result.KindSlowQuery:
		f.Evidence.Count = hs.n
		f.Summary = fmt.Sprintf("slow query — %s takes %.0f ms on average in %d slow executions (≥ %v), %.0f %% of P99 time",
			k.stmt, ms(mean), hs.n, d.cfg.SlowQueryMin, pct)
		f.Remedy = "check its plan (EXPLAIN ANALYZE): add an index, narrow the rows, or cache the result"
	case result.KindNPlusOneHTTP:
		f.Summary = fmt.Sprintf("N+1 calls — %s is called %d× per request under one parent, %.0f %% of P99 time", k.op, maxCount, pct)
		f.Remedy = "batch the calls (one request for all ids) or cache the responses"
	case result.KindConsecutiveDB:
		f.Summary = fmt.Sprintf("%d independent queries run one after another (%s), %.0f ms; in parallel they would save %.0f ms",
			maxCount, k.stmt, ms(mean), ms(meanSaving))
		f.Remedy = "parallelize the independent queries (or combine them into one)"
	case result.KindConsecutiveHTTP:
		f.Summary = fmt.Sprintf("%d HTTP calls run one after another (%s), %.0f ms; in parallel they would save %.0f ms",
			maxCount, k.op, ms(mean), ms(meanSaving))
		f.Remedy = "parallelize the independent calls"
	case result.KindSyncRemoteCall:
		dep, op, _ := strings.Cut(k.op, "\x00")
		f.Evidence.Operation = op
		f.Evidence.Count = hs.n
		if meanShare < d.cfg.SyncRemoteMinShare || mean < d.cfg.SyncRemoteMin {
			return f, false
		}
		f.Summary = fmt.Sprintf("synchronous %s call — %s takes %.0f ms on the critical path (%.0f %% of it) in %s, %.0f %% of P99 time",
			dep, op, ms(mean), meanShare*100, requests(hs.n), pct)
		f.Remedy = syncRemedy[dep]
	case result.KindPoolWait:
		f.Summary = fmt.Sprintf("connection pool wait — requests wait %.0f ms on average for a connection (%s) in %s, %.0f %% of P99 time",
			ms(mean), k.op, requests(hs.n), pct)
		f.Evidence.Count = hs.n
		f.Remedy = "raise the pool size (within the database's connection limit) or hold connections for less time"
	case result.KindRetryStorm, result.KindMissingDeadline, result.KindSerialFanout, result.KindNetworkHop:
		if !svcFinding(&f, hs) {
			return f, false
		}
	case result.KindEdgeCacheable, result.KindEdgeRejectable:
		if !edgeFinding(&f, hs, d.requests[k.endpoint]) {
			return f, false
		}
	case result.KindLargePayload:
		f.Evidence.Bytes = maxBytes
		f.Evidence.Count = hs.n
		f.Summary = fmt.Sprintf("large payload — %s carries up to %.1f MB (≥ %d bytes) in %s, %.0f ms, %.0f %% of P99 time",
			k.op, float64(maxBytes)/1e6, d.cfg.LargePayloadBytes, requests(hs.n), ms(mean), pct)
		f.Remedy = "paginate or trim the payload, compress it, or cache it at the edge"
	}
	return f, true
}

func requests(n int) string {
	if n == 1 {
		return "1 request"
	}
	return fmt.Sprintf("%d requests", n)
}

var syncRemedy = map[string]string{
	"logging":       "ship logs asynchronously (a bounded in-process queue sent in batches), off the request path",
	"email":         "send it from an async queue (a job), not inside the request",
	"analytics":     "send analytics events asynchronously in batches, off the request path",
	"notifications": "send notifications from an async queue (a job), not inside the request",
}

func (d *diagnoser) evidence(hs []hit) []string {
	seen := map[string]bool{}
	for _, h := range hs {
		seen[h.trace] = true
	}
	ids := []string{}
	for _, id := range d.cfg.PreferTraceIDs {
		if seen[id] && len(ids) < d.cfg.MaxEvidence && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, h := range hs {
		if len(ids) < d.cfg.MaxEvidence && !slices.Contains(ids, h.trace) {
			ids = append(ids, h.trace)
		}
	}
	return ids
}
