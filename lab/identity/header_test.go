package identity_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/identity"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	key := testKeys.Identity
	id := identity.Identity{Sub: 42, SID: "abc", Exp: time.Unix(1733500000, 0)}
	h := identity.Sign(key, id)
	if want := "sub=42; sid=abc; exp=1733500000; sig="; !strings.HasPrefix(h, want) {
		t.Fatalf("Sign = %q, want prefix %q", h, want)
	}
	got, err := identity.Verify(key, h, id.Exp.Add(-time.Second))
	if err != nil || got.Sub != 42 || got.SID != "abc" || !got.Exp.Equal(id.Exp) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	if _, err := identity.Verify(key, h, id.Exp); !errors.Is(err, identity.ErrExpired) {
		t.Errorf("Verify at exp: %v, want expired", err)
	}
}

func badHeaders() []struct {
	name, header string
	want         identity.Reason
} {
	key := testKeys.Identity
	exp := t0.Add(time.Minute)
	good := identity.Sign(key, identity.Identity{Sub: 42, SID: "abc", Exp: exp})
	sig := good[strings.Index(good, "; sig=")+len("; sig="):]
	// resign signs a payload as Sign would, to test the parser behind a valid signature.
	resign := func(payload string) string {
		return payload + "; sig=" + macOf(key, payload)
	}
	return []struct {
		name, header string
		want         identity.Reason
	}{
		{"empty", "", identity.ReasonMissing},
		{"garbage", "hello", identity.ReasonInvalid},
		{"another key", identity.Sign(fixedKeys(9).Identity, identity.Identity{Sub: 42, SID: "abc", Exp: exp}), identity.ReasonInvalid},
		{"sub changed", strings.Replace(good, "sub=42", "sub=43", 1), identity.ReasonInvalid},
		{"exp extended", strings.Replace(good, "exp=", "exp=9", 1), identity.ReasonInvalid},
		{"signature cut", strings.TrimSuffix(good, sig[len(sig)-1:]), identity.ReasonInvalid},
		{"signature padded", good + "=", identity.ReasonInvalid},
		{"no signature", strings.TrimSuffix(good, "; sig="+sig), identity.ReasonInvalid},
		{"expired", identity.Sign(key, identity.Identity{Sub: 42, SID: "abc", Exp: t0}), identity.ReasonExpired},
		{"expired and forged", identity.Sign(fixedKeys(9).Identity, identity.Identity{Sub: 42, SID: "abc", Exp: t0.Add(-time.Hour)}), identity.ReasonInvalid},
		{"signed, fields reordered", resign("sid=abc; sub=42; exp=" + itoa(exp.Unix())), identity.ReasonInvalid},
		{"signed, extra field", resign("sub=42; sid=abc; exp=" + itoa(exp.Unix()) + "; role=admin"), identity.ReasonInvalid},
		{"signed, sub zero", resign("sub=0; sid=abc; exp=" + itoa(exp.Unix())), identity.ReasonInvalid},
		{"signed, sub leading zero", resign("sub=042; sid=abc; exp=" + itoa(exp.Unix())), identity.ReasonInvalid},
		{"signed, sub negative", resign("sub=-42; sid=abc; exp=" + itoa(exp.Unix())), identity.ReasonInvalid},
		{"signed, empty sid", resign("sub=42; sid=; exp=" + itoa(exp.Unix())), identity.ReasonInvalid},
		{"signed, sid with a space", resign("sub=42; sid=a b; exp=" + itoa(exp.Unix())), identity.ReasonInvalid},
		{"signed, exp not a number", resign("sub=42; sid=abc; exp=soon"), identity.ReasonInvalid},
		{"signed, no spaces", resign("sub=42;sid=abc;exp=" + itoa(exp.Unix())), identity.ReasonInvalid},
		{"oversized", strings.Repeat("a", 300), identity.ReasonInvalid},
	}
}

// macOf is the signature Sign puts on payload.
func macOf(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	for _, tt := range badHeaders() {
		id, err := identity.Verify(testKeys.Identity, tt.header, t0)
		if err == nil {
			t.Errorf("%s: accepted %q: %+v", tt.name, tt.header, id)
			continue
		}
		if got := identity.ReasonOf(err); got != tt.want {
			t.Errorf("%s: reason %q (%v), want %q", tt.name, got, err, tt.want)
		}
	}
	// No key, no trust: even a header signed with the empty key is rejected.
	h := identity.Sign(nil, identity.Identity{Sub: 1, SID: "a", Exp: t0.Add(time.Hour)})
	if _, err := identity.Verify(nil, h, t0); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("Verify under an empty key: %v, want invalid", err)
	}
}

func TestSessionIDs(t *testing.T) {
	t.Parallel()
	a, b := identity.NewSessionID(), identity.NewSessionID()
	if a == b || len(a) != 22 || !identity.ValidSessionID(a) {
		t.Errorf("NewSessionID = %q, %q", a, b)
	}
	for s, want := range map[string]bool{"a": true, "A-z_9": true, "": false, "a;b": false, "a=b": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false, "é": false} {
		if identity.ValidSessionID(s) != want {
			t.Errorf("ValidSessionID(%q) = %v", s, !want)
		}
	}
}

// FuzzVerify: Verify never panics and anything it accepts is what Sign makes of the identity
// it returned (the format has one spelling), unexpired. Seeds: the table's headers and a good one.
func FuzzVerify(f *testing.F) {
	for _, tt := range badHeaders() {
		f.Add(tt.header)
	}
	f.Add(identity.Sign(testKeys.Identity, identity.Identity{Sub: 42, SID: "abc", Exp: t0.Add(time.Minute)}))
	f.Fuzz(func(t *testing.T, h string) {
		id, err := identity.Verify(testKeys.Identity, h, t0)
		if err != nil {
			if r := identity.ReasonOf(err); r != identity.ReasonMissing && r != identity.ReasonInvalid && r != identity.ReasonExpired {
				t.Fatalf("reason of %v", err)
			}
			return
		}
		if again := identity.Sign(testKeys.Identity, id); again != h || !id.Exp.After(t0) {
			t.Fatalf("accepted %q as %+v, which signs as %q", h, id, again)
		}
	})
}
