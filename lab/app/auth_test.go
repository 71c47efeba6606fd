package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/identity"
	"github.com/headroom/headroom/lab/seed"
)

func ptr[T any](v T) *T { return &v }

// startLab starts a small lab on a free port with cfg's auth settings.
func startLab(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = "sqlite:" + filepath.Join(t.TempDir(), "lab.db")
	cfg.Seed = seed.Config{Users: 5, PostsPerUser: 1, CommentsPerPost: 1}
	cfg.MailLatency, cfg.LogLatency, cfg.PaymentLatency = fast(), fast(), fast()
	cfg.Log = &bytes.Buffer{}
	a, err := app.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	return a
}

func apiCall(t *testing.T, method, url, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
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
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

// TestKeysSharedThroughFile: two labs given one keys file (the first creates it) accept each
// other's tokens' signatures and edge identities; App.Keys hands them to an in-process edge.
func TestKeysSharedThroughFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "edge-keys.json")
	a := startLab(t, app.Config{KeysFile: path, TokenAlg: identity.AlgHS256})
	if !strings.Contains(a.Info().Keys, path+" (created now)") || !strings.Contains(a.Info().Sessions, "HS256") {
		t.Errorf("Info: keys %q, sessions %q", a.Info().Keys, a.Info().Sessions)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keys file: %v, %v", st, err)
	}
	b := startLab(t, app.Config{KeysFile: path})
	if ka, kb := a.Keys(), b.Keys(); !bytes.Equal(ka.Identity, kb.Identity) || !bytes.Equal(ka.Ed25519, kb.Ed25519) || !bytes.Equal(ka.HS256, kb.HS256) {
		t.Fatal("two labs on one keys file have different keys")
	}
	if strings.Contains(b.Info().Keys, "created") {
		t.Errorf("second lab's Info.Keys %q: the file existed", b.Info().Keys)
	}

	code, login := apiCall(t, "POST", a.Info().URL+"/api/login", `{"user_id":2}`)
	if code != 200 || login["alg"] != "HS256" {
		t.Fatalf("login: %d %v", code, login)
	}
	tok := login["token"].(string)
	code, me := apiCall(t, "GET", a.Info().URL+"/api/me", "", "Authorization", "Bearer "+tok)
	if code != 200 || me["auth_source"] != "db" {
		t.Errorf("GET /api/me on the lab that issued the token: %d %v", code, me)
	}
	// The other lab checks the signature fine but has no such session in its database.
	code, me = apiCall(t, "GET", b.Info().URL+"/api/me", "", "Authorization", "Bearer "+tok)
	if code != 401 || me["reason"] != "invalid" {
		t.Errorf("GET /api/me on another lab: %d %v, want 401 invalid (unknown session)", code, me)
	}
	// An identity signed with App.Keys, as an in-process edge would, is trusted by both.
	h := identity.Sign(a.Keys().Identity, identity.Identity{Sub: 3, SID: "from-the-edge", Exp: time.Now().Add(time.Minute)})
	for _, l := range []*app.App{a, b} {
		code, me = apiCall(t, "GET", l.Info().URL+"/api/me", "", identity.HeaderName, h)
		if code != 200 || me["auth_source"] != "edge" {
			t.Errorf("GET /api/me with an edge identity: %d %v", code, me)
		}
	}
	code, out := apiCall(t, "DELETE", a.Info().URL+"/api/login", "", "Authorization", "Bearer "+tok)
	if code != 200 {
		t.Fatalf("logout: %d %v", code, out)
	}
	if code, me = apiCall(t, "GET", a.Info().URL+"/api/me", "", "Authorization", "Bearer "+tok); code != 401 || me["reason"] != "revoked" {
		t.Errorf("GET /api/me after logout: %d %v, want 401 revoked", code, me)
	}
}

// TestKeysGeneratedByDefault: without keys, each lab makes its own.
func TestKeysGeneratedByDefault(t *testing.T) {
	t.Parallel()
	a := startLab(t, app.Config{})
	if err := a.Keys().Validate(); err != nil || !strings.Contains(a.Info().Keys, "generated") {
		t.Errorf("Keys: %v; Info.Keys %q", err, a.Info().Keys)
	}
	given := identity.NewKeys()
	b := startLab(t, app.Config{Keys: &given})
	if !bytes.Equal(b.Keys().Identity, given.Identity) {
		t.Error("App.Keys is not Config.Keys")
	}
	for _, ep := range []string{"POST /api/login", "DELETE /api/login", "GET /api/me", "GET /static/{path...}", "GET /page/home"} {
		found := false
		for _, e := range a.Info().Endpoints {
			found = found || e == ep
		}
		if !found {
			t.Errorf("Info.Endpoints lacks %s", ep)
		}
	}
}
