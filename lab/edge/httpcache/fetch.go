package httpcache

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/maypok86/otter/v2"
)

// fetched is an origin response with as much of its body as the cache may hold.
type fetched struct {
	resp *http.Response
	pol  policy
	// body is the whole body when complete; otherwise its first bytes (up to MaxEntryBytes+1),
	// and resp.Body still holds the rest, to be streamed.
	body     []byte
	complete bool
	// at is when the response's header arrived (RFC 9111 response_time).
	at time.Time
}

func (fx *fetched) close() { fx.resp.Body.Close() }

// fetch sends r to the origin under ctx: as a fill (the client's preconditions removed, so that
// a whole storable response comes back) or, with validate, as a conditional request for that
// stored entry. It reads the body up to Config.MaxEntryBytes; a larger one is left to stream.
func (c *Cache) fetch(ctx context.Context, r *http.Request, origin Fetcher, validate *entry) (*fetched, error) {
	out := r.Clone(ctx)
	out.RequestURI = ""
	for _, name := range conditionalFields {
		out.Header.Del(name)
	}
	if validate != nil {
		if validate.etag != "" {
			out.Header.Set("If-None-Match", validate.etag)
		}
		if lm := validate.header.Get("Last-Modified"); lm != "" {
			out.Header.Set("If-Modified-Since", lm)
		}
	}
	reqTime := c.cfg.Now()
	resp, err := origin.Fetch(out)
	if err != nil {
		return nil, err
	}
	fx := &fetched{resp: resp, at: c.cfg.Now()}
	fx.pol = evaluate(exchange{
		method: r.Method, reqHeader: r.Header, status: resp.StatusCode, respHeader: resp.Header,
		requestTime: reqTime, responseTime: fx.at,
	}, c.cfg.HeuristicMax)
	limit := c.cfg.MaxEntryBytes
	if r.Method == http.MethodHead || resp.ContentLength > limit {
		return fx, nil // not to be stored: stream it as it comes
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1)); err != nil {
		resp.Body.Close()
		return nil, err
	}
	fx.body = buf.Bytes()
	fx.complete = int64(len(fx.body)) <= limit
	return fx, nil
}

// admit stores fx as a variant of key when RFC 9111 and the size bound allow, and returns the
// stored entry (nil: not stored).
func (c *Cache) admit(key string, r *http.Request, fx *fetched) *entry {
	if !fx.pol.storable || !fx.complete {
		return nil
	}
	e := newEntry(key, r, fx.resp.StatusCode, fx.resp.Header, fx.body, fx.pol, fx.at)
	if int64(e.weight)+int64(len(key)) > c.cfg.MaxEntryBytes {
		return nil
	}
	c.put(key, e)
	return e
}

// newEntry builds the entry of key for a response with status, header and body to a request r,
// whose header arrived at.
func newEntry(key string, r *http.Request, status int, header http.Header, body []byte, pol policy, at time.Time) *entry {
	h := storedHeader(header)
	e := &entry{
		status: status, header: h, body: body, pol: pol,
		vary: parseVary(h), etag: h.Get("ETag"), responseTime: at,
	}
	if lm, ok := parseHTTPDate(h, "Last-Modified"); ok {
		e.lastModified = lm
	}
	e.varyValues = make([]string, len(e.vary.names))
	for i, n := range e.vary.names {
		e.varyValues[i] = varyValue(r.Header, n)
	}
	w := len(body) + headerWeight(h) + len(key) + entryOverheadBytes
	for _, v := range e.varyValues {
		w += len(v)
	}
	e.weight = uint32(min(w, maxWeight))
	return e
}

// put stores e as a variant of key.
func (c *Cache) put(key string, e *entry) {
	c.store.Compute(key, func(old *variants, _ bool) (*variants, otter.ComputeOp) {
		nv := old.with(e, key, c.cfg.MaxVariants, c.cfg.MaxEntryBytes)
		c.entries.Add(int64(len(nv.entries)))
		return nv, otter.WriteOp
	})
}

// remove drops the variant e of key, if it is still stored.
func (c *Cache) remove(key string, e *entry) {
	c.store.ComputeIfPresent(key, func(old *variants) (*variants, otter.ComputeOp) {
		nv := old.without(e, key)
		if nv == nil {
			return nil, otter.InvalidateOp
		}
		if len(nv.entries) == len(old.entries) {
			return old, otter.CancelOp
		}
		c.entries.Add(int64(len(nv.entries)))
		return nv, otter.WriteOp
	})
}

// markPass marks key hit-for-pass for Config.HitForPass.
func (c *Cache) markPass(key string) {
	c.pass.Set(key, c.cfg.Now().Add(c.cfg.HitForPass))
}
