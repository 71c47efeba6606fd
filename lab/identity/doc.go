// Package identity is what the lab's edge and its origin agree on about who a request is from:
// the session tokens the origin issues (JWTs, EdDSA by default or HS256, through
// github.com/golang-jwt/jwt/v5: the only importer of it), their strict verification, the
// Headroom-Edge-Identity header that the edge sets once it has verified a token, and the [Keys]
// both sides share.
//
// Every check rejects with an [*Error] whose [Reason] (missing, invalid, expired) is what the
// lab's spans and metrics report. Checks take the time as an argument: they are pure functions of
// their input.
//
// It imports nothing of headroom, and no net/http, so that an edge function compiled to
// WebAssembly can use it too. It must not import headroom's measurement packages.
package identity
