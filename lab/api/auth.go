package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/identity"
)

// SessionStore records logins and answers the origin's session check.
type SessionStore interface {
	CreateSession(ctx context.Context, id string, userID int64, expiresAt time.Time) (lab.Session, error)
	GetSession(ctx context.Context, id string) (lab.Session, error)
	RevokeSession(ctx context.Context, id string) (lab.Session, error)
}

// AuthSource is who vouched for a request's user, as the span attribute lab.auth.source and the
// metric lab_auth_checks_total say.
type AuthSource string

// The sources of an authentication.
const (
	// AuthEdge: a valid Headroom-Edge-Identity header; the origin trusted it and looked nothing up.
	AuthEdge AuthSource = "edge"
	// AuthDB: the origin verified the bearer token and looked its session up in the database.
	AuthDB AuthSource = "db"
	// AuthNone: the request carried no credential.
	AuthNone AuthSource = "none"
)

// The span attributes of the session check, on the route's server span.
const (
	attrAuthSource   = "lab.auth.source"
	attrAuthRejected = "lab.auth.rejected"
	// attrEdgeRejected is why an identity header was not trusted (the check then falls back to
	// the token): a forged header, or an edge and an origin with different keys.
	attrEdgeRejected = "lab.auth.edge_rejected"
)

// principal is an authenticated request's user and session.
type principal struct {
	userID int64
	sid    string
	source AuthSource
}

// authError is a rejected credential: a 401.
type authError struct {
	source AuthSource
	reason identity.Reason
	detail string
}

// authenticate runs the origin's session check on r and records its outcome on the server span
// and in lab_auth_checks_total. A valid edge identity header is trusted as is (no token check, no
// database); otherwise the bearer token is verified and its session looked up: it must exist,
// belong to the token's user, and be neither revoked nor expired. err is a database failure.
func (a *API) authenticate(r *http.Request) (p principal, rej *authError, err error) {
	ctx := r.Context()
	span := trace.SpanFromContext(ctx)
	defer func() {
		switch {
		case err != nil:
			a.metrics.auth.WithLabelValues(string(AuthDB), "error").Inc()
		case rej != nil:
			span.SetAttributes(attribute.String(attrAuthSource, string(rej.source)), attribute.String(attrAuthRejected, string(rej.reason)))
			a.metrics.auth.WithLabelValues(string(rej.source), string(rej.reason)).Inc()
		default:
			span.SetAttributes(attribute.String(attrAuthSource, string(p.source)))
			a.metrics.auth.WithLabelValues(string(p.source), "ok").Inc()
		}
	}()
	now := time.Now()
	if h := r.Header.Get(identity.HeaderName); h != "" {
		id, verr := identity.Verify(a.keys.Identity, h, now)
		if verr == nil {
			return principal{userID: id.Sub, sid: id.SID, source: AuthEdge}, nil, nil
		}
		span.SetAttributes(attribute.String(attrEdgeRejected, string(identity.ReasonOf(verr))))
	}
	tok, terr := identity.BearerToken(r.Header.Get("Authorization"))
	if errors.Is(terr, identity.ErrMissing) {
		return p, &authError{source: AuthNone, reason: identity.ReasonMissing, detail: "no bearer token: log in with POST /api/login"}, nil
	}
	if terr != nil {
		return p, &authError{source: AuthDB, reason: identity.ReasonOf(terr), detail: "malformed bearer token"}, nil
	}
	c, verr := a.keys.VerifyToken(tok, now)
	if verr != nil {
		reason := identity.ReasonOf(verr)
		detail := "invalid token"
		if reason == identity.ReasonExpired {
			detail = "the token expired"
		}
		return p, &authError{source: AuthDB, reason: reason, detail: detail}, nil
	}
	s, gerr := a.cfg.Store.GetSession(ctx, c.SID)
	switch {
	case errors.Is(gerr, lab.ErrNotFound):
		return p, &authError{source: AuthDB, reason: identity.ReasonInvalid, detail: "unknown session"}, nil
	case gerr != nil:
		return p, nil, gerr
	case s.UserID != c.Sub:
		return p, &authError{source: AuthDB, reason: identity.ReasonInvalid, detail: "the session is another user's"}, nil
	case s.RevokedAt != nil:
		return p, &authError{source: AuthDB, reason: identity.ReasonRevoked, detail: "the session was revoked (logged out)"}, nil
	case !s.Valid(now):
		return p, &authError{source: AuthDB, reason: identity.ReasonExpired, detail: "the session expired"}, nil
	}
	return principal{userID: c.Sub, sid: c.SID, source: AuthDB}, nil, nil
}

// authErrorBody is the JSON of a 401.
type authErrorBody struct {
	Error  string          `json:"error"`
	Status int             `json:"status"`
	Reason identity.Reason `json:"reason"`
}

// unauthorized answers 401 with the RFC 6750 challenge: error="invalid_token" unless the
// credential was missing.
func unauthorized(w http.ResponseWriter, rej *authError) {
	challenge := `Bearer realm="` + identity.Issuer + `"`
	if rej.reason != identity.ReasonMissing {
		challenge += fmt.Sprintf(`, error="invalid_token", error_description=%q`, rej.detail)
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusUnauthorized, authErrorBody{Error: rej.detail, Status: http.StatusUnauthorized, Reason: rej.reason})
}

type loginRequest struct {
	UserID int64 `json:"user_id"`
}

// LoginResponse is the answer of POST /api/login.
type LoginResponse struct {
	Token     string       `json:"token"`
	TokenType string       `json:"token_type"` // "Bearer"
	Alg       identity.Alg `json:"alg"`
	SessionID string       `json:"session_id"`
	UserID    int64        `json:"user_id"`
	ExpiresAt time.Time    `json:"expires_at"`
}

// login creates a session for a user and issues its token. A lab: no password, the point is
// what checking the session costs.
func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.UserID <= 0 {
		a.fail(w, r, badRequest("want user_id > 0"))
		return
	}
	now := time.Now().Truncate(time.Second)
	exp := now.Add(a.cfg.SessionTTL)
	s, err := a.cfg.Store.CreateSession(r.Context(), identity.NewSessionID(), req.UserID, exp)
	if err = missing(err, "user %d", req.UserID); err != nil {
		a.fail(w, r, err)
		return
	}
	tok, err := a.keys.IssueToken(a.cfg.TokenAlg, identity.Claims{Sub: s.UserID, SID: s.ID, IssuedAt: now, ExpiresAt: exp})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, LoginResponse{Token: tok, TokenType: "Bearer", Alg: a.cfg.TokenAlg, SessionID: s.ID, UserID: s.UserID, ExpiresAt: exp})
}

// logout revokes the session of the request's credential: its token stays well signed and
// unexpired, so only the origin's database check rejects it from now on (an edge checking tokens
// alone cannot see a logout).
func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	p, rej, err := a.authenticate(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if rej != nil {
		unauthorized(w, rej)
		return
	}
	s, err := a.cfg.Store.RevokeSession(r.Context(), p.sid)
	if err = missing(err, "session"); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"session_id": s.ID, "revoked_at": s.RevokedAt})
}

// MeResponse is the answer of GET /api/me.
type MeResponse struct {
	User      lab.User   `json:"user"`
	SessionID string     `json:"session_id"`
	Source    AuthSource `json:"auth_source"`
}

// me answers the authenticated user.
func (a *API) me(w http.ResponseWriter, r *http.Request) {
	p, rej, err := a.authenticate(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if rej != nil {
		unauthorized(w, rej)
		return
	}
	u, err := a.cfg.Store.GetUser(r.Context(), p.userID)
	if errors.Is(err, lab.ErrNotFound) {
		// A vouched-for user deleted since: the identity names no one.
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String(attrAuthRejected, string(identity.ReasonInvalid)))
		unauthorized(w, &authError{source: p.source, reason: identity.ReasonInvalid, detail: "the user no longer exists"})
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	writeJSON(w, http.StatusOK, MeResponse{User: u, SessionID: p.sid, Source: p.source})
}
