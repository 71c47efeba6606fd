package httpcache

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzEvaluate feeds arbitrary response fields to the storage and freshness decision (our rules
// and cachecontrol's parser under them) and checks its invariants.
func FuzzEvaluate(f *testing.F) {
	for _, s := range [][5]string{
		{"max-age=60", "", "", "", ""},
		{"public, s-maxage=5, stale-while-revalidate=30", "Thu, 01 Jan 2026 00:00:00 GMT", "0", "", "Accept-Language"},
		{`no-cache="Set-Cookie", private`, "", "", "3", "*"},
		{"max-age=99999999999999999999", "-1", "Mon, 07 Dec 2026 12:00:00 GMT", "x", ""},
		{`stale-if-error=10, max-age="5"`, "", "", "", ","},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, cc, expires, lastModified, age, vary string) {
		h := http.Header{}
		for k, v := range map[string]string{"Cache-Control": cc, "Expires": expires, "Last-Modified": lastModified, "Age": age, "Vary": vary} {
			if v != "" {
				h.Set(k, v)
			}
		}
		p := evaluate(exchange{method: http.MethodGet, reqHeader: http.Header{}, status: 200, respHeader: h,
			requestTime: now, responseTime: now}, HeuristicMaxDefault)
		if p.freshness < 0 || p.initialAge < 0 {
			t.Fatalf("negative freshness %s or age %s", p.freshness, p.initialAge)
		}
		if p.storable == (p.reason != "") {
			t.Fatalf("storable %v with reason %q", p.storable, p.reason)
		}
		if p.heuristic && p.freshness > HeuristicMaxDefault {
			t.Fatalf("heuristic freshness %s above the cap", p.freshness)
		}
		e := &entry{pol: p, responseTime: now}
		_ = e.decide(parseRequestDirectives(hdr("Cache-Control", cc)), now.Add(time.Hour))
		v := parseVary(h)
		for _, n := range v.names {
			if n == "" || strings.ContainsAny(n, ", \t") {
				t.Fatalf("Vary name %q from %q", n, vary)
			}
		}
	})
}

// FuzzETagList checks the If-None-Match parser: never panics, and a tag always matches a list
// made of itself.
func FuzzETagList(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a", "b"`, `*`, `"`, `W/`, `"a",,"b"`, ` , "x"`} {
		f.Add(s, `"a"`)
	}
	f.Fuzz(func(t *testing.T, list, etag string) {
		_ = etagListMatches(list, etag)
		if _, ok := opaqueTag(etag); ok && !etagListMatches(etag, etag) {
			t.Fatalf("%q does not match itself", etag)
		}
	})
}
