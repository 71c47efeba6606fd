//go:build wasip1

// Command prefs is the edge function that applies the user's preferences, from the cookie
// "prefs" (e.g. "theme=dark&currency=EUR"; ';' and ',' separate too, percent-encoding is
// decoded), to the response on its way out: theme ("light" or "dark") becomes
// <html data-theme="..."> in an HTML body the node passed, currency (EUR, USD, GBP, JPY, CHF)
// the header Headroom-Currency. The cache keeps the origin's response: the personalisation
// happens per request after it. A changed body gets a weak ETag (same content, another
// presentation), no Content-Length (the node sets it) and Vary: Cookie for caches downstream.
package main

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/headroom/headroom/lab/edge/functions/guest"
	"github.com/headroom/headroom/lab/isolate/abi"
)

func init() { guest.Handle(handle) }

func main() {}

var currencies = map[string]bool{"EUR": true, "USD": true, "GBP": true, "JPY": true, "CHF": true}

func handle(r *abi.Request) abi.Decision {
	d := guest.Continue()
	if r.Phase != abi.PhaseResponse {
		return d
	}
	theme, currency := prefs(guest.Cookie(r, "prefs"))
	if currency != "" {
		guest.SetResponseHeader(&d, "Headroom-Currency", currency)
	}
	if theme == "" || r.Body == nil || !strings.HasPrefix(strings.ToLower(r.GetResponse("Content-Type")), "text/html") {
		return d
	}
	body, ok := withTheme(r.Body, theme)
	if !ok {
		return d
	}
	d.Body, d.BodySet = body, true
	guest.DelResponseHeader(&d, "Content-Length")
	if etag := r.GetResponse("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		guest.SetResponseHeader(&d, "ETag", "W/"+etag)
	}
	guest.AddResponseHeader(&d, "Vary", "Cookie")
	return d
}

func prefs(cookie string) (theme, currency string) {
	if v, err := url.QueryUnescape(cookie); err == nil {
		cookie = v
	}
	for kv := range strings.FieldsFuncSeq(cookie, func(r rune) bool { return r == '&' || r == ';' || r == ',' }) {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "theme":
			if v == "light" || v == "dark" {
				theme = v
			}
		case "currency":
			if v = strings.ToUpper(v); currencies[v] {
				currency = v
			}
		}
	}
	return theme, currency
}

// withTheme sets data-theme on the first <html> tag, replacing a value already there.
func withTheme(body []byte, theme string) ([]byte, bool) {
	i := indexFold(body, "<html")
	if i < 0 || i+5 < len(body) && !isSpaceOrEnd(body[i+5]) {
		return nil, false
	}
	end := bytes.IndexByte(body[i:], '>')
	if end < 0 {
		return nil, false
	}
	tag := body[i : i+end]
	attr := []byte(` data-theme="` + theme + `"`)
	out := make([]byte, 0, len(body)+len(attr))
	if j := bytes.Index(tag, []byte(" data-theme=")); j >= 0 {
		// Replace the existing attribute's value (quoted with " or ').
		k := i + j + len(" data-theme=")
		if k < len(body) && (body[k] == '"' || body[k] == '\'') {
			if q := bytes.IndexByte(body[k+1:i+end], body[k]); q >= 0 {
				out = append(out, body[:i+j]...)
				out = append(out, attr...)
				return append(out, body[k+1+q+1:]...), true
			}
		}
		return nil, false
	}
	out = append(out, body[:i+5]...)
	out = append(out, attr...)
	return append(out, body[i+5:]...), true
}

func isSpaceOrEnd(c byte) bool {
	return c == ' ' || c == '>' || c == '\t' || c == '\n' || c == '\r' || c == '/'
}

// indexFold is the index of the first s in b, compared case-insensitively; s starts with '<'.
func indexFold(b []byte, s string) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], s[0])
		if j < 0 || i+j+len(s) > len(b) {
			return -1
		}
		if i += j; bytes.EqualFold(b[i:i+len(s)], []byte(s)) {
			return i
		}
		i++
	}
}
