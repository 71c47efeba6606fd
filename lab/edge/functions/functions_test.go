package functions_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/headroom/headroom/lab/edge/functions"
	"github.com/headroom/headroom/lab/isolate"
)

// testCacheDir is shared across runs: compiling the four modules takes seconds, more under
// -race; wazero keys its entries by its version and the module's hash.
var testCacheDir = filepath.Join(os.TempDir(), "headroom-isolate-test-wazero")

var (
	hsKey        = []byte("edge and origin share this secret")
	edPub, edKey = func() (ed25519.PublicKey, ed25519.PrivateKey) {
		pub, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return pub, key
	}()
	now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
)

// clock is a settable clock for the host (token expiry, the filter's buckets).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// load starts a runtime with the test keys, clk and vars, and loads the function name.
func load(t *testing.T, name string, clk *clock, vars map[string]string) *isolate.Function {
	t.Helper()
	if clk == nil {
		clk = &clock{t: now}
	}
	r, err := isolate.New(context.Background(), isolate.Config{
		CacheDir: testCacheDir,
		// The limit is wall time of the call: under -race on a loaded machine a call can take
		// past the default 50 ms. These tests are about behaviour; lab/isolate tests the limit.
		CPULimit: 5 * time.Second,
		JWT:      isolate.JWTConfig{EdDSA: edPub, HS256: hsKey, Issuer: "headroom-lab"},
		Vars:     map[string]map[string]string{name: vars},
		Now:      clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	wasm, err := functions.Module(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.Load(t.Context(), name, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func request(method, target string, headers ...string) *isolate.Request {
	path, query, _ := strings.Cut(target, "?")
	r := &isolate.Request{Method: method, Path: path, Query: query, ClientAddr: "203.0.113.7:50000"}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, isolate.Header{Name: headers[i], Value: headers[i+1]})
	}
	return r
}

func do(t *testing.T, f *isolate.Function, phase isolate.Phase, r *isolate.Request) isolate.Decision {
	t.Helper()
	d, _, err := f.Call(t.Context(), phase, r)
	if err != nil {
		t.Fatalf("%s %s %s: %v", f.Name(), r.Method, r.Path, err)
	}
	return d
}

// edit returns the value a decision's edits give name, and whether they touch it.
func edit(edits []isolate.HeaderEdit, name string) (string, isolate.EditKind, bool) {
	for i := len(edits) - 1; i >= 0; i-- {
		if strings.EqualFold(edits[i].Name, name) {
			return edits[i].Value, edits[i].Kind, true
		}
	}
	return "", 0, false
}

func token(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNames(t *testing.T) {
	t.Parallel()
	if got, want := functions.Names(), []string{"auth", "filter", "locale", "prefs"}; !slices.Equal(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	if _, err := functions.Module("nope"); err == nil {
		t.Error("Module(nope) did not fail")
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := load(t, "auth", nil, nil)
	valid := jwt.MapClaims{"sub": "42", "sid": "s-1", "iss": "headroom-lab", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range valid {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)
	none := token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)
	hs := token(t, jwt.SigningMethodHS256, hsKey, valid)
	for _, c := range []struct {
		name, path, auth string
		reason           string // "" = passes with identity 42/s-1
	}{
		{"EdDSA", "/api/me", "Bearer " + token(t, jwt.SigningMethodEdDSA, edKey, valid), ""},
		{"HS256", "/api/me", "Bearer " + hs, ""},
		{"scheme case", "/api/me", "bearer " + hs, ""},
		{"sub path", "/api/me/settings", "Bearer " + hs, ""},
		{"unprotected", "/page/home", "", "pass"},
		{"prefix is not a path", "/api/meow", "", "pass"},
		{"missing", "/api/me", "", "missing"},
		{"basic", "/api/me", "Basic dXNlcjpwYXNz", "missing"},
		{"empty bearer", "/api/me", "Bearer ", "missing"},
		{"garbage", "/api/me", "Bearer not.a.jwt", "invalid"},
		{"alg none", "/api/me", "Bearer " + none, "invalid"},
		{"wrong Ed25519 key", "/api/me", "Bearer " + token(t, jwt.SigningMethodEdDSA, otherEd, valid), "invalid"},
		{"wrong HMAC secret", "/api/me", "Bearer " + token(t, jwt.SigningMethodHS256, []byte("guess"), valid), "invalid"},
		{"HS512", "/api/me", "Bearer " + token(t, jwt.SigningMethodHS512, hsKey, valid), "invalid"},
		{"forged payload", "/api/me", "Bearer " + forge(hs), "invalid"},
		{"expired", "/api/me", "Bearer " + token(t, jwt.SigningMethodEdDSA, edKey, with("exp", now.Add(-time.Second).Unix())), "expired"},
		{"no exp", "/api/me", "Bearer " + token(t, jwt.SigningMethodEdDSA, edKey, with("exp", nil)), "invalid"},
		{"no sub", "/api/me", "Bearer " + token(t, jwt.SigningMethodEdDSA, edKey, with("sub", nil)), "invalid"},
		{"other issuer", "/api/me", "Bearer " + token(t, jwt.SigningMethodEdDSA, edKey, with("iss", "evil")), "invalid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var hs []string
			if c.auth != "" {
				hs = []string{"Authorization", c.auth}
			}
			d := do(t, f, isolate.PhaseRequest, request("GET", c.path, hs...))
			switch c.reason {
			case "":
				if d.Action != isolate.ActionContinue || d.Identity == nil || *d.Identity != (isolate.Identity{Sub: "42", Sid: "s-1", Exp: now.Add(time.Hour).Unix()}) {
					t.Fatalf("got %v identity %+v; want continue with 42/s-1", d.Action, d.Identity)
				}
			case "pass":
				if d.Action != isolate.ActionContinue || d.Identity != nil {
					t.Fatalf("got %v identity %+v; want continue without identity", d.Action, d.Identity)
				}
			default:
				if d.Action != isolate.ActionRespond || d.Status != 401 {
					t.Fatalf("got %v %d; want 401", d.Action, d.Status)
				}
				if v, _, _ := edit(d.ResponseHeaders, "WWW-Authenticate"); !strings.HasPrefix(v, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", v)
				}
				if v, _, _ := edit(d.ResponseHeaders, "Content-Type"); v != "application/json" {
					t.Errorf("Content-Type = %q", v)
				}
				if want := `"reason":"` + c.reason + `"`; !strings.Contains(string(d.Body), want) {
					t.Errorf("body %s lacks %s", d.Body, want)
				}
			}
		})
	}
}

// forge swaps a token's payload for one claiming another user, keeping the signature.
func forge(tok string) string {
	parts := strings.Split(tok, ".")
	claims := jwt.MapClaims{"sub": "1", "sid": "s-1", "iss": "headroom-lab", "exp": now.Add(time.Hour).Unix()}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SigningString()
	return strings.Split(forged, ".")[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2]
}

func TestAuthProtectedBinding(t *testing.T) {
	t.Parallel()
	f := load(t, "auth", nil, map[string]string{"protected": "/api/, /admin"})
	for path, want := range map[string]isolate.Action{
		"/api/me": isolate.ActionRespond, "/api/posts": isolate.ActionRespond, "/admin": isolate.ActionRespond,
		"/page/home": isolate.ActionContinue, "/administrator": isolate.ActionContinue,
	} {
		if d := do(t, f, isolate.PhaseRequest, request("GET", path)); d.Action != want {
			t.Errorf("%s without a token: %v, want %v", path, d.Action, want)
		}
	}
}

func TestLocale(t *testing.T) {
	t.Parallel()
	f := load(t, "locale", nil, nil)
	for _, c := range []struct {
		acceptLanguage, region string
		lang, wantRegion       string // wantRegion "" = header removed
	}{
		{"fr-CA,fr;q=0.9,en;q=0.8", "", "fr", "CA"},
		{"de-DE", "at", "de", "AT"},
		{"ja", "JP", "ja", "JP"},
		{"en-GB,en;q=0.9", "", "en", "GB"},
		{"es-ES,es;q=0.9", "", "en", "ES"}, // unsupported: the fallback language
		{"", "", "en", ""},
		{"*", "fr", "en", "FR"},
		{"pt;q=0.9, de;q=0.5", "nowhere", "de", ""},
		{"garbage;;;", "", "en", ""},
	} {
		var hs []string
		if c.acceptLanguage != "" {
			hs = append(hs, "Accept-Language", c.acceptLanguage)
		}
		if c.region != "" {
			hs = append(hs, "Headroom-Region", c.region)
		}
		d := do(t, f, isolate.PhaseRequest, request("GET", "/page/home", hs...))
		lang, _, _ := edit(d.RequestHeaders, "Accept-Language")
		region, kind, _ := edit(d.RequestHeaders, "Headroom-Region")
		if d.Action != isolate.ActionContinue || lang != c.lang || region != c.wantRegion || (c.wantRegion == "") != (kind == isolate.EditDel) {
			t.Errorf("Accept-Language %q, region %q: got %v lang %q region %q (edit %d); want lang %q region %q",
				c.acceptLanguage, c.region, d.Action, lang, region, kind, c.lang, c.wantRegion)
		}
	}
}

func TestLocaleLanguagesBinding(t *testing.T) {
	t.Parallel()
	f := load(t, "locale", nil, map[string]string{"languages": "de,en"})
	d := do(t, f, isolate.PhaseRequest, request("GET", "/", "Accept-Language", "fr"))
	if lang, _, _ := edit(d.RequestHeaders, "Accept-Language"); lang != "de" {
		t.Errorf("fr with languages de,en: %q, want the first, de", lang)
	}
}

func TestFilterRules(t *testing.T) {
	t.Parallel()
	f := load(t, "filter", nil, map[string]string{"rules": "method=DELETE; path=/admin\nheader=X-Debug\nheader=User-Agent:BadBot"})
	for _, c := range []struct {
		method, path string
		headers      []string
		blocked      bool
	}{
		{"GET", "/api/me", nil, false},
		{"DELETE", "/api/posts/1", nil, true},
		{"delete", "/x", nil, true},
		{"GET", "/admin/users", nil, true},
		{"GET", "/x", []string{"X-Debug", "1"}, true},
		{"GET", "/x", []string{"User-Agent", "Mozilla/5.0 (compatible; badbot/2.1)"}, true},
		{"GET", "/x", []string{"User-Agent", "Mozilla/5.0"}, false},
		{"TRACE", "/x", nil, false}, // the default rules are replaced
	} {
		d := do(t, f, isolate.PhaseRequest, request(c.method, c.path, c.headers...))
		if got := d.Action == isolate.ActionRespond && d.Status == 403; got != c.blocked {
			t.Errorf("%s %s %v: %v %d, want blocked %v", c.method, c.path, c.headers, d.Action, d.Status, c.blocked)
		}
	}
	def := load(t, "filter", nil, nil)
	if d := do(t, def, isolate.PhaseRequest, request("TRACE", "/")); d.Status != 403 {
		t.Errorf("TRACE with the default rules: %d, want 403", d.Status)
	}
}

func TestFilterRateLimit(t *testing.T) {
	t.Parallel()
	clk := &clock{t: now}
	f := load(t, "filter", clk, map[string]string{"rate": "2", "burst": "3"})
	req := request("GET", "/api/me")
	for i := range 3 {
		if d := do(t, f, isolate.PhaseRequest, req); d.Action != isolate.ActionContinue {
			t.Fatalf("request %d within the burst: %v %d", i+1, d.Action, d.Status)
		}
	}
	d := do(t, f, isolate.PhaseRequest, req)
	if d.Status != 429 {
		t.Fatalf("past the burst: %v %d, want 429", d.Action, d.Status)
	}
	if v, _, _ := edit(d.ResponseHeaders, "Retry-After"); v != "1" {
		t.Errorf("Retry-After = %q, want 1 (a token every 0.5 s, rounded up)", v)
	}
	other := request("GET", "/api/me")
	other.ClientAddr = "[2001:db8::1]:443"
	if d := do(t, f, isolate.PhaseRequest, other); d.Action != isolate.ActionContinue {
		t.Errorf("another client: %v %d, want its own bucket", d.Action, d.Status)
	}
	clk.Add(500 * time.Millisecond)
	if d := do(t, f, isolate.PhaseRequest, req); d.Action != isolate.ActionContinue {
		t.Errorf("after 0.5 s (one token): %v %d", d.Action, d.Status)
	}
}

func TestFilterRouting(t *testing.T) {
	t.Parallel()
	f := load(t, "filter", nil, map[string]string{"b_prefix": "/beta/", "b_percent": "30", "rate": "0"}) // rate 0: no limit
	if d := do(t, f, isolate.PhaseRequest, request("GET", "/beta/x")); d.Pool != "b" {
		t.Errorf("/beta/x: pool %q, want b", d.Pool)
	}
	toB := 0
	const users = 1000
	for i := range users {
		uid := "uid=" + strconv.Itoa(i)
		d := do(t, f, isolate.PhaseRequest, request("GET", "/page/home", "Cookie", "theme=x; "+uid))
		again := do(t, f, isolate.PhaseRequest, request("GET", "/page/home", "Cookie", uid))
		if d.Pool != again.Pool {
			t.Fatalf("user %d: pool %q then %q: want the same", i, d.Pool, again.Pool)
		}
		if d.Pool == "b" {
			toB++
		}
	}
	// 30 % of 1000 hashed users: a binomial's 5 standard deviations either side.
	if toB < 230 || toB > 370 {
		t.Errorf("%d of %d users routed to b, want about 30 %%", toB, users)
	}
}

func TestPrefs(t *testing.T) {
	t.Parallel()
	f := load(t, "prefs", nil, nil)
	resp := func(cookie, contentType, body string) *isolate.Request {
		r := request("GET", "/page/home", "Cookie", cookie)
		r.Status = 200
		r.ResponseHeaders = []isolate.Header{{Name: "Content-Type", Value: contentType}, {Name: "ETag", Value: `"abc"`}, {Name: "Content-Length", Value: strconv.Itoa(len(body))}}
		r.Body = []byte(body)
		return r
	}
	for _, c := range []struct {
		cookie, contentType, body string
		wantBody, currency        string // wantBody "" = unchanged
	}{
		{"prefs=theme=dark&currency=EUR", "text/html; charset=utf-8", `<!doctype html><html lang="en"><body>x</body></html>`, `<!doctype html><html data-theme="dark" lang="en"><body>x</body></html>`, "EUR"},
		{"a=b; prefs=theme%3Ddark%3B%20currency%3Djpy", "text/html", `<HTML><p>`, `<HTML data-theme="dark"><p>`, "JPY"},
		{`prefs="theme=light"`, "text/html", `<html data-theme="dark" class="x">`, `<html data-theme="light" class="x">`, ""},
		{"prefs=currency=GBP", "text/html", `<html>`, "", "GBP"},
		{"prefs=theme=dark", "application/json", `{"html":"<html>"}`, "", ""},
		{"prefs=theme=neon&currency=XXX", "text/html", `<html>`, "", ""},
		{"", "text/html", `<html>`, "", ""},
		{"prefs=theme=dark", "text/html", `<htmlish>`, "", ""},
	} {
		d := do(t, f, isolate.PhaseResponse, resp(c.cookie, c.contentType, c.body))
		cur, _, _ := edit(d.ResponseHeaders, "Headroom-Currency")
		if d.Action != isolate.ActionContinue || cur != c.currency {
			t.Errorf("%q: %v currency %q, want continue, %q", c.cookie, d.Action, cur, c.currency)
		}
		if c.wantBody == "" {
			if d.BodySet {
				t.Errorf("%q on %q: body changed to %q", c.cookie, c.body, d.Body)
			}
			continue
		}
		if !d.BodySet || string(d.Body) != c.wantBody {
			t.Errorf("%q on %q: body %q, want %q", c.cookie, c.body, d.Body, c.wantBody)
		}
		if v, _, _ := edit(d.ResponseHeaders, "ETag"); v != `W/"abc"` {
			t.Errorf("ETag = %q, want the weak W/\"abc\"", v)
		}
		if _, kind, _ := edit(d.ResponseHeaders, "Content-Length"); kind != isolate.EditDel {
			t.Errorf("Content-Length not removed")
		}
	}
	if d := do(t, f, isolate.PhaseRequest, request("GET", "/", "Cookie", "prefs=theme=dark")); d.Action != isolate.ActionContinue || len(d.RequestHeaders) != 0 {
		t.Errorf("request phase: %+v, want a plain continue", d)
	}
}
