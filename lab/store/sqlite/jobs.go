package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/headroom/headroom/lab"
)

// inTx runs f in a transaction, committed when f returns nil.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// writeOutbox inserts the outbox messages of jobs for the row rowID, inside tx.
func (s *Store) writeOutbox(ctx context.Context, tx *sql.Tx, rowID int64, jobs []lab.Job) error {
	msgs := make([]lab.OutboxMessage, len(jobs))
	for i, job := range jobs {
		msgs[i] = job(rowID)
	}
	return s.insertOutbox(ctx, tx, msgs)
}

// insertOutbox inserts outbox messages inside tx.
func (s *Store) insertOutbox(ctx context.Context, tx *sql.Tx, msgs []lab.OutboxMessage) error {
	at := micros(now())
	for _, m := range msgs {
		h, err := json.Marshal(m.Headers)
		if err != nil {
			return fmt.Errorf("outbox headers: %w", err)
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO outbox (queue, payload, headers, created_at) VALUES (?, ?, ?, ?)`,
			m.Queue, m.Payload, string(h), at); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// PendingOutbox returns unsent outbox messages, oldest first.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]lab.OutboxMessage, error) {
	var out []lab.OutboxMessage
	err := s.rows(ctx, s.db, `SELECT id, queue, payload, headers, created_at FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?`,
		[]any{limit}, func(r *sql.Rows) error {
			var m lab.OutboxMessage
			var h string
			var at int64
			if err := r.Scan(&m.ID, &m.Queue, &m.Payload, &h, &at); err != nil {
				return err
			}
			m.CreatedAt = fromMicros(at)
			if err := json.Unmarshal([]byte(h), &m.Headers); err != nil {
				return fmt.Errorf("outbox %d headers: %w", m.ID, err)
			}
			out = append(out, m)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending outbox: %w", err)
	}
	return out, nil
}

// MarkOutboxSent marks outbox messages sent.
func (s *Store) MarkOutboxSent(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{micros(now())}
	for _, id := range ids {
		args = append(args, id)
	}
	if _, err := s.exec(ctx, s.db, `UPDATE outbox SET sent_at = ? WHERE sent_at IS NULL AND id IN (`+placeholders(len(ids))+`)`, args...); err != nil {
		return fmt.Errorf("sqlite: mark outbox sent: %w", err)
	}
	return nil
}

// OutboxBacklog counts unsent outbox messages.
func (s *Store) OutboxBacklog(ctx context.Context) (int64, time.Time, error) {
	var n int64
	var oldest sql.NullInt64
	if err := s.one(ctx, s.db, `SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL`, nil, &n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlite: outbox backlog: %w", err)
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, fromMicros(oldest.Int64), nil
}

// PruneOutbox deletes up to limit outbox messages sent before sentBefore.
func (s *Store) PruneOutbox(ctx context.Context, sentBefore time.Time, limit int) (int64, error) {
	res, err := s.exec(ctx, s.db, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ? ORDER BY sent_at LIMIT ?)`,
		micros(sentBefore), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune outbox: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune outbox: %w", err)
	}
	return n, nil
}

// AddJobCounts adds each queue's outcomes to its totals, in one transaction.
func (s *Store) AddJobCounts(ctx context.Context, add map[string]lab.JobCounts) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for q, c := range add {
			if _, err := s.exec(ctx, tx, `INSERT INTO job_counts (queue, done, failed, dead, duplicates) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (queue) DO UPDATE SET done = done + excluded.done, failed = failed + excluded.failed,
				dead = dead + excluded.dead, duplicates = duplicates + excluded.duplicates`,
				q, c.Done, c.Failed, c.Dead, c.Duplicates); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: add job counts: %w", err)
	}
	return nil
}

// JobCounts returns each queue's totals.
func (s *Store) JobCounts(ctx context.Context) (map[string]lab.JobCounts, error) {
	out := map[string]lab.JobCounts{}
	err := s.rows(ctx, s.db, `SELECT queue, done, failed, dead, duplicates FROM job_counts`, nil, func(r *sql.Rows) error {
		var q string
		var c lab.JobCounts
		if err := r.Scan(&q, &c.Done, &c.Failed, &c.Dead, &c.Duplicates); err != nil {
			return err
		}
		out[q] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: job counts: %w", err)
	}
	return out, nil
}

// GetVideo returns one video with its finished stages.
func (s *Store) GetVideo(ctx context.Context, id int64) (lab.Video, error) {
	v := lab.Video{ID: id}
	var at int64
	err := s.one(ctx, s.db, `SELECT owner_id, title, size_bytes, status, checksum, created_at FROM videos WHERE id = ?`, []any{id},
		&v.OwnerID, &v.Title, &v.SizeBytes, &v.Status, &v.Checksum, &at)
	if err == nil {
		v.CreatedAt = fromMicros(at)
		err = s.rows(ctx, s.db, `SELECT stage, result FROM video_stages WHERE video_id = ?`, []any{id}, func(r *sql.Rows) error {
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
		return v, fmt.Errorf("sqlite: get video %d: %w", id, err)
	}
	return v, nil
}

// RecordVideoStage stores a stage's result and returns the stages done.
func (s *Store) RecordVideoStage(ctx context.Context, videoID int64, stage, result string) ([]string, error) {
	var done []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO video_stages (video_id, stage, result, done_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (video_id, stage) DO UPDATE SET result = excluded.result, done_at = excluded.done_at`,
			videoID, stage, result, micros(now())); err != nil {
			return err
		}
		return s.rows(ctx, tx, `SELECT stage FROM video_stages WHERE video_id = ?`, []any{videoID}, func(r *sql.Rows) error {
			var st string
			done = append(done, st)
			return r.Scan(&done[len(done)-1])
		})
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: record video %d stage %s: %w", videoID, stage, err)
	}
	sort.Strings(done)
	return done, nil
}

// The rows of an account, in the order a deletion removes them: comments on the user's posts and
// the user's comments before the posts (so deleting a post cascades to nothing), the small tables,
// and the user last. Each condition takes the user id once.
var deletionSteps = []struct{ table, cond string }{
	{"comments", "post_id IN (SELECT id FROM posts WHERE author_id = ?)"},
	{"comments", "author_id = ?"},
	{"posts", "author_id = ?"},
	{"invites", "inviter_id = ?"},
	{"videos", "owner_id = ?"},
	{"orders", "user_id = ?"},
	{"users", "id = ?"},
}

const deletionCols = `id, user_id, status, total_rows, deleted_rows, chunks, created_at, updated_at`

func (s *Store) getDeletion(ctx context.Context, q querier, id int64) (lab.Deletion, error) {
	var d lab.Deletion
	var c, u int64
	err := s.one(ctx, q, `SELECT `+deletionCols+` FROM deletions WHERE id = ?`, []any{id},
		&d.ID, &d.UserID, &d.Status, &d.Total, &d.Deleted, &d.Chunks, &c, &u)
	d.CreatedAt, d.UpdatedAt = fromMicros(c), fromMicros(u)
	return d, err
}

// CreateDeletion records a running deletion of a user's account and its jobs' outbox messages.
func (s *Store) CreateDeletion(ctx context.Context, userID int64, jobs ...lab.Job) (lab.Deletion, error) {
	d := lab.Deletion{UserID: userID, Status: lab.DeletionRunning, CreatedAt: now()}
	d.UpdatedAt = d.CreatedAt
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var n int64
		if err := s.one(ctx, tx, `SELECT COUNT(*) FROM users WHERE id = ?`, []any{userID}, &n); err != nil {
			return err
		}
		if n == 0 {
			return lab.ErrNotFound
		}
		d.Total = 1 // the user's row
		for _, st := range deletionSteps[2:6] {
			if err := s.one(ctx, tx, `SELECT COUNT(*) FROM `+st.table+` WHERE `+st.cond, []any{userID}, &n); err != nil {
				return err
			}
			d.Total += n
		}
		if err := s.one(ctx, tx, `SELECT COUNT(*) FROM comments WHERE author_id = ? OR post_id IN (SELECT id FROM posts WHERE author_id = ?)`,
			[]any{userID, userID}, &n); err != nil {
			return err
		}
		d.Total += n
		if err := s.one(ctx, tx, `INSERT INTO deletions (user_id, status, total_rows, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			[]any{userID, d.Status, d.Total, micros(d.CreatedAt), micros(d.UpdatedAt)}, &d.ID); err != nil {
			return err
		}
		return s.writeOutbox(ctx, tx, d.ID, jobs)
	})
	if err != nil {
		return d, fmt.Errorf("sqlite: create deletion of user %d: %w", userID, err)
	}
	return d, nil
}

// GetDeletion returns one deletion.
func (s *Store) GetDeletion(ctx context.Context, id int64) (lab.Deletion, error) {
	d, err := s.getDeletion(ctx, s.db, id)
	if err != nil {
		return d, fmt.Errorf("sqlite: get deletion %d: %w", id, err)
	}
	return d, nil
}

// DeleteChunk deletes up to limit rows of a running deletion and records the progress.
func (s *Store) DeleteChunk(ctx context.Context, id int64, limit int) (lab.Deletion, error) {
	var d lab.Deletion
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		if d, err = s.getDeletion(ctx, tx, id); err != nil || d.Status != lab.DeletionRunning {
			return err
		}
		var n int64
		for _, st := range deletionSteps {
			res, err := s.exec(ctx, tx, `DELETE FROM `+st.table+` WHERE id IN (SELECT id FROM `+st.table+` WHERE `+st.cond+` LIMIT ?)`, d.UserID, limit)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil {
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
		_, err = s.exec(ctx, tx, `UPDATE deletions SET status = ?, deleted_rows = ?, chunks = ?, updated_at = ? WHERE id = ?`,
			d.Status, d.Deleted, d.Chunks, micros(d.UpdatedAt), id)
		return err
	})
	if err != nil {
		return d, fmt.Errorf("sqlite: delete chunk of deletion %d: %w", id, err)
	}
	return d, nil
}

// CancelDeletion stops a running deletion.
func (s *Store) CancelDeletion(ctx context.Context, id int64) (lab.Deletion, error) {
	var d lab.Deletion
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		if _, err = s.exec(ctx, tx, `UPDATE deletions SET status = ?, updated_at = ? WHERE id = ? AND status = ?`,
			lab.DeletionCanceled, micros(now()), id, lab.DeletionRunning); err != nil {
			return err
		}
		d, err = s.getDeletion(ctx, tx, id)
		return err
	})
	if err != nil {
		return d, fmt.Errorf("sqlite: cancel deletion %d: %w", id, err)
	}
	return d, nil
}
