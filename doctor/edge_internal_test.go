package doctor

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestShowcaseAsset(t *testing.T) {
	t.Parallel()
	for page, want := range map[string]string{
		`<link rel="stylesheet" href="/static/app.1a2b.css"><script src="/static/app.3f2a9c1b7e42.js" defer></script>`: "/static/app.3f2a9c1b7e42.js",
		`<script defer src='/static/app.x.js'></script>`:                                                               "/static/app.x.js",
		`<script src="https://cdn.example/app.js"></script>`:                                                           "",
		`<script src="/static/app.js?v=1"></script>`:                                                                   "",
		`<script src="/static/a b.js"></script>`:                                                                       "",
		`<img src="/static/img/logo.png">`:                                                                             "",
		``:                                                                                                             "",
	} {
		if got := showcaseAsset([]byte(page)); got != want {
			t.Errorf("showcaseAsset(%q) = %q, want %q", page, got, want)
		}
	}
}

// FuzzShowcaseAsset: whatever page the lab serves, the asset found is "" or a plain /static/
// path that makes a valid endpoint.
func FuzzShowcaseAsset(f *testing.F) {
	for _, s := range []string{`<script src="/static/app.3f2a9c1b7e42.js" defer></script>`, `<script src='/static/x.js'>`, `<script src="/static/a b.js">`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, page string) {
		a := showcaseAsset([]byte(page))
		if a == "" {
			return
		}
		if !strings.HasPrefix(a, "/static/") || !strings.HasSuffix(a, ".js") || strings.ContainsAny(a, " ?#\"'") {
			t.Fatalf("asset %q from %q: want a plain /static/….js path", a, page)
		}
		if _, err := parseEndpoint("http://127.0.0.1:1", "GET "+a); err != nil {
			t.Fatalf("asset %q makes no endpoint: %v", a, err)
		}
	})
}

// TestShowcaseEndpoints: the showcase joins only as far as the lab serves it; absent, it is
// skipped, never an error.
func TestShowcaseEndpoints(t *testing.T) {
	t.Parallel()
	serve := func(page, asset bool) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/page/home" && page:
				_, _ = w.Write([]byte(`<html><script src="/static/app.abc123.js" defer></script></html>`))
			case r.URL.Path == "/static/app.abc123.js" && asset:
				_, _ = w.Write([]byte("console.log(1)"))
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for _, tc := range []struct {
		name string
		base string
		want []string
	}{
		{"both", serve(true, true), []string{"GET /page/home", "GET /static/app.abc123.js"}},
		{"page only", serve(true, false), []string{"GET /page/home"}},
		{"none", serve(false, true), nil},
		{"down", down.URL, nil},
	} {
		if got := showcaseEndpoints(t.Context(), tc.base); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
