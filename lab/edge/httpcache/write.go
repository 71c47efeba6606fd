package httpcache

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// writeEntry answers r with the stored entry e: Age, Cache-Status, and 304 when the client's own
// precondition matches (RFC 9111 §4.3.2).
func (c *Cache) writeEntry(w http.ResponseWriter, r *http.Request, e *entry, status string, now time.Time) {
	h := w.Header()
	for k, v := range e.header {
		h[k] = v // clipped slices: a handler's append copies
	}
	h.Set("Age", strconv.FormatInt(int64(e.age(now)/time.Second), 10))
	h.Set("Cache-Status", status)
	if e.status == http.StatusOK && notModified(r.Header, e.etag, e.lastModified) {
		h.Del("Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if bodyAllowed(e.status) {
		h.Set("Content-Length", strconv.Itoa(len(e.body)))
	}
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead && bodyAllowed(e.status) {
		_, _ = w.Write(e.body) // a client gone is no error of the cache's
	}
}

// writeFetched answers r with an origin response that was not stored, streaming what the cache
// did not read.
func (c *Cache) writeFetched(w http.ResponseWriter, r *http.Request, fx *fetched, status string) {
	h := w.Header()
	copyHeader(h, fx.resp.Header)
	h.Set("Cache-Status", status)
	if fx.complete && fx.resp.StatusCode == http.StatusOK &&
		notModified(r.Header, fx.resp.Header.Get("ETag"), lastModified(fx.resp.Header)) {
		h.Del("Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if fx.complete && r.Method != http.MethodHead && bodyAllowed(fx.resp.StatusCode) {
		h.Set("Content-Length", strconv.Itoa(len(fx.body)))
	}
	w.WriteHeader(fx.resp.StatusCode)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(fx.body); err != nil || fx.complete {
		return
	}
	_, _ = io.Copy(w, fx.resp.Body)
}

// forward sends r to the origin untouched and relays the response; before writes it lets
// forwardUnsafe invalidate.
func (c *Cache) forward(w http.ResponseWriter, r *http.Request, origin Fetcher, st *cacheStatus, o Outcome, key string) Result {
	return c.relay(w, r, origin, st, o, key, nil)
}

// forwardUnsafe forwards a request of a method the cache does not serve; a non-error response to
// an unsafe method invalidates its target URI and the same-host URIs of its Location and
// Content-Location (RFC 9111 §4.4).
func (c *Cache) forwardUnsafe(w http.ResponseWriter, r *http.Request, origin Fetcher) Result {
	st := newStatus(c.cfg.Name).fwd(fwdMethod)
	if safeMethod(r.Method) {
		return c.relay(w, r, origin, st, OutcomeBypass, "", nil)
	}
	return c.relay(w, r, origin, st, OutcomeBypass, "", func(resp *http.Response) {
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return
		}
		c.invalidate(cacheKey(r))
		for _, f := range []string{"Location", "Content-Location"} {
			if v := resp.Header.Get(f); v != "" {
				if u, err := r.URL.Parse(v); err == nil && (u.Host == "" || strings.EqualFold(u.Host, r.Host)) {
					c.invalidate(strings.ToLower(r.Host) + u.RequestURI())
				}
			}
		}
	})
}

func (c *Cache) relay(w http.ResponseWriter, r *http.Request, origin Fetcher, st *cacheStatus, o Outcome, key string, before func(*http.Response)) Result {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	resp, err := origin.Fetch(out)
	if err != nil {
		st.param("detail=origin-error")
		writeError(w, http.StatusBadGateway, st.String())
		return Result{Status: st.String(), Outcome: o, Key: key}
	}
	defer resp.Body.Close()
	if before != nil {
		before(resp)
	}
	copyHeader(w.Header(), resp.Header)
	w.Header().Set("Cache-Status", st.String())
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return Result{Status: st.String(), Outcome: o, Key: key}
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// invalidate drops every stored variant of key (a URI).
func (c *Cache) invalidate(key string) {
	c.store.Invalidate(key)
}

func writeError(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Cache-Status", status)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, http.StatusText(code)+"\n")
}

// copyHeader copies an origin response's fields to dst, without hop-by-hop ones.
func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
	for _, c := range src.Values("Connection") {
		for name := range strings.SplitSeq(c, ",") {
			dst.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopByHop {
		if name != "Age" {
			dst.Del(name)
		}
	}
}

func lastModified(h http.Header) time.Time {
	t, _ := parseHTTPDate(h, "Last-Modified")
	return t
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// keyOf is the primary key of an absolute URL or a path (host empty).
func keyOf(u *url.URL) string {
	return strings.ToLower(u.Host) + u.RequestURI()
}
