package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/headroom/headroom/internal/browsertest"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/seed"
)

// TestReplayChromiumHAR: headless Chromium browses the lab — its home page, sign-in (POST
// /api/login with a JSON body), /api/me with the session's Authorization, sign-out (DELETE
// /api/login), an API URL with a query, the home page again from the browser's cache, then a
// reload that revalidates it (304) — while a recording proxy in front of the lab keeps every
// request it receives. The traffic, recorded from the browser's protocol events as DevTools'
// "Save all as HAR" records it, is replayed by `headroom load --targets rec.har`: the proxy must
// see exactly the requests the browsing sent it (method, path and query, headers, body), the
// static assets (/static/) only with --har-assets, and nothing the browser's cache answered.
func TestReplayChromiumHAR(t *testing.T) {
	t.Parallel()
	bin, err := browsertest.Find()
	if errors.Is(err, browsertest.ErrNoBrowser) {
		t.Skip(err)
	}
	dir := t.TempDir()
	a, err := app.Start(t.Context(), app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(dir, "lab.db"),
		Seed: seed.Config{Users: 20, PostsPerUser: 2},
		Log:  io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	rec := startRecordingProxy(t, a.Info().URL)
	site := rec.srv.URL

	visible := browsertest.WaitVisible
	har, err := browsertest.RecordHAR(t.Context(), bin, dir,
		browsertest.Visit(site+"/page/home"), visible("#signin"),
		browsertest.Click("#signin"), visible("#me"),
		browsertest.Click("#signout"), visible("#signin"),
		browsertest.Visit(site+"/api/posts?limit=3&offset=1"),
		browsertest.Visit(site+"/page/home"), visible("#signin"),
		browsertest.Reload(), visible("#signin"),
	)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rec.har")
	if err := os.WriteFile(path, har, 0o600); err != nil {
		t.Fatal(err)
	}
	if art, err := browsertest.ArtifactDir(); err == nil {
		_ = os.WriteFile(filepath.Join(art, "lab.har"), har, 0o600)
	}
	// What the test shows left out or kept must be in the recording.
	var recorded struct {
		Log struct {
			Entries []struct {
				FromCache string `json:"_fromCache"`
				Response  struct {
					Status int `json:"status"`
				} `json:"response"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(har, &recorded); err != nil {
		t.Fatal(err)
	}
	cached, revalidated := 0, 0
	for _, e := range recorded.Log.Entries {
		if e.FromCache != "" {
			cached++
		}
		if e.Response.Status == http.StatusNotModified {
			revalidated++
		}
	}
	if cached == 0 || revalidated == 0 {
		t.Fatalf("the recording has %d entries from the browser's cache and %d revalidated (304): want some of each", cached, revalidated)
	}

	all := distinctRequests(rec.take())
	var pages []string
	for _, r := range all {
		if !strings.Contains(r, " /static/") {
			pages = append(pages, r)
		}
	}
	for _, want := range []string{"POST /api/login", "GET /api/me", "DELETE /api/login", "GET /api/posts?limit=3&offset=1", "GET /page/home"} {
		if !slices.ContainsFunc(pages, func(r string) bool { return strings.HasPrefix(r, want+"\n") }) {
			t.Fatalf("the browsing sent no %s: the test must replay it\n%s", want, strings.Join(all, "\n---\n"))
		}
	}
	if len(pages) == len(all) {
		t.Fatalf("the browsing fetched no /static/ asset: the test must show them left out")
	}

	for _, tc := range []struct {
		assets bool
		want   []string
	}{{false, pages}, {true, all}} {
		args := []string{"load", "--targets", path, "--targets-format", "har", "-n", "300", "--rate", "300", "-q"}
		if tc.assets {
			args = append(args, "--har-assets")
		}
		code, _, stderr := runIO(t, "", args...)
		if code != 0 && code != 3 { // 3: on a loaded machine the generator's verdict may say it sent late
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		// 300 requests drawn at random over at most 20 targets miss one with a chance under 1e-7.
		if got := distinctRequests(rec.take()); !slices.Equal(got, tc.want) {
			t.Errorf("--har-assets=%v replayed:\n%s\n=== want what the browser sent:\n%s", tc.assets, strings.Join(got, "\n---\n"), strings.Join(tc.want, "\n---\n"))
		}
	}
}

// recordedRequest is a request as the lab's proxy received it.
type recordedRequest struct {
	method, uri string
	header      http.Header
	body        string
}

// recordingProxy passes every request on to the lab and keeps a copy.
type recordingProxy struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []recordedRequest
}

func startRecordingProxy(t *testing.T, lab string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(lab)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.reqs = append(p.reqs, recordedRequest{r.Method, r.RequestURI, r.Header.Clone(), string(body)})
		p.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// take returns the requests received since the last take.
func (p *recordingProxy) take() []recordedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	reqs := p.reqs
	p.reqs = nil
	return reqs
}

// distinctRequests renders each request as text — method and request target, then its headers
// sorted by name (canonical, as net/http reads them), then its body — without the headers that
// belong to a connection or to headroom rather than to the request (Connection, Traceparent),
// and returns the distinct texts, sorted. /favicon.ico is left out: Chromium fetches it for a
// page without an icon on a schedule of its own, which may end after the page has settled and
// the next step has begun (the request then reaches the server but is not in the recording).
func distinctRequests(reqs []recordedRequest) []string {
	var out []string
	for _, r := range reqs {
		if r.uri == "/favicon.ico" {
			continue
		}
		h := r.header.Clone()
		h.Del("Connection")
		h.Del("Traceparent")
		var b strings.Builder
		b.WriteString(r.method + " " + r.uri + "\n")
		for _, k := range slices.Sorted(maps.Keys(h)) {
			b.WriteString(k + ": " + strings.Join(h[k], ", ") + "\n")
		}
		b.WriteString("\n" + r.body)
		if s := b.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
