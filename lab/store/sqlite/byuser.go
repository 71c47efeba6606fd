package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/headroom/headroom/lab"
)

// PostsByAuthor returns an author's newest posts first, at most limit.
func (s *Store) PostsByAuthor(ctx context.Context, authorID int64, limit int) ([]lab.Post, error) {
	ps, err := s.posts(ctx, `SELECT `+postCols+` FROM posts p WHERE p.author_id = ? ORDER BY p.created_at DESC, p.id DESC LIMIT ?`, authorID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: posts by author %d: %w", authorID, err)
	}
	return ps, nil
}

// OrdersByUser returns a user's newest orders first, at most limit.
func (s *Store) OrdersByUser(ctx context.Context, userID int64, limit int) ([]lab.Order, error) {
	out := []lab.Order{}
	err := s.rows(ctx, s.db, `SELECT id, user_id, amount_cents, status, payment_ref, created_at FROM orders
		WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, []any{userID, limit}, func(r *sql.Rows) error {
		var o lab.Order
		var at int64
		if err := r.Scan(&o.ID, &o.UserID, &o.AmountCents, &o.Status, &o.PaymentRef, &at); err != nil {
			return err
		}
		o.CreatedAt = fromMicros(at)
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: orders of user %d: %w", userID, err)
	}
	return out, nil
}

// InvitesByInviter returns the invitations a user sent, newest first, at most limit.
func (s *Store) InvitesByInviter(ctx context.Context, inviterID int64, limit int) ([]lab.Invite, error) {
	out := []lab.Invite{}
	err := s.rows(ctx, s.db, `SELECT id, inviter_id, email, token, created_at, sent_at FROM invites
		WHERE inviter_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, []any{inviterID, limit}, func(r *sql.Rows) error {
		var in lab.Invite
		var at int64
		var sent sql.NullInt64
		if err := r.Scan(&in.ID, &in.InviterID, &in.Email, &in.Token, &at, &sent); err != nil {
			return err
		}
		in.CreatedAt = fromMicros(at)
		if sent.Valid {
			t := fromMicros(sent.Int64)
			in.SentAt = &t
		}
		out = append(out, in)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: invites of user %d: %w", inviterID, err)
	}
	return out, nil
}
