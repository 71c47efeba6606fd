package identity

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the iss claim of every token the lab issues; tokens from any other issuer are
// rejected.
const Issuer = "headroom-lab"

// MaxTokenBytes bounds a token: longer ones are rejected before any decoding. The lab's tokens
// are about 250 bytes.
const MaxTokenBytes = 4096

// Alg is a token signing algorithm.
type Alg string

// The algorithms tokens are signed with. Any other, "none" included, is rejected.
const (
	// AlgEdDSA signs with Ed25519 (RFC 8037): the verifier needs the public key only, so an
	// edge can verify tokens without being able to issue them. The default.
	AlgEdDSA Alg = "EdDSA"
	// AlgHS256 signs with HMAC-SHA256: one shared secret signs and verifies.
	AlgHS256 Alg = "HS256"
)

// Algs lists the algorithms ParseAlg reads.
var Algs = []Alg{AlgEdDSA, AlgHS256}

// ParseAlg parses an algorithm name of Algs, case-insensitively: "EdDSA" or "HS256".
func ParseAlg(s string) (Alg, error) {
	names := make([]string, len(Algs))
	for i, a := range Algs {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
		names[i] = string(a)
	}
	return "", fmt.Errorf("token algorithm %q: want one of %s", s, strings.Join(names, ", "))
}

// Claims are what a session token says: who (Sub), which session (SID), and when it was issued
// and expires (whole seconds).
type Claims struct {
	// Sub is the user id (the sub claim, as a decimal string); positive.
	Sub int64
	// SID is the session id (the sid claim); see [ValidSessionID].
	SID string
	// IssuedAt is the iat claim.
	IssuedAt time.Time
	// ExpiresAt is the exp claim; required.
	ExpiresAt time.Time
}

// jwtClaims is the JSON form of Claims.
type jwtClaims struct {
	jwt.RegisteredClaims
	SID string `json:"sid"`
}

// IssueToken signs c with alg, adding iss [Issuer]. It fails on a bad algorithm, a non-positive
// Sub, an invalid SID, or an ExpiresAt not after IssuedAt.
func (k Keys) IssueToken(alg Alg, c Claims) (string, error) {
	if c.Sub <= 0 || !ValidSessionID(c.SID) || !c.ExpiresAt.After(c.IssuedAt) {
		return "", fmt.Errorf("identity: issue token: claims sub %d, sid %q, iat %v, exp %v: want a positive sub, a valid session id and exp after iat",
			c.Sub, c.SID, c.IssuedAt, c.ExpiresAt)
	}
	var (
		method jwt.SigningMethod
		key    any
	)
	switch alg {
	case AlgEdDSA:
		method, key = jwt.SigningMethodEdDSA, k.Ed25519
	case AlgHS256:
		method, key = jwt.SigningMethodHS256, k.HS256
	default:
		return "", fmt.Errorf("identity: issue token: algorithm %q: want EdDSA or HS256", alg)
	}
	t := jwt.NewWithClaims(method, jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   strconv.FormatInt(c.Sub, 10),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		},
		SID: c.SID,
	})
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("identity: issue token: %w", err)
	}
	return s, nil
}

// VerifyToken checks token at time now and returns its claims. It accepts only a compact JWS
// signed with EdDSA (by k's Ed25519 key) or HS256 (with k's HS256 secret), strictly encoded, from
// [Issuer], with an exp after now, no nbf or iat after now, a positive decimal sub and a valid
// sid. The signature is checked before any claim, so a forged token is invalid whatever it says.
// Errors are [*Error]s: missing (empty token), expired (well signed, past exp), invalid (the rest).
func (k Keys) VerifyToken(token string, now time.Time) (Claims, error) {
	if token == "" {
		return Claims{}, ErrMissing
	}
	if len(token) > MaxTokenBytes {
		return Claims{}, reject(ReasonInvalid, fmt.Sprintf("token of %d bytes: over %d", len(token), MaxTokenBytes), nil)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{string(AlgEdDSA), string(AlgHS256)}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var jc jwtClaims
	_, err := p.ParseWithClaims(token, &jc, func(t *jwt.Token) (any, error) {
		// The key follows the algorithm the parser resolved, never the other way round: an
		// EdDSA public key is never used as an HMAC secret (the classic algorithm confusion).
		switch t.Method {
		case jwt.SigningMethodEdDSA:
			if pub := k.Public(); pub != nil {
				return pub, nil
			}
		case jwt.SigningMethodHS256:
			if len(k.HS256) >= MinSecretBytes {
				return k.HS256, nil
			}
		}
		return nil, fmt.Errorf("no key for algorithm %v", t.Header["alg"])
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, reject(ReasonExpired, "token", err)
	case err != nil:
		return Claims{}, reject(ReasonInvalid, "token", err)
	}
	sub, err := parseID(jc.Subject)
	if err != nil {
		return Claims{}, reject(ReasonInvalid, "token sub", err)
	}
	if !ValidSessionID(jc.SID) {
		return Claims{}, reject(ReasonInvalid, fmt.Sprintf("token sid %q: want 1 to %d characters of A-Z a-z 0-9 - _", jc.SID, maxSessionIDBytes), nil)
	}
	c := Claims{Sub: sub, SID: jc.SID, ExpiresAt: jc.ExpiresAt.Time}
	if jc.IssuedAt != nil {
		c.IssuedAt = jc.IssuedAt.Time
	}
	return c, nil
}

// BearerToken returns the token of an Authorization header value "Bearer TOKEN" (the scheme is
// case-insensitive, RFC 9110 §11.1). No header, another scheme or an empty token is missing;
// a token with characters outside RFC 6750's b64token is invalid.
func BearerToken(authorization string) (string, error) {
	scheme, tok, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMissing
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return "", ErrMissing
	}
	for i := range len(tok) {
		c := tok[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='
		if !ok {
			return "", reject(ReasonInvalid, "bearer token: a character outside b64token", nil)
		}
	}
	return tok, nil
}

// parseID parses a positive decimal id in its canonical form (no sign, no leading zeros).
func parseID(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("%q: want a positive decimal integer", s)
	}
	return n, nil
}
