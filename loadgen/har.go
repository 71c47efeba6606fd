package loadgen

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// harFile is the part of a HAR 1.2 file (http://www.softwareishard.com/blog/har-12-spec/) that
// becomes targets.
type harFile struct {
	Log struct {
		Entries []harEntry `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	Request struct {
		Method   string     `json:"method"`
		URL      string     `json:"url"`
		Headers  []harField `json:"headers"`
		PostData *struct {
			MimeType string     `json:"mimeType"`
			Text     string     `json:"text"`
			Params   []harField `json:"params"`
		} `json:"postData"`
	} `json:"request"`
	Response struct {
		Content struct {
			MimeType string `json:"mimeType"`
		} `json:"content"`
	} `json:"response"`
	// ResourceType is Chromium's classification of the request (document, xhr, fetch, image,
	// script, stylesheet, font, media, other, …), when the browser recorded it.
	ResourceType string `json:"_resourceType"`
	// FromCache is "memory" or "disk" when Chromium's cache answered the request: it never
	// reached the server, and its headers are the page's, not those sent.
	FromCache string `json:"_fromCache"`
}

type harField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// harDropHeaders are the request headers a HAR records that a replay must not send as they
// are (lower case): HTTP/2 and HTTP/3 pseudo-headers start with ':' and are left out too. Hop-
// by-hop headers (RFC 9110 §7.6.1) belong to the recorded connection; Host is the URL's;
// Content-Length is the body's, computed again.
var harDropHeaders = []string{"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host", "content-length"}

// harAssetTypes are Chromium resource types, and harAssetMIME the response MIME type prefixes,
// of static assets.
var (
	harAssetTypes = []string{"image", "font", "stylesheet", "script", "media", "manifest", "texttrack"}
	harAssetMIME  = []string{"image/", "font/", "audio/", "video/", "text/css", "text/javascript", "application/javascript",
		"application/x-javascript", "application/ecmascript", "application/font-", "application/x-font-", "application/vnd.ms-fontobject", "application/manifest+json"}
)

// readHAR turns each entry of a HAR into a target: its method, URL, headers and body. Left out:
// requests that are not http(s) (data:, blob:, ws:, extensions), requests the browser's cache
// answered (Chromium's _fromCache: the server never saw them), static assets unless assets is
// set (by the browser's resource type when it names one, else the response's MIME type), and
// the headers in harDropHeaders. Cookies and Authorization are kept, so that a session recorded
// logged in replays logged in; results redact their values (Config.Redacted).
func readHAR(b []byte, assets bool) ([]Target, error) {
	var h harFile
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, configErr("HAR: %v (want a HAR 1.2 file: a JSON object with log.entries)", err)
	}
	var out []Target
	skipped := 0
	for i, e := range h.Log.Entries {
		r := e.Request
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || e.FromCache != "" {
			skipped++
			continue
		}
		if !assets && harIsAsset(e) {
			skipped++
			continue
		}
		// A HAR's URL keeps its fragment, which is never sent.
		u.Fragment, u.RawFragment = "", ""
		t := Target{Method: r.Method, URL: u.String()}
		for _, f := range r.Headers {
			n := strings.ToLower(f.Name)
			if strings.HasPrefix(n, ":") || slices.Contains(harDropHeaders, n) {
				continue
			}
			t.Headers = addHeader(t.Headers, f.Name, f.Value)
		}
		if pd := r.PostData; pd != nil {
			t.Body = pd.Text
			if t.Body == "" && len(pd.Params) > 0 {
				form := url.Values{}
				for _, p := range pd.Params {
					form.Add(p.Name, p.Value)
				}
				t.Body = form.Encode()
			}
			if pd.MimeType != "" && !hasHeader(t.Headers, "content-type") {
				t.Headers = addHeader(t.Headers, "Content-Type", pd.MimeType)
			}
		}
		t, err = finish(t)
		if err != nil {
			return nil, fmt.Errorf("HAR entry %d (%s %s): %w", i, r.Method, clip(r.URL), err)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		what := "no entries"
		if skipped > 0 {
			what = fmt.Sprintf("all %d entries are static assets, answered by the browser's cache or not http(s) (keep assets with --har-assets)", skipped)
		}
		return nil, configErr("HAR: no target: %s", what)
	}
	return out, nil
}

// harIsAsset reports whether an entry fetched a static asset: by its resource type, unless
// that is missing or "other" (Chromium's type of a favicon fetch, among others), then by the
// response's MIME type.
func harIsAsset(e harEntry) bool {
	if rt := strings.ToLower(e.ResourceType); rt != "" && rt != "other" {
		return slices.Contains(harAssetTypes, rt)
	}
	mime := strings.ToLower(e.Response.Content.MimeType)
	for _, p := range harAssetMIME {
		if strings.HasPrefix(mime, p) {
			return true
		}
	}
	return false
}

// hasHeader reports whether h has name, in any case.
func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}
