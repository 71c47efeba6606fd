package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/web"
)

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.send(t, "GET", "/static/manifest.json", "")
	var manifest map[string]string
	if err := json.Unmarshal(r.body, &manifest); err != nil || r.code != 200 {
		t.Fatalf("manifest: %d %s", r.code, r.body)
	}
	fingerprinted := regexp.MustCompile(`^/static/(img/)?[a-z]+\.[0-9a-f]{12}\.(js|css|png)$`)
	for _, alias := range []string{"/static/app.js", "/static/app.css", "/static/img/hero.png", "/static/img/card.png", "/static/img/icon.png"} {
		path := manifest[alias]
		if !fingerprinted.MatchString(path) {
			t.Errorf("manifest[%s] = %q: want a fingerprinted name", alias, path)
			continue
		}
		imm := e.send(t, "GET", path, "")
		if imm.code != 200 || imm.header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			imm.header.Get("ETag") == "" || imm.header.Get("Last-Modified") == "" {
			t.Errorf("GET %s: %d %v", path, imm.code, imm.header)
		}
		ct := imm.header.Get("Content-Type")
		if (strings.HasSuffix(path, ".png") && ct != "image/png") || (strings.HasSuffix(path, ".js") && !strings.HasPrefix(ct, "text/javascript")) ||
			(strings.HasSuffix(path, ".css") && !strings.HasPrefix(ct, "text/css")) {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		al := e.send(t, "GET", alias, "")
		if al.code != 200 || al.header.Get("Cache-Control") != "public, max-age=60" || al.header.Get("ETag") != imm.header.Get("ETag") || string(al.body) != string(imm.body) {
			t.Errorf("GET %s: %d %v (%d bytes; fingerprinted %d)", alias, al.code, al.header, len(al.body), len(imm.body))
		}
		// Revalidation: the same ETag answers 304 with no body, another 200.
		nm := e.send(t, "GET", alias, "", "If-None-Match", imm.header.Get("ETag"))
		if nm.code != http.StatusNotModified || len(nm.body) != 0 || nm.header.Get("ETag") != imm.header.Get("ETag") {
			t.Errorf("GET %s If-None-Match (same): %d, %d bytes", alias, nm.code, len(nm.body))
		}
		if nm := e.send(t, "GET", alias, "", "If-None-Match", `"other", `+imm.header.Get("ETag")); nm.code != http.StatusNotModified {
			t.Errorf("GET %s If-None-Match (list): %d", alias, nm.code)
		}
		if ch := e.send(t, "GET", alias, "", "If-None-Match", `"stale"`); ch.code != 200 {
			t.Errorf("GET %s If-None-Match (other): %d", alias, ch.code)
		}
	}
	if r := e.send(t, "GET", "/static/app.0123456789ab.js", ""); r.code != 404 || !strings.Contains(string(r.body), `"error"`) {
		t.Errorf("unknown asset: %d %s", r.code, r.body)
	}
}

func TestHomePageLocalized(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	manifest := map[string]string{}
	if err := json.Unmarshal(e.send(t, "GET", "/static/manifest.json", "").body, &manifest); err != nil {
		t.Fatal(err)
	}
	etags := map[string]string{}
	for _, tt := range []struct {
		accept, region, lang, text, price string
	}{
		{"", "", "en", "Welcome to the lab", "$ 9.99"},
		{"fr-CA,fr;q=0.9,en;q=0.5", "", "fr", "Bienvenue au labo", "€ 9,49"},
		{"de-DE,de;q=0.9", "CH", "de", "Willkommen im Labor", "CHF 9,99"},
		{"ja-JP", "", "ja", "ラボへようこそ", "￥ 1,500"},
		{"es-ES,es;q=0.9", "GB", "en", "Welcome to the lab", "£ 8.49"},
	} {
		r := e.send(t, "GET", "/page/home", "", "Accept-Language", tt.accept, web.RegionHeader, tt.region)
		body := string(r.body)
		if r.code != 200 {
			t.Fatalf("GET /page/home (%s): %d %s", tt.accept, r.code, body)
		}
		h := r.header
		if h.Get("Content-Language") != tt.lang || h.Get("Vary") != "Accept-Language, Headroom-Region" ||
			h.Get("Cache-Control") != "public, max-age=60, stale-while-revalidate=30" || h.Get("ETag") == "" ||
			!strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("GET /page/home (%q): headers %v", tt.accept, h)
		}
		if !strings.Contains(body, `<html lang="`+tt.lang+`">`) || !strings.Contains(body, tt.text) || !strings.Contains(body, tt.price) {
			t.Errorf("GET /page/home (%q, %q): want lang %s, %q, %q in:\n%s", tt.accept, tt.region, tt.lang, tt.text, tt.price, body)
		}
		for _, alias := range []string{"/static/app.js", "/static/app.css", "/static/img/hero.png"} {
			if !strings.Contains(body, `"`+manifest[alias]+`"`) {
				t.Errorf("the page does not link %s (%s)", manifest[alias], alias)
			}
		}
		etags[h.Get("ETag")] = tt.accept
		nm := e.send(t, "GET", "/page/home", "", "Accept-Language", tt.accept, web.RegionHeader, tt.region, "If-None-Match", h.Get("ETag"))
		if nm.code != http.StatusNotModified || len(nm.body) != 0 || nm.header.Get("Vary") == "" {
			t.Errorf("GET /page/home (%q) If-None-Match: %d %v", tt.accept, nm.code, nm.header)
		}
	}
	if len(etags) != 5 {
		t.Errorf("%d distinct ETags for 5 variants", len(etags))
	}
	// The page lists the newest posts: a new one changes it, and its ETag.
	before := e.send(t, "GET", "/page/home", "")
	if _, err := e.store.CreatePost(t.Context(), 1, "A brand new post "+time.Now().Format(time.RFC3339Nano), "body"); err != nil {
		t.Fatal(err)
	}
	after := e.send(t, "GET", "/page/home", "", "If-None-Match", before.header.Get("ETag"))
	if after.code != 200 || !strings.Contains(string(after.body), "A brand new post") {
		t.Errorf("after a new post, If-None-Match of the old page: %d", after.code)
	}
}
