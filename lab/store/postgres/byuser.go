package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/headroom/headroom/lab"
)

// PostsByAuthor returns an author's newest posts first, at most limit.
func (s *Store) PostsByAuthor(ctx context.Context, authorID int64, limit int) ([]lab.Post, error) {
	ps, err := s.posts(ctx, `SELECT `+postCols+` FROM posts p WHERE p.author_id = $1 ORDER BY p.created_at DESC, p.id DESC LIMIT $2`, authorID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: posts by author %d: %w", authorID, err)
	}
	return ps, nil
}

// OrdersByUser returns a user's newest orders first, at most limit.
func (s *Store) OrdersByUser(ctx context.Context, userID int64, limit int) ([]lab.Order, error) {
	out := []lab.Order{}
	err := s.rows(ctx, s.pool, `SELECT id, user_id, amount_cents, status, payment_ref, created_at FROM orders
		WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, []any{userID, limit}, func(r pgx.Rows) error {
		var o lab.Order
		if err := r.Scan(&o.ID, &o.UserID, &o.AmountCents, &o.Status, &o.PaymentRef, &o.CreatedAt); err != nil {
			return err
		}
		o.CreatedAt = o.CreatedAt.UTC()
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: orders of user %d: %w", userID, err)
	}
	return out, nil
}

// InvitesByInviter returns the invitations a user sent, newest first, at most limit.
func (s *Store) InvitesByInviter(ctx context.Context, inviterID int64, limit int) ([]lab.Invite, error) {
	out := []lab.Invite{}
	err := s.rows(ctx, s.pool, `SELECT id, inviter_id, email, token, created_at, sent_at FROM invites
		WHERE inviter_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, []any{inviterID, limit}, func(r pgx.Rows) error {
		var in lab.Invite
		if err := r.Scan(&in.ID, &in.InviterID, &in.Email, &in.Token, &in.CreatedAt, &in.SentAt); err != nil {
			return err
		}
		in.CreatedAt = in.CreatedAt.UTC()
		if in.SentAt != nil {
			t := in.SentAt.UTC()
			in.SentAt = &t
		}
		out = append(out, in)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: invites of user %d: %w", inviterID, err)
	}
	return out, nil
}
