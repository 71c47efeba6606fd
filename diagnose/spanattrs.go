package diagnose

import (
	"net/url"
	"strings"
)

// Path is the URL path s served or called, from the semantic conventions' attributes old or
// new (url.path, http.target, url.full, http.url), without its query; "" when s names none.
func (s *Span) Path() string {
	if p := s.Attrs["url.path"]; p != "" {
		return p
	}
	if p := s.Attrs["http.target"]; p != "" {
		p, _, _ = strings.Cut(p, "?")
		return p
	}
	for _, k := range keysURL {
		if u, err := url.Parse(s.Attrs[k]); err == nil && u.Path != "" {
			return u.Path
		}
	}
	return ""
}

// IsDatabase reports whether s is a database call, by the rule diagnose's detectors use: it
// names its database system.
func (s *Span) IsDatabase() bool { return attr(s, keysDBSystem...) != "" }
