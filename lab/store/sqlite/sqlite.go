package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/internal/dbtrace"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures [Open].
type Config struct {
	// Path is the database file; it is created if missing. Required.
	Path string
	// MaxOpenConns bounds the connection pool. Default 8.
	MaxOpenConns int
	// BusyTimeout is how long a statement waits for a lock held by another connection before
	// failing with SQLITE_BUSY. Default 5s.
	BusyTimeout time.Duration
	// TracerProvider receives a client span per statement. Default: no spans.
	TracerProvider trace.TracerProvider
	// RoundTripDelay emulates a database across a network: every statement, BEGIN, COMMIT and
	// ROLLBACK waits this long before it runs, inside its span (see dbtrace.Delay for what counts
	// as a round trip). Default 0: the bare embedded engine.
	RoundTripDelay time.Duration
}

func (c *Config) validate() error {
	if c.Path == "" {
		return errors.New("sqlite: empty database path")
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = 8
	}
	if c.MaxOpenConns < 0 {
		return fmt.Errorf("sqlite: MaxOpenConns %d: must be positive", c.MaxOpenConns)
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.BusyTimeout < 0 {
		return fmt.Errorf("sqlite: BusyTimeout %v: must be positive", c.BusyTimeout)
	}
	if c.RoundTripDelay < 0 {
		return fmt.Errorf("sqlite: RoundTripDelay %v: must be 0 (none) or more", c.RoundTripDelay)
	}
	return nil
}

// Store is a [lab.Store] on a SQLite file. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	tr *dbtrace.Tracer
}

var _ lab.Store = (*Store)(nil)

// Open opens (creating if needed) the database at cfg.Path and applies pending migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Statement journals and temporary indexes in memory, a 16 MiB page cache per connection.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "cache_size(-16384)")
	// Writers take the write lock when their transaction begins, so two transactions never deadlock
	// upgrading read locks; the busy timeout then queues them.
	q.Set("_txlock", "immediate")
	conn, err := sqlite.NewConnector("file:" + cfg.Path + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	db := sql.OpenDB(dbtrace.Delay(conn, cfg.RoundTripDelay))
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxOpenConns)
	s := &Store{db: db, tr: dbtrace.New(cfg.TracerProvider, "sqlite", "main")}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("sqlite: list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.apply(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, name string) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return fmt.Errorf("sqlite: read migration %s: %w", name, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin migration %s: %w", name, err)
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, name).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: check migration %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("sqlite: apply migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, name); err != nil {
		return fmt.Errorf("sqlite: record migration %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit migration %s: %w", name, err)
	}
	return nil
}

// Analyze refreshes the planner's statistics (after seeding).
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.exec(ctx, s.db, `ANALYZE`); err != nil {
		return fmt.Errorf("sqlite: analyze: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// PoolStats reports database/sql's pool statistics.
func (s *Store) PoolStats() lab.PoolStats {
	st := s.db.Stats()
	return lab.PoolStats{
		MaxOpen: st.MaxOpenConnections, Open: st.OpenConnections, InUse: st.InUse, Idle: st.Idle,
		WaitCount: st.WaitCount, WaitDuration: st.WaitDuration,
	}
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	ctx, span := s.tr.Start(ctx, query)
	res, err := q.ExecContext(ctx, query, args...)
	dbtrace.End(span, err)
	return res, mapErr(err)
}

// rows runs query and calls scan for each row, all inside one span.
func (s *Store) rows(ctx context.Context, q querier, query string, args []any, scan func(*sql.Rows) error) (err error) {
	ctx, span := s.tr.Start(ctx, query)
	defer func() { dbtrace.End(span, err) }()
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs); err != nil {
			return err
		}
	}
	return mapErr(rs.Err())
}

// one runs a query expected to return one row; no row is lab.ErrNotFound.
func (s *Store) one(ctx context.Context, q querier, query string, args []any, dest ...any) error {
	found := false
	err := s.rows(ctx, q, query, args, func(r *sql.Rows) error {
		found = true
		return r.Scan(dest...)
	})
	if err != nil {
		return err
	}
	if !found {
		return lab.ErrNotFound
	}
	return nil
}

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", lab.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: referenced row: %w", lab.ErrNotFound, err)
		}
	}
	return err
}

func micros(t time.Time) int64      { return t.UTC().UnixMicro() }
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
func now() time.Time                { return time.Now().UTC().Truncate(time.Microsecond) }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.one(ctx, s.db, `SELECT 1`, nil, &one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Counts returns the number of users, posts and comments.
func (s *Store) Counts(ctx context.Context) (lab.Counts, error) {
	var c lab.Counts
	err := s.one(ctx, s.db, `SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM posts), (SELECT COUNT(*) FROM comments)`,
		nil, &c.Users, &c.Posts, &c.Comments)
	if err != nil {
		return c, fmt.Errorf("sqlite: counts: %w", err)
	}
	return c, nil
}

// InsertBatch writes b in one transaction with prepared statements.
func (s *Store) InsertBatch(ctx context.Context, b lab.SeedBatch) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin batch: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Rows go in multi-row INSERTs of up to chunk rows: far fewer statement executions.
	const chunk = 100
	ins := func(head string, cols, n int, args func(i int) []any) error {
		if n == 0 {
			return nil
		}
		row := "(" + placeholders(cols) + ")"
		stmt := func(rows int) string {
			return head + " VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
		}
		ctx, span := s.tr.Start(ctx, stmt(min(n, chunk)))
		defer span.End()
		full, err := tx.PrepareContext(ctx, stmt(chunk))
		if err != nil {
			return err
		}
		defer full.Close()
		vals := make([]any, 0, chunk*cols)
		for lo := 0; lo < n; lo += chunk {
			hi := min(lo+chunk, n)
			vals = vals[:0]
			for i := lo; i < hi; i++ {
				vals = append(vals, args(i)...)
			}
			if hi-lo == chunk {
				_, err = full.ExecContext(ctx, vals...)
			} else {
				_, err = tx.ExecContext(ctx, stmt(hi-lo), vals...)
			}
			if err != nil {
				dbtrace.End(span, err)
				return mapErr(err)
			}
		}
		return nil
	}
	// A new row's version is 1 and its last change its creation.
	if err := ins(`INSERT INTO users (id, name, email, created_at, updated_at)`, 5, len(b.Users), func(i int) []any {
		u := b.Users[i]
		return []any{u.ID, u.Name, u.Email, micros(u.CreatedAt), micros(u.CreatedAt)}
	}); err != nil {
		return fmt.Errorf("sqlite: insert users: %w", err)
	}
	if err := ins(`INSERT INTO posts (id, author_id, title, body, created_at)`, 5, len(b.Posts), func(i int) []any {
		p := b.Posts[i]
		return []any{p.ID, p.AuthorID, p.Title, p.Body, micros(p.CreatedAt)}
	}); err != nil {
		return fmt.Errorf("sqlite: insert posts: %w", err)
	}
	if err := ins(`INSERT INTO comments (id, post_id, author_id, body, created_at)`, 5, len(b.Comments), func(i int) []any {
		c := b.Comments[i]
		return []any{c.ID, c.PostID, c.AuthorID, c.Body, micros(c.CreatedAt)}
	}); err != nil {
		return fmt.Errorf("sqlite: insert comments: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit batch: %w", err)
	}
	return nil
}

const userCols = `id, name, email, created_at, version, updated_at`

func scanUser(r *sql.Rows) (lab.User, error) {
	var u lab.User
	var created, updated int64
	err := r.Scan(&u.ID, &u.Name, &u.Email, &created, &u.Version, &updated)
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return u, err
}

// CreateUser adds a user.
func (s *Store) CreateUser(ctx context.Context, name, email string) (lab.User, error) {
	at := now()
	u := lab.User{Name: name, Email: email, CreatedAt: at, Version: 1, UpdatedAt: at}
	err := s.one(ctx, s.db, `INSERT INTO users (name, email, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id`,
		[]any{name, email, micros(at), micros(at)}, &u.ID)
	if err != nil {
		return u, fmt.Errorf("sqlite: create user: %w", err)
	}
	return u, nil
}

// GetUser returns one user.
func (s *Store) GetUser(ctx context.Context, id int64) (lab.User, error) {
	var u lab.User
	found := false
	err := s.rows(ctx, s.db, `SELECT `+userCols+` FROM users WHERE id = ?`, []any{id}, func(r *sql.Rows) (err error) {
		found = true
		u, err = scanUser(r)
		return err
	})
	if err == nil && !found {
		err = lab.ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("sqlite: get user %d: %w", id, err)
	}
	return u, nil
}

// GetUsers returns the users with the given ids in one query.
func (s *Store) GetUsers(ctx context.Context, ids []int64) ([]lab.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var out []lab.User
	query := `SELECT ` + userCols + ` FROM users WHERE id IN (` + placeholders(len(ids)) + `)`
	err := s.rows(ctx, s.db, query, args, func(r *sql.Rows) error {
		u, err := scanUser(r)
		out = append(out, u)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: get users: %w", err)
	}
	return out, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

const postCols = `p.id, p.author_id, p.title, p.body, p.created_at`

func scanPost(r *sql.Rows, extra ...any) (lab.Post, error) {
	var p lab.Post
	var at int64
	err := r.Scan(append([]any{&p.ID, &p.AuthorID, &p.Title, &p.Body, &at}, extra...)...)
	p.CreatedAt = fromMicros(at)
	return p, err
}

func (s *Store) posts(ctx context.Context, query string, args ...any) ([]lab.Post, error) {
	out := []lab.Post{}
	err := s.rows(ctx, s.db, query, args, func(r *sql.Rows) error {
		p, err := scanPost(r)
		out = append(out, p)
		return err
	})
	return out, err
}

// CreatePost adds a post.
func (s *Store) CreatePost(ctx context.Context, authorID int64, title, body string) (lab.Post, error) {
	p := lab.Post{AuthorID: authorID, Title: title, Body: body, CreatedAt: now()}
	err := s.one(ctx, s.db, `INSERT INTO posts (author_id, title, body, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		[]any{authorID, title, body, micros(p.CreatedAt)}, &p.ID)
	if err != nil {
		return p, fmt.Errorf("sqlite: create post: %w", err)
	}
	return p, nil
}

// GetPost returns one post.
func (s *Store) GetPost(ctx context.Context, id int64) (lab.Post, error) {
	ps, err := s.posts(ctx, `SELECT `+postCols+` FROM posts p WHERE p.id = ?`, id)
	if err == nil && len(ps) == 0 {
		err = lab.ErrNotFound
	}
	if err != nil {
		return lab.Post{}, fmt.Errorf("sqlite: get post %d: %w", id, err)
	}
	return ps[0], nil
}

// ListPosts returns the newest posts.
func (s *Store) ListPosts(ctx context.Context, limit int) ([]lab.Post, error) {
	ps, err := s.posts(ctx, `SELECT `+postCols+` FROM posts p ORDER BY p.created_at DESC, p.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list posts: %w", err)
	}
	return ps, nil
}

// SearchPosts finds posts by FTS5 (whole word) or by a LIKE scan (substring).
func (s *Store) SearchPosts(ctx context.Context, q string, limit int, mode lab.SearchMode) ([]lab.Post, error) {
	var ps []lab.Post
	var err error
	switch mode {
	case lab.SearchScan:
		pat := "%" + escapeLike(q) + "%"
		ps, err = s.posts(ctx, `SELECT `+postCols+` FROM posts p WHERE p.title LIKE ? ESCAPE '\' OR p.body LIKE ? ESCAPE '\' ORDER BY p.id DESC LIMIT ?`,
			pat, pat, limit)
	default:
		// Quoted as one FTS5 phrase: the user's text is data, never query syntax.
		phrase := `"` + strings.ReplaceAll(q, `"`, `""`) + `"`
		// FTS5 walks its doclist in rowid order, so ORDER BY rowid DESC LIMIT stops early
		// instead of collecting and sorting every match of a common word.
		ps, err = s.posts(ctx, `SELECT `+postCols+` FROM posts p WHERE p.id IN
			(SELECT rowid FROM posts_fts WHERE posts_fts MATCH ? ORDER BY rowid DESC LIMIT ?) ORDER BY p.id DESC`,
			phrase, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: search posts: %w", err)
	}
	return ps, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Feed returns the most-commented posts.
func (s *Store) Feed(ctx context.Context, limit int) ([]lab.FeedItem, error) {
	out := []lab.FeedItem{}
	err := s.rows(ctx, s.db, `SELECT `+postCols+`, COUNT(c.id) AS n FROM posts p LEFT JOIN comments c ON c.post_id = p.id
		GROUP BY p.id ORDER BY n DESC, p.id DESC LIMIT ?`, []any{limit}, func(r *sql.Rows) error {
		var it lab.FeedItem
		var err error
		it.Post, err = scanPost(r, &it.CommentCount)
		out = append(out, it)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: feed: %w", err)
	}
	return out, nil
}

// CreateComment adds a comment.
func (s *Store) CreateComment(ctx context.Context, postID, authorID int64, body string) (lab.Comment, error) {
	c := lab.Comment{PostID: postID, AuthorID: authorID, Body: body, CreatedAt: now()}
	err := s.one(ctx, s.db, `INSERT INTO comments (post_id, author_id, body, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		[]any{postID, authorID, body, micros(c.CreatedAt)}, &c.ID)
	if err != nil {
		return c, fmt.Errorf("sqlite: create comment: %w", err)
	}
	return c, nil
}

// ListComments returns a post's comments, oldest first.
func (s *Store) ListComments(ctx context.Context, postID int64, limit int) ([]lab.Comment, error) {
	out := []lab.Comment{}
	err := s.rows(ctx, s.db, `SELECT id, post_id, author_id, body, created_at FROM comments WHERE post_id = ? ORDER BY id LIMIT ?`,
		[]any{postID, limit}, func(r *sql.Rows) error {
			var c lab.Comment
			var at int64
			err := r.Scan(&c.ID, &c.PostID, &c.AuthorID, &c.Body, &at)
			c.CreatedAt = fromMicros(at)
			out = append(out, c)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list comments: %w", err)
	}
	return out, nil
}

// CreateInvite records an invitation and its jobs' outbox messages in one transaction.
func (s *Store) CreateInvite(ctx context.Context, inviterID int64, email, token string, jobs ...lab.Job) (lab.Invite, error) {
	in := lab.Invite{InviterID: inviterID, Email: email, Token: token, CreatedAt: now()}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.one(ctx, tx, `INSERT INTO invites (inviter_id, email, token, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			[]any{inviterID, email, token, micros(in.CreatedAt)}, &in.ID); err != nil {
			return err
		}
		return s.writeOutbox(ctx, tx, in.ID, jobs)
	})
	if err != nil {
		return in, fmt.Errorf("sqlite: create invite: %w", err)
	}
	return in, nil
}

// GetInvite returns one invitation.
func (s *Store) GetInvite(ctx context.Context, id int64) (lab.Invite, error) {
	in := lab.Invite{ID: id}
	var at int64
	var sent sql.NullInt64
	err := s.one(ctx, s.db, `SELECT inviter_id, email, token, created_at, sent_at FROM invites WHERE id = ?`, []any{id},
		&in.InviterID, &in.Email, &in.Token, &at, &sent)
	if err != nil {
		return in, fmt.Errorf("sqlite: get invite %d: %w", id, err)
	}
	in.CreatedAt = fromMicros(at)
	if sent.Valid {
		t := fromMicros(sent.Int64)
		in.SentAt = &t
	}
	return in, nil
}

// MarkInviteSent records when the invitation was sent.
func (s *Store) MarkInviteSent(ctx context.Context, id int64, at time.Time) error {
	res, err := s.exec(ctx, s.db, `UPDATE invites SET sent_at = ? WHERE id = ?`, micros(at), id)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("sqlite: mark invite %d sent: %w", id, err)
	}
	return nil
}

func affected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return lab.ErrNotFound
	}
	return nil
}

// CreateVideo records a video being processed and its jobs' outbox messages in one transaction.
func (s *Store) CreateVideo(ctx context.Context, ownerID int64, title string, sizeBytes int64, jobs ...lab.Job) (lab.Video, error) {
	v := lab.Video{OwnerID: ownerID, Title: title, SizeBytes: sizeBytes, Status: lab.VideoProcessing, CreatedAt: now()}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.one(ctx, tx, `INSERT INTO videos (owner_id, title, size_bytes, status, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			[]any{ownerID, title, sizeBytes, v.Status, micros(v.CreatedAt)}, &v.ID); err != nil {
			return err
		}
		return s.writeOutbox(ctx, tx, v.ID, jobs)
	})
	if err != nil {
		return v, fmt.Errorf("sqlite: create video: %w", err)
	}
	return v, nil
}

// FinishVideo marks a video ready.
func (s *Store) FinishVideo(ctx context.Context, id int64, checksum string) (lab.Video, error) {
	var v lab.Video
	var at int64
	err := s.one(ctx, s.db, `UPDATE videos SET status = ?, checksum = ? WHERE id = ?
		RETURNING id, owner_id, title, size_bytes, status, checksum, created_at`,
		[]any{lab.VideoReady, checksum, id}, &v.ID, &v.OwnerID, &v.Title, &v.SizeBytes, &v.Status, &v.Checksum, &at)
	v.CreatedAt = fromMicros(at)
	if err != nil {
		return v, fmt.Errorf("sqlite: finish video %d: %w", id, err)
	}
	return v, nil
}

// CreateOrder records a pending order.
func (s *Store) CreateOrder(ctx context.Context, userID, amountCents int64) (lab.Order, error) {
	o := lab.Order{UserID: userID, AmountCents: amountCents, Status: lab.OrderPending, CreatedAt: now()}
	err := s.one(ctx, s.db, `INSERT INTO orders (user_id, amount_cents, status, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		[]any{userID, amountCents, o.Status, micros(o.CreatedAt)}, &o.ID)
	if err != nil {
		return o, fmt.Errorf("sqlite: create order: %w", err)
	}
	return o, nil
}

// SettleOrder sets an order's final status.
func (s *Store) SettleOrder(ctx context.Context, id int64, status, paymentRef string) (lab.Order, error) {
	var o lab.Order
	var at int64
	err := s.one(ctx, s.db, `UPDATE orders SET status = ?, payment_ref = ? WHERE id = ?
		RETURNING id, user_id, amount_cents, status, payment_ref, created_at`,
		[]any{status, paymentRef, id}, &o.ID, &o.UserID, &o.AmountCents, &o.Status, &o.PaymentRef, &at)
	o.CreatedAt = fromMicros(at)
	if err != nil {
		return o, fmt.Errorf("sqlite: settle order %d: %w", id, err)
	}
	return o, nil
}

// PendingOrders returns pending orders created before createdBefore, oldest first.
func (s *Store) PendingOrders(ctx context.Context, createdBefore time.Time, limit int) ([]lab.Order, error) {
	var out []lab.Order
	err := s.rows(ctx, s.db, `SELECT id, user_id, amount_cents, status, payment_ref, created_at FROM orders
		WHERE status = ? AND created_at < ? ORDER BY created_at, id LIMIT ?`,
		[]any{lab.OrderPending, micros(createdBefore), limit}, func(r *sql.Rows) error {
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
		return nil, fmt.Errorf("sqlite: pending orders: %w", err)
	}
	return out, nil
}

// DeleteUser removes a user and everything that belongs to them.
func (s *Store) DeleteUser(ctx context.Context, id int64) (lab.Deleted, error) {
	var d lab.Deleted
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return d, fmt.Errorf("sqlite: begin delete user %d: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	err = s.one(ctx, tx, `SELECT (SELECT COUNT(*) FROM posts WHERE author_id = ?),
		(SELECT COUNT(*) FROM comments WHERE author_id = ? OR post_id IN (SELECT id FROM posts WHERE author_id = ?))`,
		[]any{id, id, id}, &d.Posts, &d.Comments)
	if err != nil {
		return d, fmt.Errorf("sqlite: count user %d rows: %w", id, err)
	}
	res, err := s.exec(ctx, tx, `DELETE FROM users WHERE id = ?`, id)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return d, fmt.Errorf("sqlite: delete user %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return d, fmt.Errorf("sqlite: commit delete user %d: %w", id, err)
	}
	return d, nil
}
