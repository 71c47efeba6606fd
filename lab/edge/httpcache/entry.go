package httpcache

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// entry is one stored response (one variant of a URI). It is never changed once stored: a
// revalidation stores a refreshed copy.
type entry struct {
	status int
	header http.Header // hop-by-hop fields, Age and Cache-Status removed; value slices clipped
	body   []byte

	vary       varySpec
	varyValues []string // the request's values of vary.names, normalized

	pol          policy
	responseTime time.Time
	etag         string
	lastModified time.Time // zero if absent or invalid
	weight       uint32
}

// age is the entry's current_age at now (RFC 9111 §4.2.3).
func (e *entry) age(now time.Time) time.Duration {
	return e.pol.initialAge + max(0, now.Sub(e.responseTime))
}

// ttl is the remaining freshness at now; negative once stale (RFC 9211's ttl parameter).
func (e *entry) ttl(now time.Time) time.Duration { return e.pol.freshness - e.age(now) }

// matches reports whether e was selected by a request with header h (RFC 9111 §4.1).
func (e *entry) matches(h http.Header) bool {
	if e.vary.star {
		return false
	}
	for i, name := range e.vary.names {
		if varyValue(h, name) != e.varyValues[i] {
			return false
		}
	}
	return true
}

// reuse is what a stored entry allows for one request at one time.
type reuse int

const (
	reuseFresh      reuse = iota + 1 // serve it
	reuseStale                       // serve it stale and revalidate in the background (stale-while-revalidate)
	reuseRevalidate                  // validate it with the origin first
)

// decide is the reuse rule of RFC 9111 §4 and RFC 5861 for entry e and request directives d at now.
func (e *entry) decide(d requestDirectives, now time.Time) reuse {
	age := e.age(now)
	switch {
	case e.pol.noCache || d.noCache:
		return reuseRevalidate
	case d.maxAge >= 0 && age > d.maxAge:
		return reuseRevalidate
	case age < e.pol.freshness:
		return reuseFresh
	case e.pol.mustRevalidate || e.pol.swr <= 0:
		return reuseRevalidate
	case age-e.pol.freshness <= e.pol.swr:
		return reuseStale
	}
	return reuseRevalidate
}

// staleIfError reports whether e may be served at now because the origin failed, given the
// cache's own window def for responses without stale-if-error (RFC 5861 §4, RFC 9111 §4.2.4).
func (e *entry) staleIfError(now time.Time, def time.Duration) bool {
	if e.pol.noCache || e.pol.mustRevalidate {
		return false
	}
	window := e.pol.sie
	if window < 0 {
		if e.pol.sMaxAge {
			return false // s-maxage implies proxy-revalidate unless the response says otherwise
		}
		window = def
	}
	return e.age(now)-e.pol.freshness <= window
}

// varySpec is a parsed Vary field: the request header names a response varies on, or "*".
type varySpec struct {
	names []string // canonical, without duplicates, in the order given
	star  bool
}

// parseVary parses every Vary line of h (RFC 9110 §12.5.5). Empty members and members that are
// not field names are skipped; "*" anywhere makes the response match no later request.
func parseVary(h http.Header) varySpec {
	var v varySpec
	for _, line := range h.Values("Vary") {
		for member := range strings.SplitSeq(line, ",") {
			member = strings.Trim(member, " \t")
			switch {
			case member == "*":
				v.star = true
			case !validToken(member):
			default:
				name := http.CanonicalHeaderKey(member)
				if !slices.Contains(v.names, name) {
					v.names = append(v.names, name)
				}
			}
		}
	}
	return v
}

func (v varySpec) equal(o varySpec) bool { return v.star == o.star && slices.Equal(v.names, o.names) }

// varyValue is the request's value of header name, its lines combined and the whitespace around
// list commas removed (RFC 9111 §4.1 allows such normalization), so "fr, en" and "fr,en" select
// the same variant.
func varyValue(h http.Header, name string) string {
	vals := h.Values(name)
	if len(vals) == 0 {
		return ""
	}
	s := strings.Join(vals, ",")
	if !strings.ContainsAny(s, " \t") {
		return s
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.Trim(p, " \t")
	}
	return strings.Join(parts, ",")
}

// variants are the stored responses of one URI, oldest first. A value in the store is never
// changed: an update stores a new one.
type variants struct {
	entries []*entry
	weight  uint32
}

// match returns the most recent variant selected by a request with header h, or nil.
func (s *variants) match(h http.Header) *entry {
	if s == nil {
		return nil
	}
	for _, e := range slices.Backward(s.entries) {
		if e.matches(h) {
			return e
		}
	}
	return nil
}

// with returns s with e replacing the variant it supersedes (same Vary and values) or added,
// dropping the oldest variants past maxVariants or maxWeight (weight counts key too).
func (s *variants) with(e *entry, key string, maxVariants int, maxWeight int64) *variants {
	var out []*entry
	if s != nil {
		out = make([]*entry, 0, len(s.entries)+1)
		for _, old := range s.entries {
			if !old.vary.equal(e.vary) || !slices.Equal(old.varyValues, e.varyValues) {
				out = append(out, old)
			}
		}
	}
	out = append(out, e)
	total := int64(len(key))
	for _, x := range out {
		total += int64(x.weight)
	}
	for len(out) > 1 && (len(out) > maxVariants || total > maxWeight) {
		total -= int64(out[0].weight)
		out = out[1:]
	}
	return &variants{entries: out, weight: uint32(total)}
}

// without returns s without e (nil when none is left).
func (s *variants) without(e *entry, key string) *variants {
	out := make([]*entry, 0, len(s.entries))
	total := uint32(len(key))
	for _, x := range s.entries {
		if x != e {
			out = append(out, x)
			total += x.weight
		}
	}
	if len(out) == 0 {
		return nil
	}
	return &variants{entries: out, weight: total}
}

// hopByHop are the fields a cache neither stores nor forwards (RFC 9110 §7.6.1), with Age and
// Cache-Status, which the cache writes itself.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Age", "Cache-Status",
}

// storedHeader is a copy of h without hop-by-hop fields (those Connection names included), each
// value slice clipped so that a later append by a handler copies instead of writing into it.
func storedHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		out[k] = slices.Clip(slices.Clone(v))
	}
	for _, c := range h.Values("Connection") {
		for name := range strings.SplitSeq(c, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopByHop {
		out.Del(name)
	}
	return out
}

func headerWeight(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
