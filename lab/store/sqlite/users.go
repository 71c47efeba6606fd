package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/headroom/headroom/lab"
)

// RenameUser changes a user's name and writes its jobs' outbox messages in one transaction.
func (s *Store) RenameUser(ctx context.Context, id int64, name string, jobs ...lab.UserJob) (lab.User, error) {
	var u lab.User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		found := false
		err := s.rows(ctx, tx, `UPDATE users SET name = ?, version = version + 1, updated_at = ? WHERE id = ? RETURNING `+userCols,
			[]any{name, micros(now()), id}, func(r *sql.Rows) (err error) {
				found = true
				u, err = scanUser(r)
				return err
			})
		if err == nil && !found {
			err = lab.ErrNotFound
		}
		if err != nil {
			return err
		}
		msgs := make([]lab.OutboxMessage, len(jobs))
		for i, job := range jobs {
			msgs[i] = job(u)
		}
		return s.insertOutbox(ctx, tx, msgs)
	})
	if err != nil {
		return u, fmt.Errorf("sqlite: rename user %d: %w", id, err)
	}
	return u, nil
}

// ApplyUser upserts a replicated user if it is newer than the copy.
func (s *Store) ApplyUser(ctx context.Context, u lab.User) (bool, error) {
	if u.ID <= 0 || u.Version <= 0 {
		return false, fmt.Errorf("sqlite: apply user %d version %d: want a positive id and version", u.ID, u.Version)
	}
	res, err := s.exec(ctx, s.db, `INSERT INTO users (id, name, email, created_at, version, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, created_at = excluded.created_at,
		version = excluded.version, updated_at = excluded.updated_at WHERE excluded.version > users.version`,
		u.ID, u.Name, u.Email, micros(u.CreatedAt), u.Version, micros(u.UpdatedAt))
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: apply user %d version %d: %w", u.ID, u.Version, err)
	}
	return n > 0, nil
}
