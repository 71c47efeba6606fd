package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/headroom/headroom/lab"
)

const sessionCols = `id, user_id, created_at, expires_at, revoked_at`

// session runs a statement returning one session row.
func (s *Store) session(ctx context.Context, query string, args ...any) (lab.Session, error) {
	var (
		ss           lab.Session
		created, exp int64
		revoked      sql.NullInt64
	)
	if err := s.one(ctx, s.db, query, args, &ss.ID, &ss.UserID, &created, &exp, &revoked); err != nil {
		return ss, err
	}
	ss.CreatedAt, ss.ExpiresAt = fromMicros(created), fromMicros(exp)
	if revoked.Valid {
		at := fromMicros(revoked.Int64)
		ss.RevokedAt = &at
	}
	return ss, nil
}

// CreateSession records a login session.
func (s *Store) CreateSession(ctx context.Context, id string, userID int64, expiresAt time.Time) (lab.Session, error) {
	ss, err := s.session(ctx, `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?) RETURNING `+sessionCols,
		id, userID, micros(now()), micros(expiresAt))
	if err != nil {
		return ss, fmt.Errorf("sqlite: create session of user %d: %w", userID, err)
	}
	return ss, nil
}

// GetSession returns one session.
func (s *Store) GetSession(ctx context.Context, id string) (lab.Session, error) {
	ss, err := s.session(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id)
	if err != nil {
		return ss, fmt.Errorf("sqlite: get session: %w", err)
	}
	return ss, nil
}

// RevokeSession marks a session revoked.
func (s *Store) RevokeSession(ctx context.Context, id string) (lab.Session, error) {
	ss, err := s.session(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING `+sessionCols, micros(now()), id)
	if err != nil {
		return ss, fmt.Errorf("sqlite: revoke session: %w", err)
	}
	return ss, nil
}
