package httpcache

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/cachecontrol/cacheobject"
)

// exchange is one request and the response the origin gave it, as the storage decision sees them.
type exchange struct {
	method       string
	reqHeader    http.Header
	status       int
	respHeader   http.Header
	requestTime  time.Time // when the cache sent the request (RFC 9111 §4.2.3 request_time)
	responseTime time.Time // when the response's header arrived (response_time)
}

// policy is what RFC 9111 (with RFC 5861) says about storing and reusing one response, decided
// once when the response arrives.
type policy struct {
	// storable: the response may be stored by a shared cache; reason says why not otherwise.
	storable bool
	reason   string
	// freshness is the freshness lifetime (§4.2.1); heuristic says it came from §4.2.2.
	freshness time.Duration
	heuristic bool
	// initialAge is corrected_initial_age (§4.2.3): the age the response had when it arrived.
	initialAge time.Duration
	// noCache: every reuse needs a successful validation (response no-cache, §5.2.2.4).
	noCache bool
	// mustRevalidate: must-revalidate or proxy-revalidate: never served stale (§5.2.2.2, §5.2.2.8).
	mustRevalidate bool
	// sMaxAge: s-maxage was present, which implies proxy-revalidate for a shared cache
	// (§5.2.2.10); only an explicit stale-* directive of the response then allows stale reuse.
	sMaxAge bool
	// swr and sie are the response's stale-while-revalidate and stale-if-error windows (RFC
	// 5861); -1 when absent.
	swr, sie time.Duration
}

// Reasons a response is not stored, beside those of cachecontrol (see reasonText).
const (
	reasonStatus        = "status not cacheable"
	reasonSetCookie     = "Set-Cookie"
	reasonBadDirectives = "malformed Cache-Control"
	reasonNoFreshness   = "no freshness and no validator"
)

// heuristicallyCacheable is RFC 9110 §15.1's list of status codes cacheable by default. It adds
// 308 to cachecontrol's RFC 7231 list and leaves out 206: this cache does not combine ranges.
func heuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// evaluate decides storage and freshness for x in a shared cache. cachecontrol parses the
// Cache-Control fields and applies the rules it gets right (method, request and response
// no-store, private, Authorization §3.5); the status-code rule, Expires, Age and the heuristic
// are computed here, because cachecontrol gets them wrong for RFC 9111 (see doc.go).
func evaluate(x exchange, heuristicMax time.Duration) policy {
	p := policy{swr: -1, sie: -1}
	resp, err := cacheobject.ParseResponseCacheControl(joinedField(x.respHeader, "Cache-Control"))
	if err != nil {
		p.reason = reasonBadDirectives
		return p
	}
	req, err := cacheobject.ParseRequestCacheControl(joinedField(x.reqHeader, "Cache-Control"))
	if err != nil {
		// Request directives only ask; malformed ones are ignored rather than refused.
		req, _ = cacheobject.ParseRequestCacheControl("")
	}
	obj := cacheobject.Object{
		RespDirectives: resp,
		RespHeaders:    x.respHeader,
		RespStatusCode: x.status,
		ReqDirectives:  req,
		ReqHeaders:     x.reqHeader,
		ReqMethod:      x.method,
		NowUTC:         x.responseTime.UTC(),
	}
	var rv cacheobject.ObjectResults
	cacheobject.CachableObject(&obj, &rv)
	for _, r := range rv.OutReasons {
		if r == cacheobject.ReasonResponseUncachableByDefault {
			continue // replaced by the RFC 9110 status list below
		}
		p.reason = reasonText(r)
		return p
	}

	p.noCache = resp.NoCachePresent
	p.mustRevalidate = resp.MustRevalidate || resp.ProxyRevalidate
	p.sMaxAge = resp.SMaxAge >= 0
	if resp.StaleWhileRevalidate >= 0 {
		p.swr = seconds(resp.StaleWhileRevalidate)
	}
	if resp.StaleIfError >= 0 {
		p.sie = seconds(resp.StaleIfError)
	}

	date, dateOK := parseHTTPDate(x.respHeader, "Date")
	if !dateOK {
		date = x.responseTime
	}
	p.initialAge = initialAge(x, date)

	explicit := true
	switch {
	case resp.SMaxAge >= 0:
		p.freshness = seconds(resp.SMaxAge)
	case resp.MaxAge >= 0:
		p.freshness = seconds(resp.MaxAge)
	case len(x.respHeader.Values("Expires")) > 0:
		// §5.3: an invalid date, "0" included, or more than one Expires means already expired.
		if exp, ok := parseHTTPDate(x.respHeader, "Expires"); ok && len(x.respHeader.Values("Expires")) == 1 {
			p.freshness = max(0, exp.Sub(date))
		}
	default:
		explicit = false
	}

	switch {
	case x.status == http.StatusPartialContent || x.status == http.StatusNotModified || x.status < 200:
		p.reason = reasonStatus
		return p
	case !explicit && !resp.Public && !heuristicallyCacheable(x.status):
		p.reason = reasonStatus
		return p
	case len(x.respHeader.Values("Set-Cookie")) > 0:
		// Not RFC 9111's rule but every CDN's (Varnish's builtin VCL, Cloudflare): a stored
		// Set-Cookie would hand one user's cookie to everyone.
		p.reason = reasonSetCookie
		return p
	}

	if !explicit {
		if lm, ok := parseHTTPDate(x.respHeader, "Last-Modified"); ok && lm.Before(date) {
			p.freshness = min(date.Sub(lm)/heuristicFraction, heuristicMax)
			p.heuristic = true
		}
	}
	if p.freshness <= 0 && !hasValidator(x.respHeader) && p.swr <= 0 && p.sie <= 0 {
		p.reason = reasonNoFreshness // never reusable: storing it would only evict others
		return p
	}
	p.storable = true
	return p
}

// initialAge is corrected_initial_age of RFC 9111 §4.2.3.
func initialAge(x exchange, date time.Time) time.Duration {
	apparent := max(0, x.responseTime.Sub(date))
	var ageValue time.Duration
	if v := x.respHeader.Get("Age"); v != "" {
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 31); err == nil {
			ageValue = time.Duration(n) * time.Second
		}
	}
	corrected := ageValue + max(0, x.responseTime.Sub(x.requestTime))
	return max(apparent, corrected)
}

func seconds(d cacheobject.DeltaSeconds) time.Duration { return time.Duration(d) * time.Second }

// joinedField is a field's lines combined as RFC 9110 §5.3 says (comma-separated), so that a
// directive on a second Cache-Control line is seen; cachecontrol reads the first line only.
func joinedField(h http.Header, name string) string {
	v := h.Values(name)
	switch len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	}
	return strings.Join(v, ", ")
}

func parseHTTPDate(h http.Header, name string) (time.Time, bool) {
	v := h.Get(name)
	if v == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	return t, err == nil
}

func hasValidator(h http.Header) bool {
	return h.Get("ETag") != "" || h.Get("Last-Modified") != ""
}

func reasonText(r cacheobject.Reason) string {
	switch r {
	case cacheobject.ReasonRequestNoStore:
		return "request no-store"
	case cacheobject.ReasonRequestAuthorizationHeader:
		return "Authorization without public, s-maxage or must-revalidate"
	case cacheobject.ReasonResponseNoStore:
		return "no-store"
	case cacheobject.ReasonResponsePrivate:
		return "private"
	default:
		return "method " + strings.TrimPrefix(r.String(), "ReasonRequestMethod")
	}
}

// requestDirectives are the request Cache-Control directives this cache honours (§5.2.1).
type requestDirectives struct {
	noCache      bool          // no-cache (or Pragma: no-cache without Cache-Control): validate first
	maxAge       time.Duration // max-age: a stored response older than this is validated; -1 absent
	onlyIfCached bool          // only-if-cached: 504 rather than contact the origin
}

func parseRequestDirectives(h http.Header) requestDirectives {
	d := requestDirectives{maxAge: -1}
	cc := joinedField(h, "Cache-Control")
	if cc == "" {
		d.noCache = strings.Contains(strings.ToLower(joinedField(h, "Pragma")), "no-cache")
		return d
	}
	req, err := cacheobject.ParseRequestCacheControl(cc)
	if err != nil {
		return d
	}
	d.noCache = req.NoCache
	d.onlyIfCached = req.OnlyIfCached
	if req.MaxAge >= 0 {
		d.maxAge = seconds(req.MaxAge)
	}
	return d
}
