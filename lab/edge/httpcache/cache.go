package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// Fetcher sends a request to the origin. The edge's reverse proxy implements it (URL rewriting,
// the origin's transport, the client span); FetcherFunc adapts a function, such as an
// http.RoundTripper's RoundTrip.
type Fetcher interface {
	// Fetch sends r to the origin and returns its response, whose Body the cache reads and
	// closes. r is a copy of the client's request: its URL is as the server received it (path
	// and query), so Fetch sets the origin's scheme and host; its context bounds the fetch. An
	// error means that no response arrived (refused, reset, timed out).
	Fetch(r *http.Request) (*http.Response, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(r *http.Request) (*http.Response, error)

// Fetch calls f(r).
func (f FetcherFunc) Fetch(r *http.Request) (*http.Response, error) { return f(r) }

// Cache is a shared HTTP cache (RFC 9111) in front of one or more origins. It is safe for
// concurrent use; the zero value is not usable: call New.
type Cache struct {
	cfg     Config
	store   *otter.Cache[string, *variants]
	pass    *otter.Cache[string, time.Time] // hit-for-pass marks: URI → until
	flights flights
	bg      sync.WaitGroup
	closed  atomic.Bool

	entries atomic.Int64
	waiting atomic.Int64
	n       struct{ hit, miss, stale, bypass, collapsed, revalidated atomic.Uint64 }
}

// New returns an empty cache configured by cfg, or an error wrapping ErrConfig that names the bad
// Config field.
func New(cfg Config) (*Cache, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Cache{cfg: cfg}
	var err error
	c.store, err = otter.New(&otter.Options[string, *variants]{
		MaximumWeight: uint64(cfg.MaxBytes),
		Weigher:       func(_ string, v *variants) uint32 { return v.weight },
		OnAtomicDeletion: func(e otter.DeletionEvent[string, *variants]) {
			c.entries.Add(-int64(len(e.Value.entries)))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("httpcache: store: %w", err)
	}
	c.pass, err = otter.New(&otter.Options[string, time.Time]{MaximumSize: hitForPassMaxKeys})
	if err != nil {
		return nil, fmt.Errorf("httpcache: hit-for-pass marks: %w", err)
	}
	return c, nil
}

// Close waits for the background revalidations (stale-while-revalidate) in progress, or for ctx,
// and starts no more: a stale response is then revalidated before it is served. Call it after
// the server stopped; Serve keeps working.
func (c *Cache) Close(ctx context.Context) error {
	c.closed.Store(true)
	done := make(chan struct{})
	go func() { c.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("httpcache: waiting for background revalidations: %w", ctx.Err())
	}
}

// Stats returns the counters and the stored size now.
func (c *Cache) Stats() Stats {
	return Stats{
		Hit: c.n.hit.Load(), Miss: c.n.miss.Load(), Stale: c.n.stale.Load(), Bypass: c.n.bypass.Load(),
		Collapsed: c.n.collapsed.Load(), Revalidated: c.n.revalidated.Load(),
		Bytes: c.store.WeightedSize(), Entries: c.entries.Load(), Waiting: c.waiting.Load(),
	}
}

// Serve answers r from the cache or through origin, writes the Cache-Status field on every
// response and returns what it did. GET and HEAD are cached (a HEAD is answered from a stored
// GET response; a HEAD miss is forwarded and not stored); a request with Range, or of another
// method, is forwarded untouched, and an unsafe method's success invalidates the target URI
// (RFC 9111 §4.4). r's context bounds the request's own wait; a fetch shared with other clients
// is bounded by Config.FetchTimeout instead.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, origin Fetcher) Result {
	var res Result
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		res = c.forwardUnsafe(w, r, origin)
	case r.Header.Get("Range") != "":
		res = c.forward(w, r, origin, newStatus(c.cfg.Name).fwd(fwdBypass), OutcomeBypass, "")
	default:
		res = c.serveCached(w, r, origin)
	}
	c.count(res.Outcome)
	return res
}

func (c *Cache) count(o Outcome) {
	switch o {
	case OutcomeHit:
		c.n.hit.Add(1)
	case OutcomeMiss:
		c.n.miss.Add(1)
	case OutcomeStale:
		c.n.stale.Add(1)
	case OutcomeBypass:
		c.n.bypass.Add(1)
	case OutcomeCollapsed:
		c.n.collapsed.Add(1)
	case OutcomeRevalidated:
		c.n.revalidated.Add(1)
	}
}

// cacheKey is the primary key of r: its host, lower-cased, and its request URI.
func cacheKey(r *http.Request) string {
	return strings.ToLower(r.Host) + r.URL.RequestURI()
}

// variantKey identifies one variant of key: the coalescing key of its revalidation.
func variantKey(key string, e *entry) string {
	if len(e.varyValues) == 0 {
		return key
	}
	return key + "\x00" + strings.Join(e.varyValues, "\x00")
}

func (c *Cache) serveCached(w http.ResponseWriter, r *http.Request, origin Fetcher) Result {
	now := c.cfg.Now()
	key := cacheKey(r)
	set, _ := c.store.GetIfPresent(key)
	e := set.match(r.Header)
	d := parseRequestDirectives(r.Header)
	if e == nil {
		kind := fwdURIMiss
		if set != nil {
			kind = fwdVaryMiss
		}
		if d.onlyIfCached {
			st := newStatus(c.cfg.Name).fwd(kind).param("detail=only-if-cached")
			w.Header().Set("Cache-Status", st.String())
			w.WriteHeader(http.StatusGatewayTimeout)
			return Result{Status: st.String(), Outcome: OutcomeMiss, Key: key}
		}
		return c.miss(w, r, origin, key, kind, set)
	}
	switch e.decide(d, now) {
	case reuseFresh:
		st := newStatus(c.cfg.Name).param("hit").ttl(e.ttl(now))
		c.writeEntry(w, r, e, st.String(), now)
		return Result{Status: st.String(), Outcome: OutcomeHit, Hit: true, Storable: true, Key: key}
	case reuseStale:
		if !c.closed.Load() {
			c.revalidateInBackground(r, origin, key, e)
			st := newStatus(c.cfg.Name).param("hit").ttl(e.ttl(now)).param("detail=stale-while-revalidate")
			c.writeEntry(w, r, e, st.String(), now)
			return Result{Status: st.String(), Outcome: OutcomeStale, Hit: true, Storable: true, Key: key}
		}
	}
	reason := fwdStale
	if e.ttl(now) > 0 && !e.pol.noCache {
		reason = fwdRequest // fresh, but the request asked for validation
	}
	return c.revalidate(w, r, origin, key, e, reason)
}

// miss fetches a response for a request no stored response matched, coalescing concurrent misses
// of the same key unless the key is marked hit-for-pass.
func (c *Cache) miss(w http.ResponseWriter, r *http.Request, origin Fetcher, key, kind string, set *variants) Result {
	if r.Method == http.MethodHead {
		return c.forward(w, r, origin, newStatus(c.cfg.Name).fwd(kind), OutcomeMiss, key)
	}
	if until, ok := c.pass.GetIfPresent(key); ok && c.cfg.Now().Before(until) {
		return c.fill(r.Context(), w, r, origin, key, kind, "detail=hit-for-pass", nil)
	}
	fkey := key
	if set != nil && len(set.entries) > 0 {
		// Requests that select different variants of a known Vary do not wait for one another.
		last := set.entries[len(set.entries)-1]
		vals := make([]string, len(last.vary.names))
		for i, n := range last.vary.names {
			vals[i] = varyValue(r.Header, n)
		}
		fkey = variantKey(key, &entry{varyValues: vals})
	}
	f, leader := c.flights.join(fkey)
	if !leader {
		e, err := c.wait(r.Context(), f)
		if err != nil {
			return Result{Status: newStatus(c.cfg.Name).fwd(kind).param("collapsed").String(), Outcome: OutcomeMiss, Key: key}
		}
		if e != nil && e.matches(r.Header) {
			st := newStatus(c.cfg.Name).fwd(kind).param("collapsed")
			c.writeEntry(w, r, e, st.String(), c.cfg.Now())
			return Result{Status: st.String(), Outcome: OutcomeCollapsed, Storable: true, Key: key}
		}
		// The leader's response was not shareable (or selects another variant): fetch our own.
		return c.fill(r.Context(), w, r, origin, key, kind, "", nil)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), c.cfg.FetchTimeout)
	defer cancel()
	landed := false
	land := func(e *entry) {
		if !landed {
			landed = true
			c.flights.land(fkey, f, e)
		}
	}
	defer land(nil)
	return c.fill(ctx, w, r, origin, key, kind, "", land)
}

// fill fetches r's response from the origin, stores it when it may, and answers it. admitted,
// when not nil, receives the stored entry (nil: none) before the response is written, so that a
// flight's followers do not wait for the leader's client.
func (c *Cache) fill(ctx context.Context, w http.ResponseWriter, r *http.Request, origin Fetcher, key, kind, detail string, admitted func(*entry)) Result {
	fx, err := c.fetch(ctx, r, origin, nil)
	if err != nil {
		st := newStatus(c.cfg.Name).fwd(kind).param("detail=origin-error")
		writeError(w, http.StatusBadGateway, st.String())
		return Result{Status: st.String(), Outcome: OutcomeMiss, Key: key}
	}
	defer fx.close()
	e := c.admit(key, r, fx)
	if e == nil && fx.resp.StatusCode < 500 {
		c.markPass(key) // an origin error is transient: misses keep coalescing through it
	} else if e != nil {
		c.pass.Invalidate(key)
	}
	if admitted != nil {
		admitted(e)
	}
	st := newStatus(c.cfg.Name).fwd(kind).flag(e != nil, "stored")
	if detail != "" {
		st.param(detail)
	}
	res := Result{Status: st.String(), Outcome: OutcomeMiss, Storable: fx.pol.storable, Stored: e != nil, Key: key}
	if e != nil {
		c.writeEntry(w, r, e, res.Status, c.cfg.Now())
	} else {
		c.writeFetched(w, r, fx, res.Status)
	}
	return res
}

// wait is f.wait, counted in Stats.Waiting meanwhile.
func (c *Cache) wait(ctx context.Context, f *flight) (*entry, error) {
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	return f.wait(ctx)
}
