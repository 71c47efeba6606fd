package loadgen

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// vegetaReadme is the targets file of vegeta's README ("HTTP format"), its body paths made real.
func vegetaReadme(t testing.TB, dir string) string {
	t.Helper()
	for _, name := range []string{"newthing.json", "thing-71988591.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"`+name+`":1}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return `GET http://goku:9090/path/to/dragon?item=ball
X-Account-ID: 8675309

DELETE http://goku:9090/path/to/remove
Confirmation-Token: 90215
Authorization: Token DEADBEEF

POST http://goku:9090/things
@` + filepath.Join(dir, "newthing.json") + `

PATCH http://goku:9090/thing/71988591
@` + filepath.Join(dir, "thing-71988591.json") + `
`
}

func TestReadTargetsAsVegeta(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got, f, err := ReadTargetsAs(strings.NewReader(vegetaReadme(t, dir)), TargetsOptions{})
	if err != nil || f != TargetsVegeta {
		t.Fatalf("ReadTargetsAs = %v, %v; want vegeta", f, err)
	}
	want := []Target{
		{Method: "GET", URL: "http://goku:9090/path/to/dragon?item=ball", Headers: map[string]string{"X-Account-ID": "8675309"}, Weight: 1},
		{Method: "DELETE", URL: "http://goku:9090/path/to/remove", Headers: map[string]string{"Confirmation-Token": "90215", "Authorization": "Token DEADBEEF"}, Weight: 1},
		{Method: "POST", URL: "http://goku:9090/things", Body: `{"newthing.json":1}`, Weight: 1},
		{Method: "PATCH", URL: "http://goku:9090/thing/71988591", Body: `{"thing-71988591.json":1}`, Weight: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", got, want)
	}

	// Comments, no blank line between targets, a repeated header, an inline body.
	in := "# smoke\nGET http://h/a\nGET http://h/b\nAccept: a\nAccept: b\nPOST http://h/c\nContent-Type: text/plain\n@<<EOF\nline 1\n\nline 3\nEOF\n"
	got, _, err = ReadTargetsAs(strings.NewReader(in), TargetsOptions{Format: TargetsVegeta})
	if err != nil {
		t.Fatal(err)
	}
	want = []Target{
		{Method: "GET", URL: "http://h/a", Weight: 1},
		{Method: "GET", URL: "http://h/b", Headers: map[string]string{"Accept": "a, b"}, Weight: 1},
		{Method: "POST", URL: "http://h/c", Headers: map[string]string{"Content-Type": "text/plain"}, Body: "line 1\n\nline 3\n", Weight: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", got, want)
	}
}

func TestReadTargetsAsVegetaJSON(t *testing.T) {
	t.Parallel()
	// vegeta's README JSON example: the body is base64 ("{"foo": "bar"}").
	in := `{"method": "GET", "url": "http://goku:9090/path/to/dragon?item=ball", "header": {"X-Account-ID": ["8675309"]}}
{"method": "POST", "url": "http://goku:9090/things", "body": "eyJmb28iOiAiYmFyIn0=", "header": {"Content-Type": ["application/json"], "Accept": ["a", "b"]}}
`
	got, f, err := ReadTargetsAs(strings.NewReader(in), TargetsOptions{})
	if err != nil || f != TargetsVegetaJSON {
		t.Fatalf("ReadTargetsAs = %v, %v; want vegeta-json", f, err)
	}
	want := []Target{
		{Method: "GET", URL: "http://goku:9090/path/to/dragon?item=ball", Headers: map[string]string{"X-Account-ID": "8675309"}, Weight: 1},
		{Method: "POST", URL: "http://goku:9090/things", Headers: map[string]string{"Content-Type": "application/json", "Accept": "a, b"}, Body: `{"foo": "bar"}`, Weight: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", got, want)
	}
}

func TestReadTargetsAsHAR(t *testing.T) {
	t.Parallel()
	har, err := os.ReadFile("testdata/chrome.har")
	if err != nil {
		t.Fatal(err)
	}
	got, f, err := ReadTargetsAs(strings.NewReader(string(har)), TargetsOptions{})
	if err != nil || f != TargetsHAR {
		t.Fatalf("ReadTargetsAs = %v, %v; want har", f, err)
	}
	want := []Target{
		// No fragment; Host and Connection dropped; two Cookie headers joined as one.
		{Method: "GET", URL: "http://127.0.0.1:8080/", Headers: map[string]string{"Accept": "text/html", "Cookie": "session=abc; theme=dark"}, Weight: 1},
		// No pseudo-headers or Content-Length; Content-Type from postData.
		{Method: "POST", URL: "https://127.0.0.1:8443/api/posts", Headers: map[string]string{"authorization": "Bearer t0k3n", "Content-Type": "application/json"}, Body: `{"title":"hi"}`, Weight: 1},
		// A form from its params.
		{Method: "POST", URL: "http://127.0.0.1:8080/login", Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: "next=%2Fa+b&user=ada", Weight: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", got, want)
	}
	// With the assets: the style sheet (by resource type) and the image (by MIME type); never the data: URL.
	got, _, err = ReadTargetsAs(strings.NewReader(string(har)), TargetsOptions{Format: TargetsHAR, HARAssets: true})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, tg := range got {
		urls = append(urls, tg.URL)
	}
	wantURLs := []string{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/static/site.css", "http://127.0.0.1:8080/static/logo.png", "https://127.0.0.1:8443/api/posts", "http://127.0.0.1:8080/login"}
	if !reflect.DeepEqual(urls, wantURLs) {
		t.Errorf("with assets: %v, want %v", urls, wantURLs)
	}
	// The results echo the config without the recorded credentials.
	red := Config{Targets: got}.Redacted()
	if red.Targets[0].Headers["Cookie"] != Redacted || red.Targets[3].Headers["authorization"] != Redacted {
		t.Errorf("redacted targets keep credentials: %+v", red.Targets)
	}
}

// TestReadTargetsAsChromiumHAR reads a HAR that Chromium 156.0.8078.129 (Debian) recorded while
// browsing the lab (cmd/headroom TestReplayChromiumHAR writes one to $HEADROOM_ARTIFACTS/lab.har):
// the home page and its assets, sign-in, /api/me, sign-out, an API URL with a query, the home page
// again from the disk cache with its assets from the memory cache, a reload (304). Entries the
// browser's cache answered never reached the server: they are left out, assets or not.
func TestReadTargetsAsChromiumHAR(t *testing.T) {
	t.Parallel()
	har, err := os.ReadFile("testdata/chromium-lab.har")
	if err != nil {
		t.Fatal(err)
	}
	const site = "http://127.0.0.1:38283"
	pages := []string{"GET /page/home", "POST /api/login", "GET /api/me", "DELETE /api/login", "GET /api/posts?limit=3&offset=1", "GET /favicon.ico", "GET /page/home"}
	assets := []string{"GET /static/app.e103840cfc32.css", "GET /static/app.30908cad859b.js", "GET /static/img/icon.a05ae807b33b.png",
		"GET /static/img/hero.2b40428bd8e8.png", "GET /static/img/card.2eadee2d60ad.png"}
	for _, tc := range []struct {
		assets bool
		want   []string
	}{{false, pages}, {true, slices.Concat(pages[:1], assets, pages[1:])}} {
		got, _, err := ReadTargetsAs(bytes.NewReader(har), TargetsOptions{HARAssets: tc.assets})
		if err != nil {
			t.Fatal(err)
		}
		var reqs []string
		for _, tg := range got {
			reqs = append(reqs, tg.Method+" "+strings.TrimPrefix(tg.URL, site))
			for k := range tg.Headers {
				if slices.Contains(harDropHeaders, strings.ToLower(k)) {
					t.Errorf("%s %s: header %s kept", tg.Method, tg.URL, k)
				}
			}
		}
		if !slices.Equal(reqs, tc.want) {
			t.Errorf("assets %v: targets\n%s\nwant\n%s", tc.assets, strings.Join(reqs, "\n"), strings.Join(tc.want, "\n"))
			continue
		}
		if tc.assets {
			continue
		}
		login, me, reload := got[1], got[2], got[6]
		if login.Body != `{"user_id":4}` || login.Headers["Content-Type"] != "application/json" {
			t.Errorf("sign-in: body %q, headers %v", login.Body, login.Headers)
		}
		if !strings.HasPrefix(me.Headers["Authorization"], "Bearer ") || me.Headers["User-Agent"] == "" {
			t.Errorf("/api/me lost the browser's credentials or user agent: %v", me.Headers)
		}
		if reload.Headers["If-None-Match"] == "" || reload.Headers["Cache-Control"] != "max-age=0" {
			t.Errorf("the reload lost its revalidation: %v", reload.Headers)
		}
	}
}

func TestReadTargetsAsDetectsHeadroomFirst(t *testing.T) {
	t.Parallel()
	in := "# headroom's own\n" + `{"url":"http://h/","weight":2}` + "\n"
	got, f, err := ReadTargetsAs(strings.NewReader(in), TargetsOptions{})
	if err != nil || f != TargetsJSONL || len(got) != 1 || got[0].Weight != 2 {
		t.Fatalf("ReadTargetsAs = %+v, %v, %v; want headroom's format", got, f, err)
	}
}

func TestReadTargetsAsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		format  TargetsFormat
		mention string
	}{
		{"GET http://h/\n", "yaml", `targets format "yaml": want one of auto, jsonl, har, vegeta, vegeta-json`},
		{"FETCH\n", "", `line 1: "FETCH": want METHOD URL`},
		{"GET http://h/\nnot a header\n", "", `line 2: "not a header"`},
		{"GET ftp://h/\n", "", `vegeta targets line 1: bad load configuration: URL "ftp://h/"`},
		{"POST http://h/\n@/nonexistent/body.json\n", "", "line 2: body: open /nonexistent/body.json"},
		{"POST http://h/\n@<<EOF\nbody\n", "", `no end line "EOF"`},
		{"# only\n", "vegeta", "no target"},
		{`{"log":{"entries":[]}}`, "", "HAR: no target: no entries"},
		{`{"log":{"entries":[{"request":{"method":"GET","url":"http://h/a.png"},"response":{"content":{"mimeType":"image/png"}}}]}}`, "", "all 1 entries are static assets"},
		// Chromium's favicon fetch is of resource type "other": its MIME type tells.
		{`{"log":{"entries":[{"_resourceType":"other","request":{"method":"GET","url":"http://h/favicon.ico"},"response":{"content":{"mimeType":"image/x-icon"}}}]}}`, "", "all 1 entries are static assets"},
		{`{"log":{"entries":[{"_fromCache":"memory","_resourceType":"fetch","request":{"method":"GET","url":"http://h/api"}}]}}`, "", "answered by the browser's cache"},
		{`{"log":{"entries":[{"request":{"method":"G T","url":"http://h/"}}]}}`, "", `HAR entry 0 (G T http://h/): bad load configuration: method "G T"`},
		{`{"log":`, "har", "HAR: unexpected end of JSON input"},
		{`{"url":"http://h/","header":{"A":"b"}}`, "", "vegeta JSON targets line 1"},
		{`{"url":"http://h/","header":{},"body":"!!"}`, "", "vegeta JSON targets line 1: illegal base64"},
	} {
		_, _, err := ReadTargetsAs(strings.NewReader(tc.in), TargetsOptions{Format: tc.format})
		if err == nil || !strings.Contains(err.Error(), tc.mention) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ReadTargetsAs(%q, %q) = %v, want a one-line error mentioning %s", tc.in, tc.format, err, tc.mention)
		}
	}
}

// FuzzReadTargetsAs: any input in any format reads to targets that can be sent, or to an error,
// never a panic.
func FuzzReadTargetsAs(f *testing.F) {
	har, err := os.ReadFile("testdata/chrome.har")
	if err != nil {
		f.Fatal(err)
	}
	recorded, err := os.ReadFile("testdata/chromium-lab.har")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		vegetaReadme(f, f.TempDir()), string(har), string(recorded),
		"GET http://h/a\nGET http://h/b\nAccept: a\nPOST http://h/c\n@<<EOF\nx\nEOF\n",
		`{"method": "POST", "url": "http://goku:9090/things", "body": "eyJmb28iOiAiYmFyIn0=", "header": {"Accept": ["a", "b"]}}`,
		`{"url":"http://h/","weight":2}`,
	} {
		for _, format := range TargetsFormats {
			f.Add(s, string(format))
		}
	}
	f.Fuzz(func(t *testing.T, in, format string) {
		ts, _, err := ReadTargetsAs(strings.NewReader(in), TargetsOptions{Format: TargetsFormat(format), Dir: t.TempDir()})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on more than one line: %q", err)
			}
			return
		}
		for _, tg := range ts {
			if _, err := newH1Request(tg, userAgent); err != nil {
				t.Fatalf("accepted target %+v cannot be prepared: %v", tg, err)
			}
		}
	})
}
