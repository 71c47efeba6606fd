package postgres

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/headroom/headroom/lab"
)

// inTx runs f in a transaction, committed when f returns nil.
func (s *Store) inTx(ctx context.Context, f func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := f(tx); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// count runs a statement and returns the rows it affected (zero is not an error).
func count(ctx context.Context, q querier, query string, args ...any) (int64, error) {
	tag, err := q.Exec(ctx, query, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return tag.RowsAffected(), nil
}

// writeOutbox inserts the outbox messages of jobs for the row rowID, inside tx.
func (s *Store) writeOutbox(ctx context.Context, tx pgx.Tx, rowID int64, jobs []lab.Job) error {
	msgs := make([]lab.OutboxMessage, len(jobs))
	for i, job := range jobs {
		msgs[i] = job(rowID)
	}
	return s.insertOutbox(ctx, tx, msgs)
}

// insertOutbox inserts outbox messages inside tx.
func (s *Store) insertOutbox(ctx context.Context, tx pgx.Tx, msgs []lab.OutboxMessage) error {
	at := now()
	for _, m := range msgs {
		h := m.Headers
		if h == nil {
			h = map[string]string{}
		}
		if err := s.exec(ctx, tx, `INSERT INTO outbox (queue, payload, headers, created_at) VALUES ($1, $2, $3, $4)`,
			m.Queue, m.Payload, h, at); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// PendingOutbox returns unsent outbox messages, oldest first.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]lab.OutboxMessage, error) {
	var out []lab.OutboxMessage
	err := s.rows(ctx, s.pool, `SELECT id, queue, payload, headers, created_at FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1`,
		[]any{limit}, func(r pgx.Rows) error {
			var m lab.OutboxMessage
			if err := r.Scan(&m.ID, &m.Queue, &m.Payload, &m.Headers, &m.CreatedAt); err != nil {
				return err
			}
			m.CreatedAt = m.CreatedAt.UTC()
			out = append(out, m)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("postgres: pending outbox: %w", err)
	}
	return out, nil
}

// MarkOutboxSent marks outbox messages sent.
func (s *Store) MarkOutboxSent(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := count(ctx, s.pool, `UPDATE outbox SET sent_at = $1 WHERE sent_at IS NULL AND id = ANY($2)`, now(), ids); err != nil {
		return fmt.Errorf("postgres: mark outbox sent: %w", err)
	}
	return nil
}

// OutboxBacklog counts unsent outbox messages.
func (s *Store) OutboxBacklog(ctx context.Context) (int64, time.Time, error) {
	var n int64
	var oldest *time.Time
	if err := s.one(ctx, s.pool, `SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL`, nil, &n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("postgres: outbox backlog: %w", err)
	}
	if oldest == nil {
		return n, time.Time{}, nil
	}
	return n, oldest.UTC(), nil
}

// PruneOutbox deletes up to limit outbox messages sent before sentBefore.
func (s *Store) PruneOutbox(ctx context.Context, sentBefore time.Time, limit int) (int64, error) {
	n, err := count(ctx, s.pool, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1 ORDER BY sent_at LIMIT $2)`,
		sentBefore, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune outbox: %w", err)
	}
	return n, nil
}

// AddJobCounts adds each queue's outcomes to its totals, in one transaction.
func (s *Store) AddJobCounts(ctx context.Context, add map[string]lab.JobCounts) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for q, c := range add {
			if err := s.exec(ctx, tx, `INSERT INTO job_counts (queue, done, failed, dead, duplicates) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (queue) DO UPDATE SET done = job_counts.done + excluded.done, failed = job_counts.failed + excluded.failed,
				dead = job_counts.dead + excluded.dead, duplicates = job_counts.duplicates + excluded.duplicates`,
				q, c.Done, c.Failed, c.Dead, c.Duplicates); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: add job counts: %w", err)
	}
	return nil
}

// JobCounts returns each queue's totals.
func (s *Store) JobCounts(ctx context.Context) (map[string]lab.JobCounts, error) {
	out := map[string]lab.JobCounts{}
	err := s.rows(ctx, s.pool, `SELECT queue, done, failed, dead, duplicates FROM job_counts`, nil, func(r pgx.Rows) error {
		var q string
		var c lab.JobCounts
		if err := r.Scan(&q, &c.Done, &c.Failed, &c.Dead, &c.Duplicates); err != nil {
			return err
		}
		out[q] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: job counts: %w", err)
	}
	return out, nil
}

// GetVideo returns one video with its finished stages.
func (s *Store) GetVideo(ctx context.Context, id int64) (lab.Video, error) {
	v := lab.Video{ID: id}
	err := s.one(ctx, s.pool, `SELECT owner_id, title, size_bytes, status, checksum, created_at FROM videos WHERE id = $1`, []any{id},
		&v.OwnerID, &v.Title, &v.SizeBytes, &v.Status, &v.Checksum, &v.CreatedAt)
	if err == nil {
		v.CreatedAt = v.CreatedAt.UTC()
		err = s.rows(ctx, s.pool, `SELECT stage, result FROM video_stages WHERE video_id = $1`, []any{id}, func(r pgx.Rows) error {
			var stage, res string
			if err := r.Scan(&stage, &res); err != nil {
				return err
			}
			if v.Stages == nil {
				v.Stages = map[string]string{}
			}
			v.Stages[stage] = res
			return nil
		})
	}
	if err != nil {
		return v, fmt.Errorf("postgres: get video %d: %w", id, err)
	}
	return v, nil
}

// RecordVideoStage stores a stage's result and returns the stages done.
func (s *Store) RecordVideoStage(ctx context.Context, videoID int64, stage, result string) ([]string, error) {
	var done []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := s.exec(ctx, tx, `INSERT INTO video_stages (video_id, stage, result, done_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (video_id, stage) DO UPDATE SET result = excluded.result, done_at = excluded.done_at`,
			videoID, stage, result, now()); err != nil {
			return err
		}
		return s.rows(ctx, tx, `SELECT stage FROM video_stages WHERE video_id = $1`, []any{videoID}, func(r pgx.Rows) error {
			var st string
			done = append(done, st)
			return r.Scan(&done[len(done)-1])
		})
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: record video %d stage %s: %w", videoID, stage, err)
	}
	sort.Strings(done)
	return done, nil
}

// The rows of an account, in the order a deletion removes them: comments on the user's posts and
// the user's comments before the posts (so deleting a post cascades to nothing), the small tables,
// and the user last. Each condition refers to the user id as $1.
var deletionSteps = []struct{ table, cond string }{
	{"comments", "post_id IN (SELECT id FROM posts WHERE author_id = $1)"},
	{"comments", "author_id = $1"},
	{"posts", "author_id = $1"},
	{"invites", "inviter_id = $1"},
	{"videos", "owner_id = $1"},
	{"orders", "user_id = $1"},
	{"users", "id = $1"},
}

const deletionCols = `id, user_id, status, total_rows, deleted_rows, chunks, created_at, updated_at`

func (s *Store) getDeletion(ctx context.Context, q querier, id int64, lock string) (lab.Deletion, error) {
	var d lab.Deletion
	err := s.one(ctx, q, `SELECT `+deletionCols+` FROM deletions WHERE id = $1`+lock, []any{id},
		&d.ID, &d.UserID, &d.Status, &d.Total, &d.Deleted, &d.Chunks, &d.CreatedAt, &d.UpdatedAt)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, err
}

// CreateDeletion records a running deletion of a user's account and its jobs' outbox messages.
func (s *Store) CreateDeletion(ctx context.Context, userID int64, jobs ...lab.Job) (lab.Deletion, error) {
	d := lab.Deletion{UserID: userID, Status: lab.DeletionRunning, CreatedAt: now()}
	d.UpdatedAt = d.CreatedAt
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var n int64
		if err := s.one(ctx, tx, `SELECT COUNT(*) FROM users WHERE id = $1`, []any{userID}, &n); err != nil {
			return err
		}
		if n == 0 {
			return lab.ErrNotFound
		}
		err := s.one(ctx, tx, `SELECT 1
			+ (SELECT COUNT(*) FROM posts WHERE author_id = $1)
			+ (SELECT COUNT(*) FROM invites WHERE inviter_id = $1)
			+ (SELECT COUNT(*) FROM videos WHERE owner_id = $1)
			+ (SELECT COUNT(*) FROM orders WHERE user_id = $1)
			+ (SELECT COUNT(*) FROM comments WHERE author_id = $1 OR post_id IN (SELECT id FROM posts WHERE author_id = $1))`,
			[]any{userID}, &d.Total)
		if err != nil {
			return err
		}
		if err := s.one(ctx, tx, `INSERT INTO deletions (user_id, status, total_rows, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			[]any{userID, d.Status, d.Total, d.CreatedAt, d.UpdatedAt}, &d.ID); err != nil {
			return err
		}
		return s.writeOutbox(ctx, tx, d.ID, jobs)
	})
	if err != nil {
		return d, fmt.Errorf("postgres: create deletion of user %d: %w", userID, err)
	}
	return d, nil
}

// GetDeletion returns one deletion.
func (s *Store) GetDeletion(ctx context.Context, id int64) (lab.Deletion, error) {
	d, err := s.getDeletion(ctx, s.pool, id, "")
	if err != nil {
		return d, fmt.Errorf("postgres: get deletion %d: %w", id, err)
	}
	return d, nil
}

// DeleteChunk deletes up to limit rows of a running deletion and records the progress.
func (s *Store) DeleteChunk(ctx context.Context, id int64, limit int) (lab.Deletion, error) {
	var d lab.Deletion
	err := s.inTx(ctx, func(tx pgx.Tx) (err error) {
		// FOR UPDATE: two workers running the same deletion (a redelivery) take turns.
		if d, err = s.getDeletion(ctx, tx, id, " FOR UPDATE"); err != nil || d.Status != lab.DeletionRunning {
			return err
		}
		var n int64
		for _, st := range deletionSteps {
			if n, err = count(ctx, tx, `DELETE FROM `+st.table+` WHERE id IN (SELECT id FROM `+st.table+` WHERE `+st.cond+` LIMIT $2)`, d.UserID, limit); err != nil {
				return err
			}
			if n > 0 {
				if st.table == "users" {
					d.Status = lab.DeletionDone
				}
				break
			}
		}
		if n == 0 { // the user was already gone
			d.Status = lab.DeletionDone
		}
		d.Deleted += n
		d.Chunks++
		d.UpdatedAt = now()
		return s.exec(ctx, tx, `UPDATE deletions SET status = $1, deleted_rows = $2, chunks = $3, updated_at = $4 WHERE id = $5`,
			d.Status, d.Deleted, d.Chunks, d.UpdatedAt, id)
	})
	if err != nil {
		return d, fmt.Errorf("postgres: delete chunk of deletion %d: %w", id, err)
	}
	return d, nil
}

// CancelDeletion stops a running deletion.
func (s *Store) CancelDeletion(ctx context.Context, id int64) (lab.Deletion, error) {
	var d lab.Deletion
	err := s.inTx(ctx, func(tx pgx.Tx) (err error) {
		if _, err = count(ctx, tx, `UPDATE deletions SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4`,
			lab.DeletionCanceled, now(), id, lab.DeletionRunning); err != nil {
			return err
		}
		d, err = s.getDeletion(ctx, tx, id, "")
		return err
	})
	if err != nil {
		return d, fmt.Errorf("postgres: cancel deletion %d: %w", id, err)
	}
	return d, nil
}
