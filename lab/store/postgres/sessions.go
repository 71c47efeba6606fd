package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/headroom/headroom/lab"
)

const sessionCols = `id, user_id, created_at, expires_at, revoked_at`

// session runs a statement returning one session row.
func (s *Store) session(ctx context.Context, query string, args ...any) (lab.Session, error) {
	var ss lab.Session
	if err := s.one(ctx, s.pool, query, args, &ss.ID, &ss.UserID, &ss.CreatedAt, &ss.ExpiresAt, &ss.RevokedAt); err != nil {
		return ss, err
	}
	ss.CreatedAt, ss.ExpiresAt = ss.CreatedAt.UTC(), ss.ExpiresAt.UTC()
	if ss.RevokedAt != nil {
		at := ss.RevokedAt.UTC()
		ss.RevokedAt = &at
	}
	return ss, nil
}

// CreateSession records a login session.
func (s *Store) CreateSession(ctx context.Context, id string, userID int64, expiresAt time.Time) (lab.Session, error) {
	ss, err := s.session(ctx, `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING `+sessionCols,
		id, userID, now(), expiresAt)
	if err != nil {
		return ss, fmt.Errorf("postgres: create session of user %d: %w", userID, err)
	}
	return ss, nil
}

// GetSession returns one session.
func (s *Store) GetSession(ctx context.Context, id string) (lab.Session, error) {
	ss, err := s.session(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id)
	if err != nil {
		return ss, fmt.Errorf("postgres: get session: %w", err)
	}
	return ss, nil
}

// RevokeSession marks a session revoked.
func (s *Store) RevokeSession(ctx context.Context, id string) (lab.Session, error) {
	ss, err := s.session(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 RETURNING `+sessionCols, now(), id)
	if err != nil {
		return ss, fmt.Errorf("postgres: revoke session: %w", err)
	}
	return ss, nil
}
