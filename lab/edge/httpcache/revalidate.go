package httpcache

import (
	"context"
	"net/http"
	"strings"
)

// revalidate validates the stored entry e of key with the origin before answering (RFC 9111
// §4.3), coalescing concurrent validations of the same variant. reason is the Cache-Status fwd
// reason (stale, or request when the client asked for validation).
func (c *Cache) revalidate(w http.ResponseWriter, r *http.Request, origin Fetcher, key string, e *entry, reason string) Result {
	vkey := variantKey(key, e)
	f, leader := c.flights.join(vkey)
	if !leader {
		ne, err := c.wait(r.Context(), f)
		if err != nil {
			return Result{Status: newStatus(c.cfg.Name).fwd(reason).param("collapsed").String(), Outcome: OutcomeMiss, Key: key}
		}
		if ne != nil && ne.matches(r.Header) {
			st := newStatus(c.cfg.Name).fwd(reason).param("collapsed")
			c.writeEntry(w, r, ne, st.String(), c.cfg.Now())
			return Result{Status: st.String(), Outcome: OutcomeCollapsed, Storable: true, Key: key}
		}
		return c.fill(r.Context(), w, r, origin, key, reason, "", nil)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), c.cfg.FetchTimeout)
	defer cancel()
	var shared *entry
	defer func() { c.flights.land(vkey, f, shared) }()

	fx, err := c.fetch(ctx, r, origin, e)
	now := c.cfg.Now()
	if err != nil || fx.resp.StatusCode >= 500 {
		code := 0
		if err == nil {
			code = fx.resp.StatusCode
			defer fx.close()
		}
		st := newStatus(c.cfg.Name).fwd(reason).fwdStatus(code)
		if e.staleIfError(now, c.cfg.StaleIfError) {
			st.param("detail=stale-if-error")
			c.writeEntry(w, r, e, st.String(), now)
			return Result{Status: st.String(), Outcome: OutcomeStale, Hit: true, Storable: true, Key: key}
		}
		if err != nil {
			// RFC 9111 §4.2.4: a cache that cannot validate says so with 504.
			st.param("detail=origin-error")
			writeError(w, http.StatusGatewayTimeout, st.String())
			return Result{Status: st.String(), Outcome: OutcomeMiss, Key: key}
		}
		c.writeFetched(w, r, fx, st.String())
		return Result{Status: st.String(), Outcome: OutcomeMiss, Storable: fx.pol.storable, Key: key}
	}
	defer fx.close()

	if fx.resp.StatusCode == http.StatusNotModified {
		ne := c.refresh(key, r, e, fx)
		shared = ne
		st := newStatus(c.cfg.Name).fwd(reason).fwdStatus(http.StatusNotModified)
		if ne == nil {
			// The 304 does not select the stored response (another strong validator) or forbids
			// storing it now: the stored one was dropped; fetch the whole response.
			return c.fill(ctx, w, r, origin, key, reason, "", nil)
		}
		c.writeEntry(w, r, ne, st.String(), now)
		return Result{Status: st.String(), Outcome: OutcomeRevalidated, Storable: true, Stored: true, Key: key}
	}

	// A whole new response replaces the stored one.
	ne := c.admit(key, r, fx)
	if ne == nil {
		c.remove(key, e)
	}
	shared = ne
	st := newStatus(c.cfg.Name).fwd(reason).fwdStatus(fx.resp.StatusCode).flag(ne != nil, "stored")
	res := Result{Status: st.String(), Outcome: OutcomeMiss, Storable: fx.pol.storable, Stored: ne != nil, Key: key}
	if ne != nil {
		c.writeEntry(w, r, ne, res.Status, now)
	} else {
		c.writeFetched(w, r, fx, res.Status)
	}
	return res
}

// refresh applies a 304 to the stored entry e (RFC 9111 §4.3.4, §3.2): the 304's fields replace
// the stored ones (Content-Length excepted), freshness restarts from the 304, and the refreshed
// entry is stored and returned. It returns nil, having dropped e, when the 304 names another
// strong validator or makes the response unstorable.
func (c *Cache) refresh(key string, r *http.Request, e *entry, fx *fetched) *entry {
	if tag := fx.resp.Header.Get("ETag"); tag != "" && !strings.HasPrefix(tag, "W/") && tag != e.etag {
		c.remove(key, e)
		return nil
	}
	h := e.header.Clone()
	for k, v := range storedHeader(fx.resp.Header) {
		if k != "Content-Length" {
			h[k] = v
		}
	}
	pol := evaluate(exchange{
		method: r.Method, reqHeader: r.Header, status: e.status, respHeader: h,
		requestTime: fx.at, responseTime: fx.at,
	}, c.cfg.HeuristicMax)
	if !pol.storable {
		c.remove(key, e)
		return nil
	}
	// Age of the 304 itself (request to response) counts, as for any response.
	pol.initialAge = fx.pol.initialAge
	ne := newEntry(key, r, e.status, h, e.body, pol, fx.at)
	c.put(key, ne)
	return ne
}

// revalidateInBackground starts one validation of the stale entry e unless one of its variant is
// already under way (stale-while-revalidate, RFC 5861 §3): the request that triggers it is
// answered stale without waiting.
func (c *Cache) revalidateInBackground(r *http.Request, origin Fetcher, key string, e *entry) {
	vkey := variantKey(key, e)
	f, leader := c.flights.join(vkey)
	if !leader {
		return
	}
	c.bg.Add(1)
	// The request is copied now: the server may reuse r once its handler returns.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), c.cfg.FetchTimeout)
	out := r.Clone(ctx)
	go func() {
		defer c.bg.Done()
		defer cancel()
		var shared *entry
		defer func() { c.flights.land(vkey, f, shared) }()
		fx, err := c.fetch(ctx, out, origin, e)
		if err != nil {
			return
		}
		defer fx.close()
		switch {
		case fx.resp.StatusCode == http.StatusNotModified:
			shared = c.refresh(key, out, e, fx)
		case fx.resp.StatusCode < 500:
			if shared = c.admit(key, out, fx); shared == nil {
				c.remove(key, e)
			}
		}
	}()
}
