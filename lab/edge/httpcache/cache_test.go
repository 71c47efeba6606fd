package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixed returns a handler answering 200 with body and the header pairs kv.
func fixed(body string, kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		_, _ = w.Write([]byte(body))
	}
}

func TestFreshHitAndAge(t *testing.T) {
	t.Parallel()
	clk := newClock()
	o := newOrigin(t, clk, fixed("hello", "Cache-Control", "max-age=60"))
	e := newEdge(t, Config{Now: clk.Now}, o)

	r := e.get(t, "/a")
	wantStatus(t, r, "fwd=uri-miss", "stored")
	if res := e.last(); res.Outcome != OutcomeMiss || !res.Storable || !res.Stored || res.Hit || !strings.HasSuffix(res.Key, "/a") {
		t.Errorf("first Result = %+v", res)
	}
	clk.Advance(10 * time.Second)
	r = e.get(t, "/a")
	wantStatus(t, r, "hit")
	if r.body != "hello" || o.requests() != 1 {
		t.Errorf("hit: body %q, origin requests %d", r.body, o.requests())
	}
	if age := r.header.Get("Age"); age != "10" && age != "11" { // Date has 1 s resolution
		t.Errorf("Age = %q, want 10 (or 11)", age)
	}
	if res := e.last(); res.Outcome != OutcomeHit || !res.Hit {
		t.Errorf("hit Result = %+v", res)
	}
	// HEAD is answered from the stored GET response.
	h := e.do(t, http.MethodHead, "/a")
	wantStatus(t, h, "hit")
	if h.header.Get("Content-Length") != "5" || o.requests() != 1 {
		t.Errorf("HEAD: Content-Length %q, origin requests %d", h.header.Get("Content-Length"), o.requests())
	}
	st := e.c.Stats()
	if st.Hit != 2 || st.Miss != 1 || st.Entries != 1 || st.Bytes == 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestNotStored(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		header []string
		req    []string
		stored bool
	}{
		{"private", []string{"Cache-Control", "private, max-age=60"}, nil, false},
		{"no-store", []string{"Cache-Control", "no-store, max-age=60"}, nil, false},
		{"no-store on a second line", []string{"Cache-Control", "max-age=60", "Cache-Control", "no-store"}, nil, false},
		{"request no-store", []string{"Cache-Control", "max-age=60"}, []string{"Cache-Control", "no-store"}, false},
		{"Set-Cookie", []string{"Cache-Control", "max-age=60", "Set-Cookie", "sid=1"}, nil, false},
		{"Authorization, max-age only", []string{"Cache-Control", "max-age=60"}, []string{"Authorization", "Bearer x"}, false},
		{"Authorization, public", []string{"Cache-Control", "public, max-age=60"}, []string{"Authorization", "Bearer x"}, true},
		{"Authorization, s-maxage", []string{"Cache-Control", "s-maxage=60"}, []string{"Authorization", "Bearer x"}, true},
		{"Authorization, must-revalidate", []string{"Cache-Control", "max-age=60, must-revalidate"}, []string{"Authorization", "Bearer x"}, true},
		{"no Authorization, max-age", []string{"Cache-Control", "max-age=60"}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin(t, nil, fixed("x", tc.header...))
			e := newEdge(t, Config{}, o)
			first := e.get(t, "/r", tc.req...)
			res := e.last()
			if res.Stored != tc.stored || res.Storable != tc.stored {
				t.Errorf("Result = %+v, want Stored and Storable %v", res, tc.stored)
			}
			if tc.stored {
				wantStatus(t, first, "stored")
			} else {
				noStatus(t, first, "stored")
			}
			second := e.get(t, "/r", tc.req...)
			want := int64(2)
			if tc.stored {
				want = 1
				wantStatus(t, second, "hit")
			}
			if o.requests() != want {
				t.Errorf("origin requests = %d, want %d", o.requests(), want)
			}
		})
	}
}

func TestVary(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		_, _ = fmt.Fprintf(w, "page in %s", r.Header.Get("Accept-Language"))
	})
	e := newEdge(t, Config{}, o)
	wantStatus(t, e.get(t, "/page", "Accept-Language", "fr"), "fwd=uri-miss", "stored")
	r := e.get(t, "/page", "Accept-Language", "en")
	wantStatus(t, r, "fwd=vary-miss", "stored")
	if r.body != "page in en" {
		t.Errorf("en body = %q", r.body)
	}
	for _, lang := range []string{"fr", "en"} {
		r := e.get(t, "/page", "Accept-Language", lang)
		wantStatus(t, r, "hit")
		if r.body != "page in "+lang {
			t.Errorf("%s body = %q", lang, r.body)
		}
	}
	if o.requests() != 2 || e.c.Stats().Entries != 2 {
		t.Errorf("origin requests %d, entries %d: want 2 and 2", o.requests(), e.c.Stats().Entries)
	}
}

func TestVaryStarNeverMatches(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil, fixed("x", "Cache-Control", "max-age=60", "Vary", "*"))
	e := newEdge(t, Config{}, o)
	e.get(t, "/v")
	wantStatus(t, e.get(t, "/v"), "fwd=vary-miss")
	if o.requests() != 2 {
		t.Errorf("origin requests = %d, want 2", o.requests())
	}
}

func TestRevalidation304RefreshesEntry(t *testing.T) {
	t.Parallel()
	var conditional []string
	var mu sync.Mutex
	clk := newClock()
	o := newOrigin(t, clk, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"v1"`)
		if inm := r.Header.Get("If-None-Match"); inm != "" {
			mu.Lock()
			conditional = append(conditional, inm)
			mu.Unlock()
			if inm == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		_, _ = w.Write([]byte("body v1"))
	})
	e := newEdge(t, Config{Now: clk.Now}, o)
	e.get(t, "/r")
	clk.Advance(15 * time.Second)

	r := e.get(t, "/r")
	wantStatus(t, r, "fwd=stale", "fwd-status=304")
	if r.code != http.StatusOK || r.body != "body v1" {
		t.Errorf("revalidated: %d %q, want the stored 200", r.code, r.body)
	}
	if res := e.last(); res.Outcome != OutcomeRevalidated {
		t.Errorf("Outcome = %s, want revalidated", res.Outcome)
	}
	// The 304 restarted freshness: a hit for the next 10 s.
	clk.Advance(5 * time.Second)
	wantStatus(t, e.get(t, "/r"), "hit")

	// A client's own matching precondition gets a 304 from the cache.
	r = e.get(t, "/r", "If-None-Match", `W/"v0", "v1"`)
	if r.code != http.StatusNotModified || r.body != "" {
		t.Errorf("client If-None-Match: %d %q, want 304", r.code, r.body)
	}
	wantStatus(t, r, "hit")
	if o.requests() != 2 || len(conditional) != 1 || conditional[0] != `"v1"` {
		t.Errorf("origin requests %d, conditional %q: want 2 and one If-None-Match \"v1\"", o.requests(), conditional)
	}
	if st := e.c.Stats(); st.Revalidated != 1 || st.Entries != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestNoCacheRevalidatesEveryTime(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", `"a"`)
		if r.Header.Get("If-None-Match") == `"a"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte("A"))
	})
	e := newEdge(t, Config{}, o)
	wantStatus(t, e.get(t, "/n"), "stored")
	for range 3 {
		r := e.get(t, "/n")
		wantStatus(t, r, "fwd=stale", "fwd-status=304")
		if r.body != "A" {
			t.Errorf("body %q", r.body)
		}
	}
	if o.requests() != 4 {
		t.Errorf("origin requests = %d, want 4", o.requests())
	}
}

func TestRequestNoCacheValidates(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"a"`)
		if r.Header.Get("If-None-Match") == `"a"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte("A"))
	})
	e := newEdge(t, Config{}, o)
	e.get(t, "/n")
	wantStatus(t, e.get(t, "/n", "Cache-Control", "no-cache"), "fwd=request", "fwd-status=304")
	wantStatus(t, e.get(t, "/n"), "hit")
}

func TestFreshnessPrecedence(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		name    string
		header  []string
		after   time.Duration
		wantHit bool
	}{
		{"s-maxage over max-age (longer)", []string{"Cache-Control", "max-age=1, s-maxage=100"}, 50 * time.Second, true},
		{"s-maxage over max-age (shorter)", []string{"Cache-Control", "max-age=100, s-maxage=1"}, 50 * time.Second, false},
		{"max-age over Expires", []string{"Cache-Control", "max-age=100", "Expires", past}, 50 * time.Second, true},
		{"Expires 0 is expired", []string{"Expires", "0"}, 0, false},
		{"heuristic: 10% of 10h, before 1h", []string{"Last-Modified", time.Now().Add(-10 * time.Hour).UTC().Format(http.TimeFormat)}, 50 * time.Minute, true},
		{"heuristic: 10% of 10h, after 1h", []string{"Last-Modified", time.Now().Add(-10 * time.Hour).UTC().Format(http.TimeFormat)}, 70 * time.Minute, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			o := newOrigin(t, clk, fixed("x", tc.header...))
			e := newEdge(t, Config{Now: clk.Now}, o)
			e.get(t, "/f")
			clk.Advance(tc.after)
			r := e.get(t, "/f")
			if hit := e.last().Outcome == OutcomeHit; hit != tc.wantHit {
				t.Errorf("after %s: Cache-Status %q, want hit %v", tc.after, r.status(), tc.wantHit)
			}
		})
	}
}

func TestHeuristicOnlyForDefaultCacheableStatus(t *testing.T) {
	t.Parallel()
	lm := time.Now().Add(-10 * time.Hour).UTC().Format(http.TimeFormat)
	o := newOrigin(t, nil, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Last-Modified", lm)
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(http.StatusFound)
	})
	e := newEdge(t, Config{}, o)
	e.get(t, "/302")
	noStatus(t, e.get(t, "/302"), "hit")
	if o.requests() != 2 {
		t.Errorf("origin requests = %d, want 2", o.requests())
	}
}

func TestUnsafeMethodInvalidates(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/other")
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte(r.URL.Path))
	})
	e := newEdge(t, Config{}, o)
	e.get(t, "/item")
	e.get(t, "/other")
	wantStatus(t, e.get(t, "/item"), "hit")
	p := e.do(t, http.MethodPost, "/item")
	wantStatus(t, p, "fwd=method")
	if res := e.last(); res.Outcome != OutcomeBypass {
		t.Errorf("POST Outcome = %s, want bypass", res.Outcome)
	}
	wantStatus(t, e.get(t, "/item"), "fwd=uri-miss", "stored")
	wantStatus(t, e.get(t, "/other"), "fwd=uri-miss", "stored")
}

func TestCoalescing(t *testing.T) {
	t.Parallel()
	const n = 50
	release := make(chan struct{})
	o := newOrigin(t, nil, func(w http.ResponseWriter, _ *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("one"))
	})
	e := newEdge(t, Config{}, o)
	replies := make(chan reply, n)
	for range n {
		go func() { replies <- e.get(t, "/hot") }()
	}
	eventually(t, "49 followers waiting", func() bool { return e.c.Stats().Waiting == n-1 })
	close(release)
	collapsed, stored := 0, 0
	for range n {
		r := <-replies
		if r.body != "one" {
			t.Errorf("body %q", r.body)
		}
		if strings.Contains(r.status(), "; collapsed") {
			collapsed++
		}
		if strings.HasSuffix(r.status(), "; stored") {
			stored++
		}
	}
	if o.requests() != 1 || collapsed != n-1 || stored != 1 {
		t.Errorf("origin requests %d, collapsed %d, stored %d: want 1, %d, 1", o.requests(), collapsed, n-1, stored)
	}
	if st := e.c.Stats(); st.Collapsed != n-1 || st.Miss != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// An uncacheable response does not make later requests queue behind one another: once the URI is
// marked hit-for-pass, n concurrent requests are all at the origin at the same time.
func TestHitForPassDoesNotSerialize(t *testing.T) {
	t.Parallel()
	const n = 10
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Wave") == "1" {
			mu.Lock()
			arrived++
			if arrived == n {
				close(all)
			}
			mu.Unlock()
			select {
			case <-all:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Cache-Control", "private")
		_, _ = w.Write([]byte("mine"))
	})
	e := newEdge(t, Config{}, o)
	e.get(t, "/me")
	replies := make(chan reply, n)
	for range n {
		go func() { replies <- e.get(t, "/me", "X-Wave", "1") }()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for range n {
		select {
		case r := <-replies:
			wantStatus(t, r, "fwd=uri-miss", "detail=hit-for-pass")
		case <-ctx.Done():
			t.Fatal("requests were serialized behind one another")
		}
	}
}

func TestFollowersOfUncacheableFetchTheirOwn(t *testing.T) {
	t.Parallel()
	const n = 5
	release := make(chan struct{})
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer lead" {
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=60") // with Authorization: not storable
		_, _ = w.Write([]byte(r.Header.Get("Authorization")))
	})
	e := newEdge(t, Config{}, o)
	lead := make(chan reply, 1)
	go func() { lead <- e.get(t, "/me", "Authorization", "Bearer lead") }()
	eventually(t, "the leader at the origin", func() bool { return o.requests() == 1 })
	replies := make(chan reply, n)
	for i := range n {
		go func() { replies <- e.get(t, "/me", "Authorization", fmt.Sprint("Bearer u", i)) }()
	}
	eventually(t, "followers waiting", func() bool { return e.c.Stats().Waiting == n })
	close(release)
	if r := <-lead; r.body != "Bearer lead" {
		t.Errorf("leader body %q", r.body)
	}
	for range n {
		r := <-replies
		if !strings.HasPrefix(r.body, "Bearer u") {
			t.Errorf("a follower got %q: another user's response", r.body)
		}
	}
	if o.requests() != n+1 {
		t.Errorf("origin requests = %d, want %d", o.requests(), n+1)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var version sync.Mutex
	body := "v1"
	clk := newClock()
	o := newOrigin(t, clk, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			<-release
		}
		version.Lock()
		defer version.Unlock()
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
		w.Header().Set("ETag", `"`+body+`"`)
		_, _ = w.Write([]byte(body))
		body = "v2"
	})
	e := newEdge(t, Config{Now: clk.Now}, o)
	e.get(t, "/swr")
	clk.Advance(5 * time.Second)
	for range 20 {
		r := e.get(t, "/swr")
		wantStatus(t, r, "hit", "detail=stale-while-revalidate")
		if r.body != "v1" {
			t.Errorf("stale body %q", r.body)
		}
	}
	if o.requests() != 2 {
		t.Errorf("origin requests during the window = %d, want 2 (the fill and one revalidation)", o.requests())
	}
	close(release)
	if err := e.c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/swr")
	wantStatus(t, r, "hit")
	if r.body != "v2" || o.requests() != 2 {
		t.Errorf("after the revalidation: body %q, origin requests %d; want v2 and 2", r.body, o.requests())
	}
	if st := e.c.Stats(); st.Stale != 20 {
		t.Errorf("Stats.Stale = %d, want 20", st.Stale)
	}
}

func TestStaleIfErrorOriginClosed(t *testing.T) {
	t.Parallel()
	clk := newClock()
	o := newOrigin(t, clk, fixed("kept", "Cache-Control", "max-age=1, stale-if-error=60"))
	e := newEdge(t, Config{Now: clk.Now}, o)
	e.get(t, "/k")
	o.srv.Close()
	clk.Advance(30 * time.Second)
	r := e.get(t, "/k")
	wantStatus(t, r, "fwd=stale", "detail=stale-if-error")
	if r.code != http.StatusOK || r.body != "kept" {
		t.Errorf("stale-if-error: %d %q", r.code, r.body)
	}
	if res := e.last(); res.Outcome != OutcomeStale || !res.Hit {
		t.Errorf("Result = %+v", res)
	}
	clk.Advance(60 * time.Second)
	r = e.get(t, "/k")
	if r.code != http.StatusGatewayTimeout {
		t.Errorf("past the window: %d, want 504", r.code)
	}
}

func TestStaleIfErrorOn5xxAndConfigDefault(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	code := http.StatusOK
	clk := newClock()
	o := newOrigin(t, clk, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=1")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(http.StatusText(code)))
	})
	e := newEdge(t, Config{Now: clk.Now, StaleIfError: time.Minute}, o)
	e.get(t, "/e")
	mu.Lock()
	code = http.StatusServiceUnavailable
	mu.Unlock()
	clk.Advance(10 * time.Second)
	r := e.get(t, "/e")
	wantStatus(t, r, "fwd=stale", "fwd-status=503", "detail=stale-if-error")
	if r.code != http.StatusOK {
		t.Errorf("code %d, want the stale 200", r.code)
	}
}

func TestPurge(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil, fixed("x", "Cache-Control", "max-age=60"))
	e := newEdge(t, Config{}, o)
	for _, p := range []string{"/a", "/b", "/static/x.css", "/static/y.js"} {
		e.get(t, p)
	}
	if n, err := e.c.Purge("/a"); n != 1 || err != nil {
		t.Errorf("Purge(/a) = %d, %v", n, err)
	}
	if n, err := e.c.Purge(e.srv.URL + "/b"); n != 1 || err != nil {
		t.Errorf("Purge(absolute /b) = %d, %v", n, err)
	}
	if n, err := e.c.PurgePrefix("/static/"); n != 2 || err != nil {
		t.Errorf("PurgePrefix(/static/) = %d, %v", n, err)
	}
	if _, err := e.c.Purge("relative"); err == nil {
		t.Error("Purge(relative): no error")
	}
	wantStatus(t, e.get(t, "/a"), "fwd=uri-miss")
	wantStatus(t, e.get(t, "/static/x.css"), "fwd=uri-miss")
	if n := e.c.PurgeAll(); n != 2 {
		t.Errorf("PurgeAll = %d, want 2", n)
	}
	wantStatus(t, e.get(t, "/a"), "fwd=uri-miss")
}

func TestLargeBodyStreamedNotStored(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("z", 100<<10)
	o := newOrigin(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.URL.Query().Get("cl") == "" {
			w.(http.Flusher).Flush() // chunked: no Content-Length to decide on
		}
		_, _ = w.Write([]byte(big))
	})
	e := newEdge(t, Config{MaxBytes: 64 << 10}, o) // MaxEntryBytes 8 KiB
	for _, path := range []string{"/big", "/big?cl=1"} {
		for range 2 {
			r := e.get(t, path)
			if r.body != big {
				t.Fatalf("%s: body of %d bytes, want %d", path, len(r.body), len(big))
			}
			noStatus(t, r, "stored")
			if res := e.last(); !res.Storable || res.Stored {
				t.Errorf("%s: Result = %+v, want storable, not stored", path, res)
			}
		}
	}
	if o.requests() != 4 {
		t.Errorf("origin requests = %d, want 4", o.requests())
	}
}

func TestOnlyIfCached(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil, fixed("x", "Cache-Control", "max-age=60"))
	e := newEdge(t, Config{}, o)
	if r := e.get(t, "/o", "Cache-Control", "only-if-cached"); r.code != http.StatusGatewayTimeout || o.requests() != 0 {
		t.Errorf("only-if-cached miss: %d, origin requests %d", r.code, o.requests())
	}
}

func TestOriginDownOnMiss(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil, fixed("x"))
	o.srv.Close()
	e := newEdge(t, Config{}, o)
	r := e.get(t, "/down")
	if r.code != http.StatusBadGateway {
		t.Errorf("code %d, want 502", r.code)
	}
	wantStatus(t, r, "fwd=uri-miss", "detail=origin-error")
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Name: "bad name"},
		{MaxBytes: -1},
		{MaxBytes: 1 << 20, MaxEntryBytes: 2 << 20},
		{MaxVariants: -1},
		{HitForPass: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.MaxEntryBytes != MaxBytesDefault/MaxEntryShareDefault {
		t.Errorf("MaxEntryBytes default = %d", c.cfg.MaxEntryBytes)
	}
}
