package loadgen

import (
	"net/url"
	"strings"
)

// MaxTargetGroups bounds the per-target parts of a result (one latency histogram each, about
// 200 KB while a run lasts): targets past the first MaxTargetGroups patterns share one part,
// named "other".
const MaxTargetGroups = 32

// otherTargets names the part of the targets past MaxTargetGroups patterns.
const otherTargets = "other"

// TargetPattern is the name under which a target is reported in a mixed run: its method and
// URL path with the segments that are ids collapsed (all digits → {n}, a UUID → {uuid}, 16 or
// more hexadecimal digits → {hex}), without the query; withHost prefixes the scheme and host.
// "GET /api/posts/42?x=1" and "GET /api/posts/7" are both "GET /api/posts/{n}".
func TargetPattern(method, rawURL string, withHost bool) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return method + " " + rawURL
	}
	segs := strings.Split(u.EscapedPath(), "/")
	for i, s := range segs {
		switch {
		case s == "":
		case isDigits(s):
			segs[i] = "{n}"
		case isUUID(s):
			segs[i] = "{uuid}"
		case len(s) >= 16 && isHex(s):
			segs[i] = "{hex}"
		}
	}
	p := strings.Join(segs, "/")
	if p == "" {
		p = "/"
	}
	if withHost {
		p = u.Scheme + "://" + u.Host + p
	}
	return method + " " + p
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !isHexDigit(c) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isUUID reports whether s is 8-4-4-4-12 hexadecimal digits.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range []byte(s) {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHexDigit(c) {
				return false
			}
		}
	}
	return true
}

// targetGroups names the parts a run's targets are reported in and maps each target (by index)
// to its part. It returns no names when the targets make one part: a run of one target has no
// per-target report.
func targetGroups(ts []Target) (names []string, groupOf []int) {
	hosts := map[string]bool{}
	for _, t := range ts {
		if u, err := url.Parse(t.URL); err == nil {
			hosts[u.Scheme+"://"+u.Host] = true
		}
	}
	index := map[string]int{}
	groupOf = make([]int, len(ts))
	for i, t := range ts {
		name := TargetPattern(t.Method, t.URL, len(hosts) > 1)
		g, ok := index[name]
		if !ok {
			if len(names) >= MaxTargetGroups {
				name = otherTargets
				g, ok = index[name]
			}
			if !ok {
				g = len(names)
				index[name] = g
				names = append(names, name)
			}
		}
		groupOf[i] = g
	}
	if len(names) < 2 {
		return nil, nil
	}
	return names, groupOf
}
