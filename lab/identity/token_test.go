package identity_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/headroom/headroom/lab/identity"
)

var (
	// t0 is the tests' present.
	t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	// testKeys are fixed, so fuzz seeds stay valid across runs.
	testKeys = fixedKeys(1)
)

func fixedKeys(b byte) identity.Keys {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	fill := func(v byte) []byte {
		s := make([]byte, 32)
		for i := range s {
			s[i] = v
		}
		return s
	}
	return identity.Keys{Ed25519: ed25519.NewKeyFromSeed(seed), HS256: fill(b + 1), Identity: fill(b + 2)}
}

func claims() identity.Claims {
	return identity.Claims{Sub: 42, SID: "sess-1", IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(time.Hour)}
}

func issue(t testing.TB, k identity.Keys, alg identity.Alg, c identity.Claims) string {
	t.Helper()
	tok, err := k.IssueToken(alg, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawToken signs header and payload (JSON objects) with golang-jwt's method for alg, or leaves
// the signature empty for "none", to build tokens IssueToken refuses to make.
func rawToken(t testing.TB, header, payload map[string]any, sign func(signingInput string) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(header) + "." + enc(payload)
	var sig []byte
	if sign != nil {
		sig = sign(in)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func payload(mod func(map[string]any)) map[string]any {
	p := map[string]any{"iss": identity.Issuer, "sub": "42", "sid": "sess-1", "iat": t0.Add(-time.Minute).Unix(), "exp": t0.Add(time.Hour).Unix()}
	if mod != nil {
		mod(p)
	}
	return p
}

func hs256(secret []byte) func(string) []byte {
	return func(in string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return m.Sum(nil)
	}
}

func eddsa(k ed25519.PrivateKey) func(string) []byte {
	return func(in string) []byte { return ed25519.Sign(k, []byte(in)) }
}

// badTokens are the defects every verifier of the lab must reject, with the reason; the edge's
// tests and the origin's use the same list through their own packages.
func badTokens(t testing.TB) []struct {
	name, token string
	want        identity.Reason
} {
	other := fixedKeys(9)
	hsHeader := map[string]any{"alg": "HS256", "typ": "JWT"}
	edHeader := map[string]any{"alg": "EdDSA", "typ": "JWT"}
	good := issue(t, testKeys, identity.AlgEdDSA, claims())
	parts := strings.Split(good, ".")
	return []struct {
		name, token string
		want        identity.Reason
	}{
		{"empty", "", identity.ReasonMissing},
		{"garbage", "not-a-token", identity.ReasonInvalid},
		{"two segments", parts[0] + "." + parts[1], identity.ReasonInvalid},
		{"alg none", rawToken(t, map[string]any{"alg": "none", "typ": "JWT"}, payload(nil), nil), identity.ReasonInvalid},
		{"alg None", rawToken(t, map[string]any{"alg": "None"}, payload(nil), nil), identity.ReasonInvalid},
		{"alg HS384", rawToken(t, map[string]any{"alg": "HS384"}, payload(nil), hs256(testKeys.HS256)), identity.ReasonInvalid},
		{"alg RS256", rawToken(t, map[string]any{"alg": "RS256"}, payload(nil), hs256(testKeys.HS256)), identity.ReasonInvalid},
		{"no alg", rawToken(t, map[string]any{"typ": "JWT"}, payload(nil), hs256(testKeys.HS256)), identity.ReasonInvalid},
		// The classic confusion: an HS256 token keyed with the EdDSA public key.
		{"HS256 keyed with the public key", rawToken(t, hsHeader, payload(nil), hs256(testKeys.Public())), identity.ReasonInvalid},
		{"EdDSA by another key", issue(t, other, identity.AlgEdDSA, claims()), identity.ReasonInvalid},
		{"HS256 by another secret", issue(t, other, identity.AlgHS256, claims()), identity.ReasonInvalid},
		{"forged payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"headroom-lab","sub":"1","sid":"sess-1","exp":9999999999}`)) + "." + parts[2], identity.ReasonInvalid},
		{"signature stripped", parts[0] + "." + parts[1] + ".", identity.ReasonInvalid},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(issue(t, testKeys, identity.AlgEdDSA, identity.Claims{Sub: 7, SID: "x", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}), ".")[2], identity.ReasonInvalid},
		{"padded signature", good + "==", identity.ReasonInvalid},
		{"expired EdDSA", issue(t, testKeys, identity.AlgEdDSA, identity.Claims{Sub: 42, SID: "s", IssuedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)}), identity.ReasonExpired},
		{"expired HS256", issue(t, testKeys, identity.AlgHS256, identity.Claims{Sub: 42, SID: "s", IssuedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0}), identity.ReasonExpired},
		{"expired and forged", issue(t, other, identity.AlgEdDSA, identity.Claims{Sub: 42, SID: "s", IssuedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)}), identity.ReasonInvalid},
		{"no exp", rawToken(t, edHeader, payload(func(p map[string]any) { delete(p, "exp") }), eddsa(testKeys.Ed25519)), identity.ReasonInvalid},
		{"not valid yet (nbf)", rawToken(t, edHeader, payload(func(p map[string]any) { p["nbf"] = t0.Add(time.Minute).Unix() }), eddsa(testKeys.Ed25519)), identity.ReasonInvalid},
		{"issued in the future", rawToken(t, edHeader, payload(func(p map[string]any) { p["iat"] = t0.Add(time.Minute).Unix() }), eddsa(testKeys.Ed25519)), identity.ReasonInvalid},
		{"wrong issuer", rawToken(t, edHeader, payload(func(p map[string]any) { p["iss"] = "someone-else" }), eddsa(testKeys.Ed25519)), identity.ReasonInvalid},
		{"no issuer", rawToken(t, edHeader, payload(func(p map[string]any) { delete(p, "iss") }), eddsa(testKeys.Ed25519)), identity.ReasonInvalid},
		{"sub not a number", rawToken(t, hsHeader, payload(func(p map[string]any) { p["sub"] = "ada" }), hs256(testKeys.HS256)), identity.ReasonInvalid},
		{"sub zero", rawToken(t, hsHeader, payload(func(p map[string]any) { p["sub"] = "0" }), hs256(testKeys.HS256)), identity.ReasonInvalid},
		{"sub leading zero", rawToken(t, hsHeader, payload(func(p map[string]any) { p["sub"] = "042" }), hs256(testKeys.HS256)), identity.ReasonInvalid},
		{"sub as a JSON number", rawToken(t, hsHeader, payload(func(p map[string]any) { p["sub"] = 42 }), hs256(testKeys.HS256)), identity.ReasonInvalid},
		{"no sid", rawToken(t, hsHeader, payload(func(p map[string]any) { delete(p, "sid") }), hs256(testKeys.HS256)), identity.ReasonInvalid},
		{"sid with a separator", rawToken(t, hsHeader, payload(func(p map[string]any) { p["sid"] = "a; exp=9" }), hs256(testKeys.HS256)), identity.ReasonInvalid},
		{"oversized", strings.Repeat("a", identity.MaxTokenBytes+1), identity.ReasonInvalid},
	}
}

func TestVerifyTokenRejects(t *testing.T) {
	t.Parallel()
	for _, tt := range badTokens(t) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := testKeys.VerifyToken(tt.token, t0)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if got := identity.ReasonOf(err); got != tt.want {
				t.Errorf("reason %q (%v), want %q", got, err, tt.want)
			}
			if _, ok := errors.AsType[*identity.Error](err); !ok {
				t.Errorf("error %T is not an *identity.Error", err)
			}
		})
	}
}

func TestIssueAndVerify(t *testing.T) {
	t.Parallel()
	for _, alg := range []identity.Alg{identity.AlgEdDSA, identity.AlgHS256} {
		tok := issue(t, testKeys, alg, claims())
		got, err := testKeys.VerifyToken(tok, t0)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		want := claims()
		if got.Sub != want.Sub || got.SID != want.SID || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.IssuedAt.Equal(want.IssuedAt) {
			t.Errorf("%s: claims %+v, want %+v", alg, got, want)
		}
		var hdr struct{ Alg string }
		b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		if err := json.Unmarshal(b, &hdr); err != nil || hdr.Alg != string(alg) {
			t.Errorf("%s: header %s", alg, b)
		}
		// Valid up to, not at, its expiry.
		if _, err := testKeys.VerifyToken(tok, want.ExpiresAt.Add(-time.Second)); err != nil {
			t.Errorf("%s a second before exp: %v", alg, err)
		}
		if _, err := testKeys.VerifyToken(tok, want.ExpiresAt); !errors.Is(err, identity.ErrExpired) {
			t.Errorf("%s at exp: %v, want expired", alg, err)
		}
	}
	// A verifier with the public key only (an edge) accepts EdDSA tokens, refuses HS256 ones.
	edge := identity.Keys{Ed25519: testKeys.Ed25519}
	if _, err := edge.VerifyToken(issue(t, testKeys, identity.AlgEdDSA, claims()), t0); err != nil {
		t.Errorf("EdDSA without an HS256 secret: %v", err)
	}
	if _, err := edge.VerifyToken(issue(t, testKeys, identity.AlgHS256, claims()), t0); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("HS256 without an HS256 secret: %v, want invalid", err)
	}
}

func TestIssueTokenRefusesBadClaims(t *testing.T) {
	t.Parallel()
	for _, c := range []identity.Claims{
		{Sub: 0, SID: "s", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{Sub: 1, SID: "", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{Sub: 1, SID: "a b", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{Sub: 1, SID: "s", IssuedAt: t0, ExpiresAt: t0},
	} {
		if tok, err := testKeys.IssueToken(identity.AlgEdDSA, c); err == nil {
			t.Errorf("IssueToken(%+v) = %s, want an error", c, tok)
		}
	}
	if _, err := testKeys.IssueToken("none", claims()); err == nil {
		t.Error(`IssueToken("none"): no error`)
	}
	if _, err := testKeys.IssueToken(identity.Alg(jwt.SigningMethodHS512.Alg()), claims()); err == nil {
		t.Error("IssueToken(HS512): no error")
	}
}

func TestParseAlg(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]identity.Alg{"EdDSA": identity.AlgEdDSA, "eddsa": identity.AlgEdDSA, "hs256": identity.AlgHS256} {
		if got, err := identity.ParseAlg(in); err != nil || got != want {
			t.Errorf("ParseAlg(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "none", "RS256", "HS512"} {
		if _, err := identity.ParseAlg(in); err == nil {
			t.Errorf("ParseAlg(%q): no error", in)
		}
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, tok string
		want    identity.Reason
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", ""},
		{"bearer abc", "abc", ""},
		{"BEARER  abc", "abc", ""},
		{"", "", identity.ReasonMissing},
		{"Bearer", "", identity.ReasonMissing},
		{"Bearer ", "", identity.ReasonMissing},
		{"Basic dXNlcjpwYXNz", "", identity.ReasonMissing},
		{"Bearer a b", "", identity.ReasonInvalid},
		{"Bearer a\x00b", "", identity.ReasonInvalid},
	} {
		tok, err := identity.BearerToken(tt.in)
		if tok != tt.tok || identity.ReasonOf(err) != tt.want {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, reason %q", tt.in, tok, err, tt.tok, tt.want)
		}
	}
}

// FuzzVerifyToken: whatever the input, VerifyToken never panics, rejects with a known reason,
// and accepts only tokens whose claims hold at the time checked. Seeds: the table's defects and
// good tokens of both algorithms.
func FuzzVerifyToken(f *testing.F) {
	for _, tt := range badTokens(f) {
		f.Add(tt.token)
	}
	f.Add(issue(f, testKeys, identity.AlgEdDSA, claims()))
	f.Add(issue(f, testKeys, identity.AlgHS256, claims()))
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := testKeys.VerifyToken(tok, t0)
		if err != nil {
			switch identity.ReasonOf(err) {
			case identity.ReasonMissing, identity.ReasonInvalid, identity.ReasonExpired:
			default:
				t.Fatalf("reason of %v", err)
			}
			return
		}
		if c.Sub <= 0 || !identity.ValidSessionID(c.SID) || !c.ExpiresAt.After(t0) {
			t.Fatalf("accepted %q with claims %+v", tok, c)
		}
	})
}

// FuzzTokenTamper: changing any byte of a valid token, or cutting it, makes it rejected (the
// signatures are not malleable and the decoding is strict).
func FuzzTokenTamper(f *testing.F) {
	toks := []string{issue(f, testKeys, identity.AlgEdDSA, claims()), issue(f, testKeys, identity.AlgHS256, claims())}
	f.Add(uint8(0), uint16(0), byte('x'), false)
	f.Add(uint8(1), uint16(10), byte('A'), false)
	f.Add(uint8(0), uint16(200), byte('.'), true)
	f.Fuzz(func(t *testing.T, which uint8, pos uint16, b byte, cut bool) {
		tok := toks[int(which)%len(toks)]
		i := int(pos) % len(tok)
		mod := tok[:i] + string(b) + tok[i+1:]
		if cut {
			mod = tok[:i]
		}
		if mod == tok {
			return
		}
		if c, err := testKeys.VerifyToken(mod, t0); err == nil {
			t.Fatalf("tampered token %q accepted: %+v", mod, c)
		}
	})
}
