package identity

import "errors"

// Reason is why a credential was rejected, as the lab's spans (lab.auth.rejected) and metrics
// report it.
type Reason string

// The reasons of a rejection.
const (
	// ReasonMissing: no credential at all (no Authorization header, an empty token).
	ReasonMissing Reason = "missing"
	// ReasonInvalid: a credential that is malformed, forged, signed with another key or another
	// algorithm than EdDSA and HS256, from another issuer, or not valid yet.
	ReasonInvalid Reason = "invalid"
	// ReasonExpired: a well-signed credential past its expiry.
	ReasonExpired Reason = "expired"
	// ReasonRevoked: a well-signed, unexpired token whose session was revoked (logged out). Only
	// the origin's session lookup can tell; this package's checks never return it.
	ReasonRevoked Reason = "revoked"
)

// Error is a rejected credential. Compare with errors.Is against [ErrMissing], [ErrInvalid],
// [ErrExpired] or [ErrRevoked] (equal reasons match), or read Reason with errors.As or [ReasonOf].
type Error struct {
	Reason Reason
	// Detail says what was wrong, for logs; never sent to a client that might be probing.
	Detail string
	// Err is the underlying error, if any (golang-jwt's).
	Err error
}

// The sentinel of each reason, for errors.Is.
var (
	ErrMissing = &Error{Reason: ReasonMissing}
	ErrInvalid = &Error{Reason: ReasonInvalid}
	ErrExpired = &Error{Reason: ReasonExpired}
	ErrRevoked = &Error{Reason: ReasonRevoked}
)

func (e *Error) Error() string {
	msg := "identity: " + string(e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error) //nolint:errorlint // Is compares this error only; errors.Is walks the chain
	return ok && t.Reason == e.Reason
}

// ReasonOf returns the reason of err: "" for nil, the Reason of an [*Error] in its chain, and
// [ReasonInvalid] for any other error.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Reason
	}
	return ReasonInvalid
}

func reject(r Reason, detail string, err error) error {
	return &Error{Reason: r, Detail: detail, Err: err}
}
