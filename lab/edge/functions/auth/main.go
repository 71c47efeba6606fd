//go:build wasip1

// Command auth is the edge function that checks the session token at the edge: on a protected
// path (the variable "protected": comma-separated path prefixes, default "/api/me") a request
// without a valid "Authorization: Bearer <JWT>" is answered 401 here, without crossing the
// edge → origin link; a valid one goes on with the verified identity (sub, sid, exp) in the
// decision, which the edge node signs into Headroom-Edge-Identity for the origin. The token is
// verified by the host (jwt_verify: golang-jwt with the node's keys, EdDSA or HS256 only).
//
// Stateless: a revoked but unexpired token passes here; the origin's session check sees it.
package main

import (
	"strings"

	"github.com/headroom/headroom/lab/edge/functions/guest"
	"github.com/headroom/headroom/lab/isolate/abi"
)

func init() { guest.Handle(handle) }

func main() {}

func handle(r *abi.Request) abi.Decision {
	if r.Phase != abi.PhaseRequest || !protected(r.Path) {
		return guest.Continue()
	}
	token, ok := bearer(r.Get("Authorization"))
	if !ok {
		return reject("missing", "missing bearer token", `Bearer realm="headroom"`)
	}
	res, err := guest.VerifyJWT(token)
	if err != nil {
		guest.Log("jwt_verify: " + err.Error())
		return reject("invalid", "token not verifiable", `Bearer realm="headroom", error="invalid_token"`)
	}
	switch res.Status {
	case abi.JWTValid:
		d := guest.Continue()
		id := res.Identity
		d.Identity = &id
		return d
	case abi.JWTExpired:
		return reject("expired", "token expired", `Bearer realm="headroom", error="invalid_token", error_description="expired"`)
	}
	return reject("invalid", "invalid token", `Bearer realm="headroom", error="invalid_token"`)
}

var prefixes []string

func protected(path string) bool {
	if prefixes == nil {
		for p := range strings.SplitSeq(guest.Var("protected", "/api/me"), ",") {
			if p = strings.TrimSpace(p); p != "" {
				prefixes = append(prefixes, p)
			}
		}
	}
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// bearer returns the token of an RFC 6750 "Bearer" credential (scheme compared case-insensitively).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

func reject(reason, msg, challenge string) abi.Decision {
	d := guest.Respond(401, "application/json",
		[]byte(`{"error":`+guest.JSONString(msg)+`,"reason":`+guest.JSONString(reason)+`}`))
	guest.SetResponseHeader(&d, "WWW-Authenticate", challenge)
	guest.SetResponseHeader(&d, "Cache-Control", "no-store")
	guest.SetResponseHeader(&d, "Headroom-Auth-Rejected", reason)
	return d
}
