package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	ago := func(d time.Duration) string { return now.Add(-d).Format(http.TimeFormat) }
	cases := []struct {
		name      string
		status    int
		req, resp http.Header
		storable  bool
		fresh     time.Duration
		age       time.Duration
	}{
		{"max-age", 200, nil, hdr("Cache-Control", "max-age=60", "Date", date), true, time.Minute, 0},
		{"s-maxage wins over max-age", 200, nil, hdr("Cache-Control", "max-age=60, s-maxage=5"), true, 5 * time.Second, 0},
		{"Expires minus Date", 200, nil, hdr("Date", date, "Expires", now.Add(time.Hour).Format(http.TimeFormat)), true, time.Hour, 0},
		{"Expires 0 is expired, kept for its ETag", 200, nil, hdr("Expires", "0", "ETag", `"e"`), true, 0, 0},
		{"Expires 0 without validator", 200, nil, hdr("Expires", "0"), false, 0, 0},
		{"two Expires are expired", 200, nil, hdr("Date", date, "Expires", ago(-time.Hour), "Expires", ago(-time.Hour), "ETag", `"e"`), true, 0, 0},
		{"heuristic 10%", 200, nil, hdr("Date", date, "Last-Modified", ago(10*time.Hour)), true, time.Hour, 0},
		{"heuristic capped", 200, nil, hdr("Date", date, "Last-Modified", ago(1000*24*time.Hour)), true, 24 * time.Hour, 0},
		{"308 heuristically cacheable", 308, nil, hdr("Date", date, "Last-Modified", ago(10*time.Hour)), true, time.Hour, 0},
		{"302 not by default", 302, nil, hdr("Date", date, "Last-Modified", ago(10*time.Hour)), false, 0, 0},
		{"302 with max-age", 302, nil, hdr("Cache-Control", "max-age=9"), true, 9 * time.Second, 0},
		{"public 302 heuristic", 302, nil, hdr("Cache-Control", "public", "Date", date, "Last-Modified", ago(10*time.Hour)), true, time.Hour, 0},
		{"206 never", 206, nil, hdr("Cache-Control", "max-age=60"), false, 0, 0},
		{"304 never", 304, nil, hdr("Cache-Control", "max-age=60"), false, 0, 0},
		{"Age and apparent age", 200, nil, hdr("Cache-Control", "max-age=60", "Age", "7", "Date", ago(3*time.Second)), true, time.Minute, 7 * time.Second},
		{"apparent age wins", 200, nil, hdr("Cache-Control", "max-age=60", "Age", "1", "Date", ago(3*time.Second)), true, time.Minute, 3 * time.Second},
		{"invalid Age ignored", 200, nil, hdr("Cache-Control", "max-age=60", "Age", "-5", "Date", date), true, time.Minute, 0},
		{"malformed Cache-Control", 200, nil, hdr("Cache-Control", "max-age=soon"), false, 0, 0},
		{"private", 200, nil, hdr("Cache-Control", "private, max-age=60"), false, 0, 0},
		{"qualified private", 200, nil, hdr("Cache-Control", `private="Set-Cookie", max-age=60`), false, 0, 0},
		{"Authorization", 200, hdr("Authorization", "Bearer x"), hdr("Cache-Control", "max-age=60"), false, 0, 0},
		{"Authorization public", 200, hdr("Authorization", "Bearer x"), hdr("Cache-Control", "public, max-age=60"), true, time.Minute, 0},
		{"no freshness, no validator", 200, nil, hdr("Content-Type", "text/plain"), false, 0, 0},
		{"no-cache with ETag", 200, nil, hdr("Cache-Control", "no-cache", "ETag", `"e"`), true, 0, 0},
		{"invalid Date ignored", 200, nil, hdr("Cache-Control", "max-age=60", "Date", "yesterday"), true, time.Minute, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := tc.req
			if req == nil {
				req = http.Header{}
			}
			p := evaluate(exchange{method: http.MethodGet, reqHeader: req, status: tc.status, respHeader: tc.resp,
				requestTime: now, responseTime: now}, HeuristicMaxDefault)
			if p.storable != tc.storable {
				t.Fatalf("storable = %v (%s), want %v", p.storable, p.reason, tc.storable)
			}
			if !tc.storable {
				return
			}
			if p.freshness != tc.fresh || p.initialAge != tc.age {
				t.Errorf("freshness %s, initial age %s; want %s, %s", p.freshness, p.initialAge, tc.fresh, tc.age)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	mk := func(cc string) *entry {
		p := evaluate(exchange{method: http.MethodGet, reqHeader: http.Header{}, status: 200,
			respHeader: hdr("Cache-Control", cc, "ETag", `"e"`), requestTime: at, responseTime: at}, HeuristicMaxDefault)
		return &entry{pol: p, responseTime: at}
	}
	none := requestDirectives{maxAge: -1}
	cases := []struct {
		name  string
		cc    string
		req   requestDirectives
		after time.Duration
		want  reuse
		sie   bool // staleIfError with no cache default; a fresh entry always may be
	}{
		{"fresh", "max-age=60", none, 30 * time.Second, reuseFresh, true},
		{"stale", "max-age=60", none, 61 * time.Second, reuseRevalidate, false},
		{"swr window", "max-age=60, stale-while-revalidate=30", none, 80 * time.Second, reuseStale, false},
		{"past swr", "max-age=60, stale-while-revalidate=30", none, 100 * time.Second, reuseRevalidate, false},
		{"swr but must-revalidate", "max-age=60, stale-while-revalidate=30, must-revalidate", none, 80 * time.Second, reuseRevalidate, false},
		{"no-cache", "no-cache, max-age=60", none, 0, reuseRevalidate, false},
		{"request no-cache", "max-age=60", requestDirectives{noCache: true, maxAge: -1}, 0, reuseRevalidate, true},
		{"request max-age", "max-age=60", requestDirectives{maxAge: 10 * time.Second}, 20 * time.Second, reuseRevalidate, true},
		{"sie window", "max-age=60, stale-if-error=60", none, 100 * time.Second, reuseRevalidate, true},
		{"sie with s-maxage explicit", "s-maxage=60, stale-if-error=60", none, 100 * time.Second, reuseRevalidate, true},
		{"sie past window", "max-age=60, stale-if-error=60", none, 200 * time.Second, reuseRevalidate, false},
		{"sie but proxy-revalidate", "max-age=60, stale-if-error=60, proxy-revalidate", none, 100 * time.Second, reuseRevalidate, false},
	}
	for _, tc := range cases {
		e := mk(tc.cc)
		now := at.Add(tc.after)
		if got := e.decide(tc.req, now); got != tc.want {
			t.Errorf("%s: decide = %d, want %d", tc.name, got, tc.want)
		}
		if got := e.staleIfError(now, 0); got != tc.sie {
			t.Errorf("%s: staleIfError = %v, want %v", tc.name, got, tc.sie)
		}
	}
	// The cache's default window applies, except under s-maxage without an explicit directive.
	if e := mk("max-age=60"); !e.staleIfError(at.Add(90*time.Second), time.Minute) {
		t.Error("Config.StaleIfError not applied")
	}
	if e := mk("s-maxage=60"); e.staleIfError(at.Add(90*time.Second), time.Minute) {
		t.Error("Config.StaleIfError applied under s-maxage")
	}
}

func TestVaryParsing(t *testing.T) {
	t.Parallel()
	v := parseVary(hdr("Vary", "accept-language, Accept-Encoding", "Vary", " ,Accept-Language"))
	if v.star || len(v.names) != 2 || v.names[0] != "Accept-Language" || v.names[1] != "Accept-Encoding" {
		t.Errorf("parseVary = %+v", v)
	}
	if !parseVary(hdr("Vary", "Origin, *")).star {
		t.Error(`"*" not seen`)
	}
	if a, b := varyValue(hdr("Accept-Language", "fr, en;q=0.5"), "Accept-Language"), varyValue(hdr("Accept-Language", "fr,en;q=0.5"), "Accept-Language"); a != b {
		t.Errorf("normalized values differ: %q, %q", a, b)
	}
}

func TestNotModified(t *testing.T) {
	t.Parallel()
	lm := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		h    http.Header
		etag string
		want bool
	}{
		{hdr("If-None-Match", `"a"`), `"a"`, true},
		{hdr("If-None-Match", `W/"a"`), `"a"`, true},
		{hdr("If-None-Match", `"b", W/"a"`), `W/"a"`, true},
		{hdr("If-None-Match", `"b"`), `"a"`, false},
		{hdr("If-None-Match", `*`), `"a"`, true},
		{hdr("If-None-Match", `"a`), `"a"`, false},
		{hdr("If-None-Match", `"b"`, "If-Modified-Since", lm.Format(http.TimeFormat)), `"a"`, false},
		{hdr("If-Modified-Since", lm.Format(http.TimeFormat)), `"a"`, true},
		{hdr("If-Modified-Since", lm.Add(-time.Second).Format(http.TimeFormat)), `"a"`, false},
	}
	for _, tc := range cases {
		if got := notModified(tc.h, tc.etag, lm); got != tc.want {
			t.Errorf("notModified(%v, %s) = %v, want %v", tc.h, tc.etag, got, tc.want)
		}
	}
}
