package loadgen

import (
	"net/url"
	"slices"
	"strings"
)

// Redacted replaces what a result would otherwise write verbatim of a secret.
const Redacted = "REDACTED"

// secretHeaders are header names (lower case) whose values are credentials.
var secretHeaders = []string{"authorization", "proxy-authorization", "cookie", "set-cookie"}

// secretWords mark a header or query parameter name as one that carries a credential, such as
// X-Api-Key, X-Auth-Token or ?access_token=.
var secretWords = []string{"key", "token", "secret", "password", "passwd", "auth", "session", "signature", "credential"}

// isSecretName reports whether a header or query parameter named name carries a credential.
func isSecretName(name string) bool {
	n := strings.ToLower(name)
	if slices.Contains(secretHeaders, n) {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// RedactURL returns raw with its credentials replaced by Redacted: the user information
// (user:password@) and the values of query parameters whose names carry one (api_key, token,
// ...). A URL that does not parse is returned as it is: it cannot have been sent.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	changed := false
	if u.User != nil {
		u.User = url.User(Redacted)
		changed = true
	}
	if q := u.Query(); len(q) > 0 {
		for k, vs := range q {
			if isSecretName(k) {
				for i := range vs {
					vs[i] = Redacted
				}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if !changed {
		return raw
	}
	return u.String()
}

// Redacted returns c as a result echoes it: unless KeepSecrets, each target's URL goes through
// RedactURL and the values of its credential headers (Authorization, Cookie, X-Api-Key, ...)
// are replaced by Redacted, their names kept. c itself is left as it is.
func (c Config) Redacted() Config {
	if c.KeepSecrets {
		return c
	}
	c.Targets = slices.Clone(c.Targets)
	for i := range c.Targets {
		t := &c.Targets[i]
		t.URL = RedactURL(t.URL)
		if len(t.Headers) == 0 {
			continue
		}
		h := make(map[string]string, len(t.Headers))
		for k, v := range t.Headers {
			if isSecretName(k) {
				v = Redacted
			}
			h[k] = v
		}
		t.Headers = h
	}
	return c
}
