package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

//go:embed assets/app.js assets/app.css
var files embed.FS

// The Cache-Control values of the site's responses.
const (
	// ImmutableCacheControl is a fingerprinted asset's: its name changes with its bytes, so any
	// cache may keep it for a year without asking again (RFC 8246).
	ImmutableCacheControl = "public, max-age=31536000, immutable"
	// AliasCacheControl is an unfingerprinted alias's (and the manifest's): fresh for 60 s, then
	// revalidated with If-None-Match.
	AliasCacheControl = "public, max-age=60"
	// PageCacheControl is the home page's: fresh for 60 s, then served stale for up to 30 s
	// more while a cache revalidates it in the background (RFC 5861).
	PageCacheControl = "public, max-age=60, stale-while-revalidate=30"
)

// LastModified is the Last-Modified of every asset: they are built into the binary or generated
// the same way at every start, so they carry one fixed date rather than the start time (which
// would make every restart look like a change).
var LastModified = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// Asset is one static file, served under both of its names.
type Asset struct {
	// Path is the fingerprinted name, e.g. /static/app.3f2a9c1b7e42.js, immutable.
	Path string `json:"path"`
	// Alias is the unfingerprinted name, e.g. /static/app.js, revalidated after 60 s.
	Alias       string `json:"alias"`
	ContentType string `json:"content_type"`
	// ETag is the strong validator of the bytes, the same under both names.
	ETag string `json:"etag"`
	Size int    `json:"size"`
	body []byte
}

// served is an asset under one of its names.
type served struct {
	asset        *Asset
	cacheControl string
}

// Site serves the static assets and the home page. It is safe for concurrent use.
type Site struct {
	assets []*Asset
	byPath map[string]served
	// the fingerprinted paths the page links to
	js, css, hero, card, icon string
	page                      *template.Template
}

// New builds the site: reads the embedded script and stylesheet and, the first time in a
// process, generates the images (about 0.1 s of CPU).
func New() (*Site, error) {
	s := &Site{byPath: map[string]served{}}
	for _, name := range []string{"app.js", "app.css"} {
		b, err := files.ReadFile("assets/" + name)
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		s.add("/static/"+name, b, true)
	}
	pngs, err := rendered()
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	for i, im := range images {
		s.add("/static/img/"+im.name+".png", pngs[i], true)
	}
	s.js, s.css = s.byPath["/static/app.js"].asset.Path, s.byPath["/static/app.css"].asset.Path
	s.hero, s.card, s.icon = s.byPath["/static/img/hero.png"].asset.Path, s.byPath["/static/img/card.png"].asset.Path, s.byPath["/static/img/icon.png"].asset.Path
	manifest := map[string]string{}
	for _, a := range s.assets {
		manifest[a.Alias] = a.Path
	}
	mb, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("web: manifest: %w", err)
	}
	s.add("/static/manifest.json", append(mb, '\n'), false)
	if s.page, err = template.New("home").Parse(homeTemplate); err != nil {
		return nil, fmt.Errorf("web: page template: %w", err)
	}
	return s, nil
}

// add registers an asset under alias and, if fingerprint, under the name with its hash
// (app.js → app.<12 hex>.js).
func (s *Site) add(alias string, body []byte, fingerprint bool) {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	ext := path.Ext(alias)
	a := &Asset{Alias: alias, Path: alias, ContentType: contentType(ext), ETag: `"` + h[:32] + `"`, Size: len(body), body: body}
	if fingerprint {
		a.Path = strings.TrimSuffix(alias, ext) + "." + h[:12] + ext
		s.byPath[a.Path] = served{a, ImmutableCacheControl}
	}
	s.byPath[alias] = served{a, AliasCacheControl}
	s.assets = append(s.assets, a)
}

func contentType(ext string) string {
	switch ext {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".png":
		return "image/png"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

// Assets returns the static assets (the manifest included), sorted by alias.
func (s *Site) Assets() []Asset {
	out := make([]Asset, len(s.assets))
	for i, a := range s.assets {
		out[i] = *a
	}
	slices.SortFunc(out, func(a, b Asset) int { return strings.Compare(a.Alias, b.Alias) })
	return out
}

// ServeStatic answers GET and HEAD of an asset at r.URL.Path (under either name) with its
// Cache-Control, ETag and Last-Modified, 304 to a matching If-None-Match (or, without one, an
// If-Modified-Since not before LastModified), and byte ranges; it reports false, writing
// nothing, for a path that is no asset.
func (s *Site) ServeStatic(w http.ResponseWriter, r *http.Request) bool {
	sv, ok := s.byPath[r.URL.Path]
	if !ok {
		return false
	}
	h := w.Header()
	h.Set("Cache-Control", sv.cacheControl)
	h.Set("ETag", sv.asset.ETag)
	h.Set("Content-Type", sv.asset.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", LastModified, bytes.NewReader(sv.asset.body))
	return true
}
