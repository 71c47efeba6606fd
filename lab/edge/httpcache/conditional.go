package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// conditionalFields are the request preconditions the cache strips from a fill: it fetches the
// whole representation (to store it) and answers the client's own conditions itself.
var conditionalFields = []string{"If-None-Match", "If-Modified-Since"}

// notModified reports whether a GET or HEAD with header h is answered 304 by a 200 response with
// validators etag and lastModified (RFC 9110 §13.1.2, §13.1.3, §13.2.2: If-None-Match first,
// If-Modified-Since only without it).
func notModified(h http.Header, etag string, lastModified time.Time) bool {
	if inm := h.Values("If-None-Match"); len(inm) > 0 {
		return etag != "" && etagListMatches(strings.Join(inm, ","), etag)
	}
	if lastModified.IsZero() {
		return false
	}
	ims, err := http.ParseTime(h.Get("If-Modified-Since"))
	return err == nil && !lastModified.After(ims)
}

// etagListMatches reports whether the If-None-Match list matches etag by weak comparison: "*"
// matches any, and W/"x" matches "x". A malformed member matches nothing.
func etagListMatches(list, etag string) bool {
	want, ok := opaqueTag(etag)
	if !ok {
		return false
	}
	for rest := list; ; {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return false
		}
		if rest[0] == '*' {
			return true
		}
		tag, tail, ok := scanETag(rest)
		if !ok {
			return false
		}
		if got, _ := opaqueTag(tag); got == want {
			return true
		}
		rest = tail
	}
}

// scanETag splits an entity-tag ([W/]"opaque") off the front of s.
func scanETag(s string) (tag, rest string, ok bool) {
	i := 0
	if strings.HasPrefix(s, "W/") {
		i = 2
	}
	if i >= len(s) || s[i] != '"' {
		return "", "", false
	}
	end := strings.IndexByte(s[i+1:], '"')
	if end < 0 {
		return "", "", false
	}
	n := i + 1 + end + 1
	return s[:n], s[n:], true
}

// opaqueTag is the quoted part of an entity-tag, without its weakness prefix.
func opaqueTag(tag string) (string, bool) {
	t, rest, ok := scanETag(strings.Trim(tag, " \t"))
	if !ok || strings.Trim(rest, " \t") != "" {
		return "", false
	}
	return strings.TrimPrefix(t, "W/"), true
}
