package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HeaderName is the header the edge sets, after verifying a request's token, for the origin to
// trust instead of checking the session itself. The edge removes any such header a client sends.
const HeaderName = "Headroom-Edge-Identity"

// Identity is what the edge vouches for: the user (Sub), the session (SID) and until when (Exp,
// whole seconds; the token's own expiry at most).
type Identity struct {
	Sub int64
	SID string
	Exp time.Time
}

// maxSessionIDBytes bounds a session id.
const maxSessionIDBytes = 64

// maxHeaderBytes bounds an identity header: sub (19 digits), sid, exp, the signature and the
// separators fit in 200 bytes.
const maxHeaderBytes = 256

// sigLen is the length of an HMAC-SHA256 in base64url without padding.
var sigLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// ValidSessionID reports whether s can be a session id: 1 to 64 characters of A-Z, a-z, 0-9, '-'
// and '_' (base64url), so that it travels in a token and in the identity header unescaped.
func ValidSessionID(s string) bool {
	if len(s) == 0 || len(s) > maxSessionIDBytes {
		return false
	}
	for i := range len(s) {
		if !base64urlByte(s[i]) {
			return false
		}
	}
	return true
}

func base64urlByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// NewSessionID returns a random session id: 128 bits in base64url (22 characters).
func NewSessionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// Sign returns the header value vouching for id under key (at least [MinSecretBytes]; the
// shared [Keys.Identity]): "sub=42; sid=abc; exp=1733500000; sig=…", the signature an
// HMAC-SHA256 of everything before "; sig=", in base64url without padding. id.Exp is truncated
// to the second; id.Sub must be positive and id.SID valid ([ValidSessionID]), or [Verify] will
// reject the result.
func Sign(key []byte, id Identity) string {
	payload := "sub=" + strconv.FormatInt(id.Sub, 10) + "; sid=" + id.SID + "; exp=" + strconv.FormatInt(id.Exp.Unix(), 10)
	return payload + "; sig=" + mac(key, payload)
}

func mac(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a header value made by [Sign] with key at time now and returns the identity it
// vouches for. Parsing is strict: exactly the four fields in Sign's order and spelling, a
// positive canonical decimal sub and exp, a valid sid; the signature is compared in constant time
// before exp is looked at. Errors are [*Error]s: missing (empty header), expired (well signed,
// exp not after now), invalid (the rest, and any header under a key shorter than
// [MinSecretBytes]).
func Verify(key []byte, header string, now time.Time) (Identity, error) {
	if header == "" {
		return Identity{}, ErrMissing
	}
	if len(key) < MinSecretBytes {
		return Identity{}, reject(ReasonInvalid, "identity header: no key of at least 32 bytes to check it with", nil)
	}
	if len(header) > maxHeaderBytes {
		return Identity{}, reject(ReasonInvalid, fmt.Sprintf("identity header of %d bytes: over %d", len(header), maxHeaderBytes), nil)
	}
	payload, sig, ok := strings.Cut(header, "; sig=")
	if !ok || len(sig) != sigLen {
		return Identity{}, reject(ReasonInvalid, "identity header: want sub=N; sid=S; exp=T; sig=HMAC", nil)
	}
	if !hmac.Equal([]byte(sig), []byte(mac(key, payload))) {
		return Identity{}, reject(ReasonInvalid, "identity header: bad signature", nil)
	}
	// Signed by a holder of the key, so well formed unless the key leaked or a signer was
	// buggy: still parsed strictly.
	rest, ok := strings.CutPrefix(payload, "sub=")
	subS, rest, ok2 := strings.Cut(rest, "; sid=")
	sid, expS, ok3 := strings.Cut(rest, "; exp=")
	if !ok || !ok2 || !ok3 {
		return Identity{}, reject(ReasonInvalid, "identity header: want sub=N; sid=S; exp=T; sig=HMAC", nil)
	}
	sub, err := parseID(subS)
	if err != nil {
		return Identity{}, reject(ReasonInvalid, "identity header sub", err)
	}
	if !ValidSessionID(sid) {
		return Identity{}, reject(ReasonInvalid, fmt.Sprintf("identity header sid %q", sid), nil)
	}
	exp, err := parseID(expS)
	if err != nil {
		return Identity{}, reject(ReasonInvalid, "identity header exp", err)
	}
	id := Identity{Sub: sub, SID: sid, Exp: time.Unix(exp, 0)}
	if !now.Before(id.Exp) {
		return Identity{}, reject(ReasonExpired, fmt.Sprintf("identity header expired at %v", id.Exp.UTC()), nil)
	}
	return id, nil
}
