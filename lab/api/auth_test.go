package api_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/identity"
)

// reply is one response, with the trace id the request carried.
type reply struct {
	code    int
	header  http.Header
	body    []byte
	traceID string
}

// send sends a request with headers (name, value pairs) and a fresh traceparent.
func (e *env) send(t *testing.T, method, path, body string, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	tid, sid := make([]byte, 16), make([]byte, 8)
	_, _ = rand.Read(tid)
	_, _ = rand.Read(sid)
	traceID := hex.EncodeToString(tid)
	req.Header.Set("traceparent", "00-"+traceID+"-"+hex.EncodeToString(sid)+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b, traceID}
}

// serverSpan returns the API's server span of a trace: the one continuing the caller's
// traceparent (in the services mode, the services' server spans continue the gateway's calls).
func (e *env) serverSpan(t *testing.T, traceID string) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := e.spans.Ended()
	recorded := map[trace.SpanID]bool{}
	for _, s := range spans {
		recorded[s.SpanContext().SpanID()] = true
	}
	for _, s := range spans {
		if s.SpanContext().TraceID().String() == traceID && s.Parent().IsRemote() && !recorded[s.Parent().SpanID()] {
			return s
		}
	}
	t.Fatalf("no server span in trace %s", traceID)
	return nil
}

func spanAttr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// sessionQueries counts the session lookups of one trace.
func (e *env) sessionQueries(traceID string) int {
	n := 0
	for _, s := range e.spans.Ended() {
		if s.SpanContext().TraceID().String() != traceID {
			continue
		}
		if q := spanAttr(s, "db.query.text"); strings.Contains(q, "FROM sessions") {
			n++
		}
	}
	return n
}

func withKeys(k identity.Keys) option { return func(c *api.Config) { c.Keys = &k } }

func (e *env) login(t *testing.T, userID int) api.LoginResponse {
	t.Helper()
	r := e.send(t, "POST", "/api/login", `{"user_id":`+itoa(userID)+`}`)
	if r.code != http.StatusOK {
		t.Fatalf("login: %d %s", r.code, r.body)
	}
	var lr api.LoginResponse
	if err := json.Unmarshal(r.body, &lr); err != nil {
		t.Fatal(err)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("login Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
	}
	return lr
}

func itoa(n int) string { return strconv.Itoa(n) }

// authChecks is lab_auth_checks_total{source, result}.
func authChecks(t *testing.T, e *env, source, result string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "lab_auth_checks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["source"] == source && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestLoginThenMeChecksTheDatabase(t *testing.T) {
	t.Parallel()
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, eng, nil)
			lr := e.login(t, 3)
			if lr.UserID != 3 || lr.Alg != identity.AlgEdDSA || lr.TokenType != "Bearer" || !identity.ValidSessionID(lr.SessionID) ||
				time.Until(lr.ExpiresAt) < 59*time.Minute || time.Until(lr.ExpiresAt) > time.Hour {
				t.Errorf("login = %+v", lr)
			}
			r := e.send(t, "GET", "/api/me", "", bearer(lr.Token)...)
			if r.code != http.StatusOK {
				t.Fatalf("GET /api/me: %d %s", r.code, r.body)
			}
			var me api.MeResponse
			if err := json.Unmarshal(r.body, &me); err != nil {
				t.Fatal(err)
			}
			if me.User.ID != 3 || me.User.Email == "" || me.Source != api.AuthDB || me.SessionID != lr.SessionID {
				t.Errorf("GET /api/me = %+v", me)
			}
			if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("/api/me Cache-Control %q: want no-store", cc)
			}
			sp := e.serverSpan(t, r.traceID)
			if got := spanAttr(sp, "lab.auth.source"); got != "db" {
				t.Errorf("lab.auth.source = %q, want db", got)
			}
			if got := spanAttr(sp, "lab.auth.rejected"); got != "" {
				t.Errorf("lab.auth.rejected = %q on an accepted request", got)
			}
			if n := e.sessionQueries(r.traceID); n != 1 {
				t.Errorf("%d session lookups, want 1", n)
			}
			if got := authChecks(t, e, "db", "ok"); got != 1 {
				t.Errorf("lab_auth_checks_total{db,ok} = %v, want 1", got)
			}
		})
	}
}

// TestEdgeIdentitySkipsTheSessionLookup: a valid Headroom-Edge-Identity is trusted as is: no
// token check, no session query.
func TestEdgeIdentitySkipsTheSessionLookup(t *testing.T) {
	t.Parallel()
	keys := identity.NewKeys()
	e := newEnv(t, nil, withKeys(keys))
	h := identity.Sign(keys.Identity, identity.Identity{Sub: 5, SID: "edge-sess", Exp: time.Now().Add(time.Minute)})
	r := e.send(t, "GET", "/api/me", "", identity.HeaderName, h)
	if r.code != http.StatusOK {
		t.Fatalf("GET /api/me with an edge identity: %d %s", r.code, r.body)
	}
	var me api.MeResponse
	if err := json.Unmarshal(r.body, &me); err != nil {
		t.Fatal(err)
	}
	if me.User.ID != 5 || me.Source != api.AuthEdge || me.SessionID != "edge-sess" {
		t.Errorf("GET /api/me = %+v", me)
	}
	if got := spanAttr(e.serverSpan(t, r.traceID), "lab.auth.source"); got != "edge" {
		t.Errorf("lab.auth.source = %q, want edge", got)
	}
	if n := e.sessionQueries(r.traceID); n != 0 {
		t.Errorf("%d session lookups with a trusted edge identity, want 0", n)
	}
	if n := e.dbQueries(t, r.traceID); n != 1 {
		t.Errorf("%d queries, want 1 (the user)", n)
	}
	if got := authChecks(t, e, "edge", "ok"); got != 1 {
		t.Errorf("lab_auth_checks_total{edge,ok} = %v, want 1", got)
	}

	// An identity the origin cannot trust (another key, expired) is ignored: the token decides.
	lr := e.login(t, 6)
	for name, bad := range map[string]string{
		"another key": identity.Sign(identity.NewKeys().Identity, identity.Identity{Sub: 5, SID: "x", Exp: time.Now().Add(time.Minute)}),
		"expired":     identity.Sign(keys.Identity, identity.Identity{Sub: 5, SID: "x", Exp: time.Now().Add(-time.Second)}),
	} {
		r := e.send(t, "GET", "/api/me", "", append(bearer(lr.Token), identity.HeaderName, bad)...)
		if err := json.Unmarshal(r.body, &me); err != nil || r.code != http.StatusOK || me.User.ID != 6 || me.Source != api.AuthDB {
			t.Errorf("%s identity with user 6's token: %d %s, want user 6 from the db", name, r.code, r.body)
		}
		sp := e.serverSpan(t, r.traceID)
		if spanAttr(sp, "lab.auth.source") != "db" || spanAttr(sp, "lab.auth.edge_rejected") == "" {
			t.Errorf("%s identity: span attributes %v", name, sp.Attributes())
		}
		r = e.send(t, "GET", "/api/me", "", identity.HeaderName, bad)
		if r.code != http.StatusUnauthorized {
			t.Errorf("%s identity alone: %d, want 401", name, r.code)
		}
	}
}

// TestLogoutRevokes: a revoked session's token is still well signed and unexpired; the
// origin's database check rejects it.
func TestLogoutRevokes(t *testing.T) {
	t.Parallel()
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, eng, nil)
			lr := e.login(t, 2)
			other := e.login(t, 2)
			r := e.send(t, "DELETE", "/api/login", "", bearer(lr.Token)...)
			if r.code != http.StatusOK || !strings.Contains(string(r.body), lr.SessionID) {
				t.Fatalf("DELETE /api/login: %d %s", r.code, r.body)
			}
			r = e.send(t, "GET", "/api/me", "", bearer(lr.Token)...)
			wantRejected(t, e, "after logout", r, "db", identity.ReasonRevoked)
			if r := e.send(t, "DELETE", "/api/login", "", bearer(lr.Token)...); r.code != http.StatusUnauthorized {
				t.Errorf("second logout: %d, want 401", r.code)
			}
			// The user's other session is untouched.
			if r := e.send(t, "GET", "/api/me", "", bearer(other.Token)...); r.code != http.StatusOK {
				t.Errorf("other session after logout: %d %s", r.code, r.body)
			}
		})
	}
}

// wantRejected checks a 401: challenge, JSON reason, span attributes.
func wantRejected(t *testing.T, e *env, what string, r reply, source string, reason identity.Reason) {
	t.Helper()
	if r.code != http.StatusUnauthorized {
		t.Errorf("%s: status %d (%s), want 401", what, r.code, r.body)
		return
	}
	ch := r.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, `Bearer realm="headroom-lab"`) || (reason != identity.ReasonMissing) != strings.Contains(ch, `error="invalid_token"`) {
		t.Errorf("%s: WWW-Authenticate %q for %s", what, ch, reason)
	}
	var body struct {
		Error  string
		Status int
		Reason identity.Reason
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Status != 401 || body.Reason != reason || body.Error == "" {
		t.Errorf("%s: body %s, want reason %s", what, r.body, reason)
	}
	sp := e.serverSpan(t, r.traceID)
	if got := spanAttr(sp, "lab.auth.rejected"); got != string(reason) {
		t.Errorf("%s: lab.auth.rejected = %q, want %q", what, got, reason)
	}
	if got := spanAttr(sp, "lab.auth.source"); got != source {
		t.Errorf("%s: lab.auth.source = %q, want %q", what, got, source)
	}
}

// rawJWT builds a token from JSON header and payload with sign's signature.
func rawJWT(header, payload string, sign func(string) []byte) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	var sig []byte
	if sign != nil {
		sig = sign(in)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestMeRejectsEachDefect: every token defect answers 401 with its reason, before or at the
// session lookup.
func TestMeRejectsEachDefect(t *testing.T) {
	t.Parallel()
	keys := identity.NewKeys()
	e := newEnv(t, nil, withKeys(keys))
	lr := e.login(t, 4)
	now := time.Now().Truncate(time.Second)
	claims := func(sub int64, sid string, iat, exp time.Time) identity.Claims {
		return identity.Claims{Sub: sub, SID: sid, IssuedAt: iat, ExpiresAt: exp}
	}
	tok := func(k identity.Keys, alg identity.Alg, c identity.Claims) string {
		s, err := k.IssueToken(alg, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other := identity.NewKeys()
	payload := `{"iss":"headroom-lab","sub":"4","sid":"` + lr.SessionID + `","exp":` + strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + `}`
	for _, tt := range []struct {
		name    string
		headers []string
		source  string
		reason  identity.Reason
	}{
		{"no credential", nil, "none", identity.ReasonMissing},
		{"another scheme", []string{"Authorization", "Basic dTpw"}, "none", identity.ReasonMissing},
		{"garbage", bearer("garbage"), "db", identity.ReasonInvalid},
		{"alg none", bearer(rawJWT(`{"alg":"none","typ":"JWT"}`, payload, nil)), "db", identity.ReasonInvalid},
		{"forged: another Ed25519 key", bearer(tok(other, identity.AlgEdDSA, claims(4, lr.SessionID, now, now.Add(time.Hour)))), "db", identity.ReasonInvalid},
		{"forged: another HS256 secret", bearer(tok(other, identity.AlgHS256, claims(4, lr.SessionID, now, now.Add(time.Hour)))), "db", identity.ReasonInvalid},
		{"tampered payload", bearer(strings.Split(lr.Token, ".")[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + strings.Split(lr.Token, ".")[2]), "db", identity.ReasonInvalid},
		{"expired", bearer(tok(keys, identity.AlgEdDSA, claims(4, lr.SessionID, now.Add(-2*time.Hour), now.Add(-time.Hour)))), "db", identity.ReasonExpired},
		{"not valid yet", bearer(tok(keys, identity.AlgEdDSA, claims(4, lr.SessionID, now.Add(time.Hour), now.Add(2*time.Hour)))), "db", identity.ReasonInvalid},
		{"unknown session", bearer(tok(keys, identity.AlgEdDSA, claims(4, "no-such-session", now, now.Add(time.Hour)))), "db", identity.ReasonInvalid},
		{"another user's session", bearer(tok(keys, identity.AlgHS256, claims(9, lr.SessionID, now, now.Add(time.Hour)))), "db", identity.ReasonInvalid},
	} {
		// One at a time: the counts below are of the whole table.
		wantRejected(t, e, tt.name, e.send(t, "GET", "/api/me", "", tt.headers...), tt.source, tt.reason)
	}
	if got := authChecks(t, e, "db", "invalid"); got != 8 {
		t.Errorf("lab_auth_checks_total{db,invalid} = %v, want 8", got)
	}
	if got := authChecks(t, e, "none", "missing"); got != 2 {
		t.Errorf("lab_auth_checks_total{none,missing} = %v, want 2", got)
	}
}

func TestLoginHS256AndBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *api.Config) { c.TokenAlg = identity.AlgHS256; c.SessionTTL = 10 * time.Minute })
	lr := e.login(t, 1)
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(lr.Token, ".")[0])
	if lr.Alg != identity.AlgHS256 || !strings.Contains(string(hdr), `"HS256"`) || time.Until(lr.ExpiresAt) > 10*time.Minute {
		t.Errorf("login = %+v, header %s", lr, hdr)
	}
	if r := e.send(t, "GET", "/api/me", "", bearer(lr.Token)...); r.code != http.StatusOK {
		t.Errorf("GET /api/me with an HS256 token: %d %s", r.code, r.body)
	}
	for body, want := range map[string]int{`{"user_id":99999}`: 404, `{"user_id":0}`: 400, `{"user":1}`: 400, ``: 400} {
		if r := e.send(t, "POST", "/api/login", body); r.code != want {
			t.Errorf("POST /api/login %s: %d %s, want %d", body, r.code, r.body, want)
		}
	}
	if _, err := api.New(api.Config{Store: e.store, TokenAlg: "none"}); err == nil {
		t.Error(`api.New with TokenAlg "none": no error`)
	}
	if _, err := api.New(api.Config{Store: e.store, Keys: &identity.Keys{}}); err == nil {
		t.Error("api.New with empty Keys: no error")
	}
}
