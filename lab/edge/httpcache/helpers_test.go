package httpcache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a Config.Now that tests move by hand. It starts at the real time, because the
// origin's Date field comes from the real clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// origin is a real HTTP server on loopback that counts its requests.
type origin struct {
	srv *httptest.Server
	n   atomic.Int64
}

// newOrigin starts an origin serving h; its Date field comes from clk (nil: the real clock), as
// the origin and the edge share one clock in real life.
func newOrigin(t *testing.T, clk *clock, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.n.Add(1)
		if clk != nil {
			w.Header().Set("Date", clk.Now().UTC().Format(http.TimeFormat))
		}
		h(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) requests() int64 { return o.n.Load() }

// fetcher sends requests to the origin, as the edge's proxy does.
func (o *origin) fetcher() Fetcher {
	tr := o.srv.Client().Transport
	host := o.srv.Listener.Addr().String()
	return FetcherFunc(func(r *http.Request) (*http.Response, error) {
		r.URL.Scheme = "http"
		r.URL.Host = host
		return tr.RoundTrip(r)
	})
}

// edge is a real HTTP server on loopback that serves through the cache; it keeps every Result.
type edge struct {
	c   *Cache
	srv *httptest.Server

	mu      sync.Mutex
	results []Result
}

func newEdge(t *testing.T, cfg Config, o *origin) *edge {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &edge{c: c}
	f := o.fetcher()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := c.Serve(w, r, f)
		e.mu.Lock()
		e.results = append(e.results, res)
		e.mu.Unlock()
	}))
	t.Cleanup(e.srv.Close)
	return e
}

type reply struct {
	code   int
	header http.Header
	body   string
}

func (r reply) status() string { return r.header.Get("Cache-Status") }

// get sends one request through the edge; kv are header name, value pairs.
func (e *edge) do(t *testing.T, method, path string, kv ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (e *edge) get(t *testing.T, path string, kv ...string) reply {
	t.Helper()
	return e.do(t, http.MethodGet, path, kv...)
}

func (e *edge) last() Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.results[len(e.results)-1]
}

// wantStatus fails unless the reply's Cache-Status has every one of the parameters.
func wantStatus(t *testing.T, r reply, params ...string) {
	t.Helper()
	got := r.status()
	if !strings.HasPrefix(got, NameDefault) {
		t.Errorf("Cache-Status %q: want it to start with %q", got, NameDefault)
	}
	members := strings.Split(got, "; ")
	for _, p := range params {
		found := false
		for _, m := range members {
			if m == p {
				found = true
			}
		}
		if !found {
			t.Errorf("Cache-Status %q: want %q", got, p)
		}
	}
}

func noStatus(t *testing.T, r reply, param string) {
	t.Helper()
	for m := range strings.SplitSeq(r.status(), "; ") {
		if m == param {
			t.Errorf("Cache-Status %q: want no %q", r.status(), param)
		}
	}
}

// eventually polls cond every millisecond for up to 10 s (a bound, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 10000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
