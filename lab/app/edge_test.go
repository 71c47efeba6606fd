package app_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/isolate"
)

// TestEdgeInFrontOfTheLab runs the real lab behind its edge node, with the shipped edge
// functions in isolates and a small geography: auth rejects at the edge without reaching the
// origin, vouches for a valid token so the origin skips its session lookup, the localized page is
// cached per language and customized per user, and every step is in the traces.
func TestEdgeInFrontOfTheLab(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	a := startLab(t, app.Config{
		SpanProcessors: []sdktrace.SpanProcessor{rec},
		Edge: &app.EdgeConfig{
			Node:     edge.Config{Listen: "127.0.0.1:0", DirectListen: "127.0.0.1:0", Geography: edge.Geography{UserRTT: time.Millisecond, OriginRTT: 10 * time.Millisecond, Bare: true}},
			Isolates: isolate.Config{CacheDir: t.TempDir()},
		},
	})
	e := a.Info().Edge
	if e == nil {
		t.Fatal("Info.Edge is nil with Config.Edge set")
	}

	resp, body := edgeGet(t, e.URL+"/api/me")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Cache-Status") != "headroom-edge; fwd=bypass; detail=auth" {
		t.Fatalf("no token through the edge: %d, Cache-Status %q, %s; want 401 from the auth function", resp.StatusCode, resp.Header.Get("Cache-Status"), body)
	}
	if n := authChecks(t, a.Info().URL); n != 0 {
		t.Errorf("the origin counted %v auth checks after an edge rejection; want 0: the request never reached it", n)
	}

	_, login := apiCall(t, "POST", a.Info().URL+"/api/login", `{"user_id":3}`)
	tok, _ := login["token"].(string)
	resp, body = edgeGet(t, e.URL+"/api/me", "Authorization", "Bearer "+tok, edge.IdentityHeader, "sub=1; forged")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"auth_source":"edge"`) || !strings.Contains(body, `"id":3`) {
		t.Fatalf("valid token through the edge: %d %s; want user 3 vouched for by the edge", resp.StatusCode, body)
	}
	resp, body = edgeGet(t, e.DirectURL+"/api/me", "Authorization", "Bearer "+tok)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"auth_source":"db"`) {
		t.Fatalf("valid token direct: %d %s; want the origin's own session lookup", resp.StatusCode, body)
	}

	var statuses []string
	for range 2 {
		resp, body = edgeGet(t, e.URL+"/page/home", "Accept-Language", "fr-CA,fr;q=0.9", "Cookie", "prefs=theme=dark")
		statuses = append(statuses, resp.Header.Get("Cache-Status"))
		if !strings.Contains(body, `data-theme="dark"`) || !strings.Contains(body, `lang="fr"`) {
			t.Fatalf("page through the edge lacks the French variant or the dark theme: %.300s", body)
		}
	}
	resp, _ = edgeGet(t, e.URL+"/page/home", "Accept-Language", "de")
	statuses = append(statuses, resp.Header.Get("Cache-Status"))
	if !strings.Contains(statuses[0], "stored") || !strings.Contains(statuses[1], "hit") || !strings.Contains(statuses[2], "vary-miss") {
		t.Errorf("Cache-Status fr, fr, de = %q; want stored, hit, vary-miss", statuses)
	}

	var cold, warm, fetch int
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "edge.function auth":
			if hasAttr(s, attribute.Bool("edge.isolate.cold", true)) {
				cold++
			} else {
				warm++
			}
		case "edge → origin":
			fetch++
		}
	}
	if cold != 1 || warm < 1 || fetch < 1 {
		t.Errorf("auth spans: %d cold, %d warm; origin fetches %d; want 1 cold, the rest warm, and fetches", cold, warm, fetch)
	}
}

func edgeGet(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func hasAttr(s sdktrace.ReadOnlySpan, kv attribute.KeyValue) bool {
	for _, a := range s.Attributes() {
		if a == kv {
			return true
		}
	}
	return false
}

// authChecks sums the lab's lab_auth_checks_total series: the session checks the origin made.
func authChecks(t *testing.T, labURL string) float64 {
	t.Helper()
	_, body := edgeGet(t, labURL+"/metrics")
	var n float64
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, "lab_auth_checks_total{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		n += v
	}
	return n
}
