package storetest

import (
	"testing"
	"time"

	"github.com/headroom/headroom/lab"
)

func testSessions(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	before := time.Now().Add(-time.Second)
	ss := must(s.CreateSession(ctx, "sess-a", u.ID, exp))(t)
	if ss.ID != "sess-a" || ss.UserID != u.ID || !ss.ExpiresAt.Equal(exp) || ss.CreatedAt.Before(before) || ss.RevokedAt != nil {
		t.Errorf("CreateSession = %+v", ss)
	}
	got := must(s.GetSession(ctx, "sess-a"))(t)
	if got.ID != ss.ID || got.UserID != u.ID || !got.CreatedAt.Equal(ss.CreatedAt) || !got.ExpiresAt.Equal(exp) || got.RevokedAt != nil {
		t.Errorf("GetSession = %+v, want %+v", got, ss)
	}
	if !got.Valid(time.Now()) || got.Valid(exp) {
		t.Errorf("Valid: want true now and false at expiry, for %+v", got)
	}

	_, err := s.CreateSession(ctx, "sess-a", u.ID, exp)
	wantErr(t, "CreateSession with a used id", err, lab.ErrConflict)
	_, err = s.CreateSession(ctx, "sess-x", u.ID+1000, exp)
	wantErr(t, "CreateSession of an unknown user", err, lab.ErrNotFound)
	_, err = s.GetSession(ctx, "nope")
	wantErr(t, "GetSession of an unknown id", err, lab.ErrNotFound)
	_, err = s.RevokeSession(ctx, "nope")
	wantErr(t, "RevokeSession of an unknown id", err, lab.ErrNotFound)

	rev := must(s.RevokeSession(ctx, "sess-a"))(t)
	if rev.RevokedAt == nil || rev.RevokedAt.Before(before) || rev.Valid(time.Now()) {
		t.Fatalf("RevokeSession = %+v, want revoked now", rev)
	}
	again := must(s.RevokeSession(ctx, "sess-a"))(t)
	if again.RevokedAt == nil || !again.RevokedAt.Equal(*rev.RevokedAt) {
		t.Errorf("second RevokeSession moved revoked_at: %v then %v", rev.RevokedAt, again.RevokedAt)
	}
	if got := must(s.GetSession(ctx, "sess-a"))(t); got.RevokedAt == nil || !got.RevokedAt.Equal(*rev.RevokedAt) {
		t.Errorf("GetSession after revoke = %+v", got)
	}

	// A user's other sessions are untouched by a revocation, and go with the user.
	must(s.CreateSession(ctx, "sess-b", u.ID, exp))(t)
	if got := must(s.GetSession(ctx, "sess-b"))(t); got.RevokedAt != nil {
		t.Errorf("sess-b revoked with sess-a: %+v", got)
	}
	must(s.DeleteUser(ctx, u.ID))(t)
	_, err = s.GetSession(ctx, "sess-b")
	wantErr(t, "GetSession after DeleteUser", err, lab.ErrNotFound)
}
