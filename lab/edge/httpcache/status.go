package httpcache

import (
	"strconv"
	"strings"
	"time"
)

// Outcome is what the cache did for one request; its values are the `result` label of the
// edge's headroom_edge_cache_total metric.
type Outcome string

// Outcomes of Serve.
const (
	// OutcomeHit: a fresh stored response answered.
	OutcomeHit Outcome = "hit"
	// OutcomeMiss: the origin's full response answered (no usable stored response, a
	// hit-for-pass URI, or a revalidation that brought a new body).
	OutcomeMiss Outcome = "miss"
	// OutcomeStale: a stale stored response answered, under stale-while-revalidate (a background
	// revalidation runs) or stale-if-error (the origin failed).
	OutcomeStale Outcome = "stale"
	// OutcomeBypass: the request was not for the cache (an unsafe or unknown method, a Range
	// request) and went to the origin untouched.
	OutcomeBypass Outcome = "bypass"
	// OutcomeCollapsed: the request waited for another request's origin fetch of the same key
	// and was answered with its stored result.
	OutcomeCollapsed Outcome = "collapsed"
	// OutcomeRevalidated: a stored response was validated with the origin (304) and answered.
	OutcomeRevalidated Outcome = "revalidated"
)

// Result describes what Serve did with one request, for the edge's spans and metrics.
type Result struct {
	// Status is the Cache-Status field member written, such as "headroom-edge; hit; ttl=52".
	Status string
	// Outcome is what the cache did.
	Outcome Outcome
	// Hit is true when a stored response answered (OutcomeHit or OutcomeStale); the span's
	// edge.cache.hit and answered_by="cache".
	Hit bool
	// Storable is true when the response that answered may be stored by a shared cache per
	// RFC 9111 (and this cache's Set-Cookie rule), whatever its size; the span's
	// edge.cache.storable.
	Storable bool
	// Stored is true when this request stored or refreshed a response in the cache.
	Stored bool
	// Key is the cache's primary key of the request (host and request URI), empty for a
	// bypass; the span's edge.cache.key.
	Key string
}

// Stats are the cache's counters since New, for metrics. Each Serve counts one Outcome.
type Stats struct {
	Hit, Miss, Stale, Bypass, Collapsed, Revalidated uint64
	// Bytes is the stored weight (bodies, header fields, keys) now; at most about MaxBytes.
	Bytes uint64
	// Entries is the number of stored responses now (every Vary variant counts).
	Entries int64
	// Waiting is the number of requests waiting now for another request's origin fetch.
	Waiting int64
}

// cacheStatus builds one Cache-Status member (RFC 9211 §2).
type cacheStatus struct {
	b strings.Builder
}

func newStatus(name string) *cacheStatus {
	s := &cacheStatus{}
	s.b.Grow(64)
	s.b.WriteString(name)
	return s
}

func (s *cacheStatus) param(p string) *cacheStatus {
	s.b.WriteString("; ")
	s.b.WriteString(p)
	return s
}

func (s *cacheStatus) fwd(reason string) *cacheStatus { return s.param("fwd=" + reason) }

func (s *cacheStatus) fwdStatus(code int) *cacheStatus {
	if code == 0 {
		return s
	}
	return s.param("fwd-status=" + strconv.Itoa(code))
}

func (s *cacheStatus) ttl(d time.Duration) *cacheStatus {
	return s.param("ttl=" + strconv.FormatInt(int64(d/time.Second), 10))
}

func (s *cacheStatus) flag(on bool, p string) *cacheStatus {
	if on {
		return s.param(p)
	}
	return s
}

func (s *cacheStatus) String() string { return s.b.String() }

// fwd reasons of RFC 9211 §2.2 that this cache uses.
const (
	fwdURIMiss  = "uri-miss"
	fwdVaryMiss = "vary-miss"
	fwdStale    = "stale"
	fwdRequest  = "request"
	fwdMethod   = "method"
	fwdBypass   = "bypass"
)
