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

// The thresholds of the edge findings.
const (
	// EdgeCacheableMinRepeats is the least number of repeat fetches of one GET key for an
	// edge_cacheable finding: with the first fetch, at least 5 origin fetches of one answer.
	EdgeCacheableMinRepeats = 4
	// EdgeCacheableWindow is how soon after an identical fetch of its key (same key, same answer)
	// a fetch is a repeat: a cache that kept the answer this long (s-maxage=60) would have
	// answered it without the origin.
	EdgeCacheableWindow = time.Minute
	// EdgeRejectableMinRequests is the least number of an endpoint's requests the origin rejected
	// for an edge_rejectable finding: one stray 401 is no pattern.
	EdgeRejectableMinRequests = 5
)

// The span attributes of the edge tier (the lab's edge node and origin write them; see
// docs/commands/diagnose.md).
const (
	attrTier         = "headroom.tier"
	attrAnsweredBy   = "edge.answered_by"
	attrCacheHit     = "edge.cache.hit"
	attrCacheKey     = "edge.cache.key"
	attrStorable     = "edge.cache.storable"
	attrFunctionName = "edge.function.name"
	attrFunctionOut  = "edge.function.outcome"
	attrPeerService  = "peer.service"
	attrAuthSource   = "lab.auth.source"
	attrAuthRejected = "lab.auth.rejected"
	attrETag         = "http.response.header.etag"
	attrCacheControl = "http.response.header.cache-control"
	attrURLPath      = "url.path"
	attrURLQuery     = "url.query"
	attrHTTPTarget   = "http.target"

	tierEdge      = "edge"
	peerOrigin    = "origin"
	originFetch   = "edge → origin" // the origin fetch's span name
	authFunction  = "auth"
	outcomeOnward = "continue" // an edge function let the request through
)

// answeredBy says who answered a request that crossed the edge (edge.answered_by).
type answeredBy string

// The answerers; an edge function's answer is answeredByFunction followed by its name.
const (
	answeredByCache    answeredBy = "cache"
	answeredByOrigin   answeredBy = "origin"
	answeredByFunction answeredBy = "function:"
	// answeredByEdge stands for a request without edge.answered_by that did not fetch from the
	// origin: the edge answered it, how the trace does not say.
	answeredByEdge answeredBy = "edge"
)

func (a answeredBy) atEdge() bool {
	return a == answeredByCache || a == answeredByEdge || strings.HasPrefix(string(a), string(answeredByFunction))
}

// authSource is where the origin found the request's identity (lab.auth.source).
type authSource string

// The identities a response may depend on: a response to such a request is per user.
const (
	authSourceEdge authSource = "edge"
	authSourceDB   authSource = "db"
)

// rejectionUnseenAtEdge is the rejection reason (lab.auth.rejected) a stateless edge check
// cannot see: a revoked session's token is still validly signed and unexpired.
const rejectionUnseenAtEdge = "revoked"

var keysStatus = []string{"http.response.status_code", "http.status_code"}

func status(s *Span) int {
	a := attr(s, keysStatus...)
	if a == "" { // Atoi allocates its error: skip the absent attribute first
		return 0
	}
	v, err := strconv.Atoi(a)
	if err != nil {
		return 0
	}
	return v
}

// edgeRequest is what one request's trace says about the edge tier.
type edgeRequest struct {
	crossed    bool // the trace holds an edge server span
	answeredBy answeredBy
	edge       time.Duration // the edge span minus the union of its origin fetches
	fetched    bool          // it fetched from the origin
	split      bool          // every fetch has the origin's server span: link and origin are known
	link       time.Duration
	origin     time.Duration
}

// edgeHit is what an edge finding's hit adds to [hit].
type edgeHit struct {
	label    string // edge_rejectable: "401 missing"; edge_cacheable: the answer
	noEdge   bool   // the trace has no edge: the time is the origin's own, a lower bound
	storable string // edge_cacheable: edge.cache.storable as recorded ("true", "false", "")
	control  string // edge_cacheable: the Cache-Control the origin answered with, when recorded
}

// edgeFetch is a candidate for edge_cacheable: one GET answered by the origin.
type edgeFetch struct {
	// The request's trace id, endpoint and latency: not its spans, which the stream drops.
	trace, endpoint string
	latency         time.Duration
	key             string
	answer          string
	at              time.Time
	time            time.Duration // the fetch past the edge, or the origin's time without an edge
	noEdge          bool
	storable        string
	control         string
}

func isEdgeSpan(s *Span) bool { return s.Kind == KindServer && s.Attrs[attrTier] == tierEdge }

func isOriginFetch(s *Span) bool {
	return s.Kind == KindClient && (s.Attrs[attrPeerService] == peerOrigin || s.Name == originFetch)
}

func dur(n *node) time.Duration { return time.Duration(n.we - n.ws) }

// edgeScan reads the edge tier of one trace: its breakdown, and the occurrences of
// edge_rejectable (as hits) and candidates for edge_cacheable (in d.fetches).
func (d *diagnoser) edgeScan(a *analyzed) edgeRequest {
	ei := int32(-1)
	for _, i := range a.order {
		if isEdgeSpan(a.nodes[i].s) {
			ei = i
			break
		}
	}
	if ei < 0 {
		d.originOnly(a)
		return edgeRequest{}
	}
	e := &a.nodes[ei]
	// The origin fetches under the edge span, not what the origin itself calls: a.order lists
	// parents before children, so each node inherits its parent's place.
	const (
		outside uint8 = iota
		inEdge
		inFetch
	)
	place := make([]uint8, len(a.nodes))
	var fetches []int32
	authorized := false
	for _, i := range a.order {
		n := &a.nodes[i]
		if n.parent >= 0 {
			place[i] = place[n.parent]
		}
		if i == ei {
			place[i] = inEdge
		}
		if place[i] != inEdge {
			continue
		}
		if isOriginFetch(n.s) {
			fetches = append(fetches, i)
			place[i] = inFetch
		}
		if n.s.Attrs[attrFunctionName] == authFunction && n.s.Attrs[attrFunctionOut] == outcomeOnward {
			authorized = true
		}
	}
	r := edgeRequest{crossed: true, answeredBy: answeredBy(e.s.Attrs[attrAnsweredBy])}
	if r.answeredBy == "" {
		r.answeredBy = answeredByEdge
		if len(fetches) > 0 {
			r.answeredBy = answeredByOrigin
		}
	}
	// A request answered at the edge did not wait for a fetch under its span: a stale entry
	// revalidated in the background (stale-while-revalidate) is the cache's work, not the
	// request's.
	if r.answeredBy.atEdge() {
		r.edge = dur(e)
		return r
	}
	r.fetched, r.split = len(fetches) > 0, len(fetches) > 0
	iv := d.iv[:0]
	var rejected *node
	var past time.Duration // the rejected fetch's time
	origins := make([]*node, len(fetches))
	for j, f := range fetches {
		fn := &a.nodes[f]
		if len(d.originFetches) < memoLimit {
			d.originFetches[opKey{fn.cat, d.operation(fn)}] = true
		}
		iv = append(iv, interval{fn.ws, fn.we})
		for _, c := range fn.children {
			if cn := &a.nodes[c]; cn.s.Kind == KindServer && (origins[j] == nil || dur(cn) > dur(origins[j])) {
				origins[j] = cn
			}
		}
		o := origins[j]
		if o == nil {
			r.split = false
			continue
		}
		r.link += dur(fn) - dur(o)
		r.origin += dur(o)
		if rejected == nil && isRejection(o.s) {
			rejected, past = o, dur(fn)
		}
	}
	r.edge = max(dur(e)-unionInPlace(iv), 0)
	d.iv = iv
	if rejected != nil {
		d.add(hitKey{kind: result.KindEdgeRejectable, endpoint: a.endpoint}, a,
			hit{count: 1, time: past, saving: past, edge: &edgeHit{label: rejection(rejected.s)}})
	}
	// A cache hit did not wait for the origin; an authorized request may get a per-user answer.
	if len(fetches) == 0 || e.s.Attrs[attrCacheHit] == "true" || authorized || attr(e.s, keysHTTPMethod...) != "GET" {
		return r
	}
	fn, o := &a.nodes[fetches[0]], origins[0]
	if o != nil && isAuthenticated(o.s) {
		return r
	}
	answer := answerOf(o, fn)
	if answer == "" {
		return r
	}
	key := e.s.Attrs[attrCacheKey]
	if key == "" {
		key = resourceOf(e.s)
	}
	if key == "" {
		return r
	}
	control := fn.s.Attrs[attrCacheControl]
	if o != nil {
		control = cmp.Or(o.s.Attrs[attrCacheControl], control)
	}
	d.fetches = append(d.fetches, edgeFetch{trace: a.id, endpoint: a.endpoint, latency: a.latency, key: key, answer: answer, at: fn.s.Start, time: dur(fn),
		storable: e.s.Attrs[attrStorable], control: control})
	return r
}

// originOnly reads a trace without an edge: a rejection by the server (edge_rejectable: the
// whole request's time at that server) and, from the root server span, a GET answered with an
// ETag (a candidate for edge_cacheable). Without an edge there is no Cache-Status and no size
// to compare: only a recorded ETag says that two answers are the same.
func (d *diagnoser) originOnly(a *analyzed) {
	for _, i := range a.order {
		if n := &a.nodes[i]; n.s.Kind == KindServer && isRejection(n.s) {
			d.add(hitKey{kind: result.KindEdgeRejectable, endpoint: a.endpoint}, a,
				hit{count: 1, time: dur(n), saving: dur(n), edge: &edgeHit{label: rejection(n.s), noEdge: true}})
			break
		}
	}
	r := &a.nodes[a.order[0]]
	s := r.s
	etag := s.Attrs[attrETag]
	if s.Kind != KindServer || etag == "" || attr(s, keysHTTPMethod...) != "GET" || isAuthenticated(s) || !cacheableStatus(status(s)) {
		return
	}
	key := resourceOf(s)
	if key == "" {
		return
	}
	d.fetches = append(d.fetches, edgeFetch{trace: a.id, endpoint: a.endpoint, latency: a.latency, key: key, answer: "etag " + etag, at: s.Start, time: dur(r), noEdge: true,
		control: s.Attrs[attrCacheControl]})
}

// isRejection reports whether an origin server span rejected the request for its credentials,
// for a reason an edge check could have seen.
func isRejection(s *Span) bool {
	reason := s.Attrs[attrAuthRejected]
	if reason == "" || reason == rejectionUnseenAtEdge {
		return false
	}
	st := status(s)
	return st == 401 || st == 403
}

func rejection(s *Span) string { return strconv.Itoa(status(s)) + " " + s.Attrs[attrAuthRejected] }

func isAuthenticated(s *Span) bool {
	src := authSource(s.Attrs[attrAuthSource])
	return src == authSourceEdge || src == authSourceDB
}

// cacheableStatus: a full answer, or a revalidation that found it unchanged.
func cacheableStatus(st int) bool { return st == 200 || st == 304 }

// answerOf is what the origin answered, as far as the spans say: its ETag, else its status and
// size; "" when they do not say (then two answers cannot be told the same).
func answerOf(o, fetch *node) string {
	spans := []*Span{fetch.s}
	if o != nil {
		spans = []*Span{o.s, fetch.s}
	}
	st := 0
	for _, s := range spans {
		st = cmp.Or(st, status(s))
	}
	if !cacheableStatus(st) {
		return ""
	}
	for _, s := range spans {
		if e := s.Attrs[attrETag]; e != "" {
			return "etag " + e
		}
	}
	for _, s := range spans {
		if size := bodySize(s); size > 0 {
			return fmt.Sprintf("%d, %d bytes", st, size)
		}
	}
	if st == 304 {
		return "304, not modified" // a revalidation: the same answer as the one it revalidated
	}
	return ""
}

// resourceOf is "GET /path?query" of a server span, or "" without a path.
func resourceOf(s *Span) string {
	p := s.Attrs[attrURLPath]
	if q := s.Attrs[attrURLQuery]; p != "" && q != "" {
		p += "?" + q
	}
	if p == "" {
		p = s.Attrs[attrHTTPTarget]
	}
	if p == "" {
		return ""
	}
	return attr(s, keysHTTPMethod...) + " " + p
}

// edgeCacheable turns the fetches into hits of edge_cacheable: per endpoint and key, a fetch
// that repeats an identical one within EdgeCacheableWindow is one the cache could have answered;
// a key with at least EdgeCacheableMinRepeats such repeats is a finding.
func (d *diagnoser) edgeCacheable() {
	type gk struct{ endpoint, key string }
	groups := map[gk][]edgeFetch{}
	for _, f := range d.fetches {
		k := gk{f.endpoint, f.key}
		groups[k] = append(groups[k], f)
	}
	for k, fs := range groups {
		slices.SortFunc(fs, func(x, y edgeFetch) int { return cmp.Or(x.at.Compare(y.at), strings.Compare(x.trace, y.trace)) })
		last := map[string]time.Time{}
		var repeats []edgeFetch
		for _, f := range fs {
			if prev, ok := last[f.answer]; ok && f.at.Sub(prev) < EdgeCacheableWindow {
				repeats = append(repeats, f)
			}
			last[f.answer] = f.at
		}
		if len(repeats) < EdgeCacheableMinRepeats {
			continue
		}
		for _, f := range repeats {
			d.addHit(hitKey{kind: result.KindEdgeCacheable, endpoint: k.endpoint, op: k.key}, hit{trace: f.trace, latency: f.latency, count: 1, time: f.time, saving: f.time,
				edge: &edgeHit{label: f.answer, noEdge: f.noEdge, storable: f.storable, control: f.control}})
		}
	}
}

// edgeFinding fills in an edge finding from its hits: f has the kind's evidence and numbers.
// total is the endpoint's request count. It reports false when the hits are too few.
func edgeFinding(f *result.Finding, hs *hitAgg, total int) bool {
	if f.Kind == result.KindEdgeRejectable && hs.n < EdgeRejectableMinRequests {
		return false
	}
	labels, noEdge, storable, notStorable := hs.labels, hs.noEdge, hs.storable, hs.notStorable
	control := ""
	if hs.control.edge != nil {
		control = hs.control.edge.control
	}
	f.Evidence.Count = hs.n
	if total > 0 {
		f.Evidence.RequestShare = round3(min(float64(hs.n)/float64(total), 1))
	}
	mean, pct := f.Evidence.TotalMS, f.ShareOfP99*100
	all := float64(hs.n) * mean
	what := describe(labels)
	switch f.Kind {
	case result.KindEdgeRejectable:
		f.Evidence.Reasons = labels
		f.Remedy = "validate the session token at the edge (an auth edge function: signature and expiry) and answer the rejection there, without the round trip to the origin"
		if noEdge {
			f.Summary = fmt.Sprintf("rejected by the origin — %s (%.0f %% of the endpoint's) rejected with %s take %.1f ms each at the origin, "+
				"%.0f %% of P99 time; no edge in these traces: the saving is their time at the origin, a lower bound (the user's round trip to the origin comes on top)",
				requests(hs.n), f.Evidence.RequestShare*100, what, mean, pct)
			break
		}
		f.Summary = fmt.Sprintf("rejected past the edge — %s (%.0f %% of the endpoint's) crossed the edge ↔ origin link to be rejected by the origin with %s, "+
			"%.1f ms each past the edge (%.0f ms in all), %.0f %% of P99 time", requests(hs.n), f.Evidence.RequestShare*100, what, mean, all, pct)
	case result.KindEdgeCacheable:
		f.Evidence.Answers = labels
		f.Remedy = "let the edge cache it: Cache-Control: public with an s-maxage that covers how long the answer stays the same (immutable for fingerprinted assets), and an ETag so that expiry costs a 304 revalidation, not a full fetch"
		why := ""
		switch {
		case notStorable > 0 && storable == 0:
			why = "; the origin's headers make it unstorable"
		case storable > 0 && notStorable == 0:
			why = "; stored, yet fetched again: its lifetime is short (or it was evicted)"
		}
		if control != "" {
			why += " (Cache-Control: " + control + ")"
		}
		if noEdge {
			f.Summary = fmt.Sprintf("cacheable at the edge — %s is answered again %d× within %.0f s of an identical answer (%s), %.1f ms each at the origin "+
				"(%.0f ms in all)%s, %.0f %% of P99 time; no edge in these traces: the saving is their time at the origin, a lower bound (the user's round trip to the origin comes on top)",
				f.Evidence.Operation, hs.n, EdgeCacheableWindow.Seconds(), what, mean, all, why, pct)
			break
		}
		f.Summary = fmt.Sprintf("cacheable at the edge — %s is fetched from the origin again %d× within %.0f s of an identical answer (%s), %.1f ms each past the edge "+
			"(%.0f ms in all)%s, %.0f %% of P99 time", f.Evidence.Operation, hs.n, EdgeCacheableWindow.Seconds(), what, mean, all, why, pct)
	}
	return true
}

// describe lists labels by count, most frequent first: `401 missing (12), 401 expired (3)`, or
// the one label alone.
func describe(labels map[string]int) string {
	keys := slices.Collect(maps.Keys(labels))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(labels[b], labels[a]), strings.Compare(a, b)) })
	if len(keys) == 1 {
		return keys[0]
	}
	const most = 3
	parts := make([]string, 0, most+1)
	for i, k := range keys {
		if i == most {
			parts = append(parts, fmt.Sprintf("%d more", len(keys)-most))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", k, labels[k]))
	}
	return strings.Join(parts, ", ")
}

// edgeAgg reduces the edge tier of one endpoint's requests, as they come, to its breakdown.
type edgeAgg struct {
	b                  result.EdgeBreakdown
	atEdge             int
	edge, link, origin *dist
}

func (g *edgeAgg) add(r edgeRequest, exact int) {
	if !r.crossed {
		return
	}
	if g.edge == nil {
		g.b.AnsweredBy = map[string]int{}
		g.edge, g.link, g.origin = newDist(exact), newDist(exact), newDist(exact)
	}
	g.b.Requests++
	g.b.AnsweredBy[string(r.answeredBy)]++
	if r.answeredBy.atEdge() {
		g.atEdge++
	}
	g.edge.add(r.edge)
	switch {
	case r.fetched && r.split:
		g.link.add(r.link)
		g.origin.add(r.origin)
	case r.fetched:
		g.b.OriginUnseen++
	}
}

// breakdown summarizes the requests of endpoint ep that crossed an edge, or reports false when
// none did.
func (g *edgeAgg) breakdown(ep string) (result.EdgeBreakdown, bool) {
	if g.b.Requests == 0 {
		return result.EdgeBreakdown{}, false
	}
	b := g.b
	b.Endpoint = ep
	b.AnsweredAtEdge = round3(float64(g.atEdge) / float64(b.Requests))
	b.Edge, b.Link, b.Origin = g.edge.tier(), g.link.tier(), g.origin.tier()
	return b, true
}

func tierTime(ds []time.Duration) result.TierTime {
	slices.Sort(ds)
	return result.TierTime{Requests: len(ds), P50MS: ms(percentile(ds, 0.5)), P99MS: ms(percentile(ds, 0.99))}
}
