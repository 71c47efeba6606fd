package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/internal/dbtrace"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures [Open].
type Config struct {
	// URL is the connection string, e.g. postgres://127.0.0.1:5432/test?sslmode=disable. Required.
	URL string
	// Schema, if set, is created when missing and used as the search_path, so that several labs
	// (or tests) can share one database. Default: the server's search_path.
	Schema string
	// MaxConns bounds the connection pool. Default: pgxpool's default (max(4, number of CPUs)) or
	// pool_max_conns in URL.
	MaxConns int32
	// TracerProvider receives a client span per statement. Default: no spans.
	TracerProvider trace.TracerProvider
	// DialFunc, if set, opens every connection to the server (network "tcp" or "unix", addr as
	// resolved from URL) in place of pgx's own dial; TLS and the protocol run over what it returns.
	// The lab passes a netem.Dialer's, to put network distance in front of the server.
	// Default: pgx's dial.
	DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (c *Config) validate() error {
	if c.URL == "" {
		return errors.New("postgres: empty URL")
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("postgres: MaxConns %d: must be positive", c.MaxConns)
	}
	return nil
}

// Store is a [lab.Store] on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	tr   *dbtrace.Tracer
}

var _ lab.Store = (*Store)(nil)

// Open connects to the database, creates cfg.Schema if set, and applies pending migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse URL: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if cfg.DialFunc != nil {
		pc.ConnConfig.DialFunc = cfg.DialFunc
	}
	if cfg.Schema != "" {
		if err := createSchema(ctx, pc.ConnConfig.Copy(), cfg.Schema); err != nil {
			return nil, err
		}
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	tr := dbtrace.New(cfg.TracerProvider, "postgresql", pc.ConnConfig.Database)
	pc.ConnConfig.Tracer = queryTracer{tr}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, tr: tr}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func createSchema(ctx context.Context, cc *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: create schema %q: %w", schema, err)
	}
	return nil
}

// queryTracer turns pgx queries into client spans.
type queryTracer struct{ tr *dbtrace.Tracer }

type spanKey struct{}

func (q queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	ctx, span := q.tr.Start(ctx, data.SQL)
	return context.WithValue(ctx, spanKey{}, span)
}

func (q queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if span, ok := ctx.Value(spanKey{}).(trace.Span); ok {
		dbtrace.End(span, data.Err)
	}
}

type acquireKey struct{}

// minAcquireWait separates a wait for another request's connection from a hand-over of an idle
// one, which takes a few microseconds.
const minAcquireWait = 100 * time.Microsecond

// TraceAcquireStart notes when pgxpool starts waiting for a connection (pgxpool calls it because
// the connection tracer implements pgxpool.AcquireTracer), if the pool is at its maximum size:
// then the acquire cannot dial a new connection, and any wait is for another request's.
// Whether it waits is only known at the end: an idle connection seen now may go to one of the
// acquirers already queued, so the span is made then.
func (q queryTracer) TraceAcquireStart(ctx context.Context, pool *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	if st := pool.Stat(); st.TotalConns() < st.MaxConns() {
		return ctx
	}
	return context.WithValue(ctx, acquireKey{}, time.Now())
}

// TraceAcquireEnd makes the acquire a "pool.acquire" span if it waited.
func (q queryTracer) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, data pgxpool.TraceAcquireEndData) {
	start, ok := ctx.Value(acquireKey{}).(time.Time)
	if !ok {
		return
	}
	if end := time.Now(); end.Sub(start) >= minAcquireWait || data.Err != nil {
		_, span := q.tr.StartAcquire(ctx, trace.WithTimestamp(start))
		dbtrace.End(span, data.Err, trace.WithTimestamp(end))
	}
}

var _ pgxpool.AcquireTracer = queryTracer{}

func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("postgres: list migrations: %w", err)
	}
	sort.Strings(names)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin migrations: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Serialize concurrent migrators of the same schema.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema()))`); err != nil {
		return fmt.Errorf("postgres: lock migrations: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY)`); err != nil {
		return fmt.Errorf("postgres: create schema_migrations: %w", err)
	}
	for _, name := range names {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, name).Scan(&n); err != nil {
			return fmt.Errorf("postgres: check migration %s: %w", name, err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("postgres: read migration %s: %w", name, err)
		}
		// No arguments: pgx sends it with the simple protocol, which allows several statements.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("postgres: apply migration %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, name); err != nil {
			return fmt.Errorf("postgres: record migration %s: %w", name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit migrations: %w", err)
	}
	return nil
}

// Analyze refreshes the planner's statistics and merges the GIN index's pending list (after
// seeding, before autovacuum would): VACUUM (ANALYZE) on the lab's tables.
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE) users, posts, comments`); err != nil {
		return fmt.Errorf("postgres: analyze: %w", err)
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// PoolStats reports pgxpool's statistics.
func (s *Store) PoolStats() lab.PoolStats {
	st := s.pool.Stat()
	return lab.PoolStats{
		MaxOpen: int(st.MaxConns()), Open: int(st.TotalConns()), InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()),
		WaitCount: st.EmptyAcquireCount(), WaitDuration: st.EmptyAcquireWaitTime(),
	}
}

// querier is what the pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (s *Store) rows(ctx context.Context, q querier, query string, args []any, scan func(pgx.Rows) error) error {
	rs, err := q.Query(ctx, query, args...)
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

func (s *Store) one(ctx context.Context, q querier, query string, args []any, dest ...any) error {
	found := false
	err := s.rows(ctx, q, query, args, func(r pgx.Rows) error {
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

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) error {
	tag, err := q.Exec(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return lab.ErrNotFound
	}
	return nil
}

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", lab.ErrConflict, err)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: referenced row: %w", lab.ErrNotFound, err)
		}
	}
	return err
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.one(ctx, s.pool, `SELECT 1`, nil, &one); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Counts returns the number of users, posts and comments.
func (s *Store) Counts(ctx context.Context) (lab.Counts, error) {
	var c lab.Counts
	err := s.one(ctx, s.pool, `SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM posts), (SELECT COUNT(*) FROM comments)`,
		nil, &c.Users, &c.Posts, &c.Comments)
	if err != nil {
		return c, fmt.Errorf("postgres: counts: %w", err)
	}
	return c, nil
}

// InsertBatch writes b in one transaction with COPY, then moves the id sequences past the batch.
func (s *Store) InsertBatch(ctx context.Context, b lab.SeedBatch) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin batch: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	cp := func(table string, cols []string, n int, row func(i int) []any) error {
		if n == 0 {
			return nil
		}
		ctx, span := s.tr.Start(ctx, "COPY "+table+" ("+strings.Join(cols, ", ")+") FROM STDIN")
		_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil }))
		dbtrace.End(span, err)
		if err != nil {
			return fmt.Errorf("postgres: copy %s: %w", table, mapErr(err))
		}
		_, err = tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT MAX(id) FROM `+pgx.Identifier{table}.Sanitize()+`))`, table)
		if err != nil {
			return fmt.Errorf("postgres: advance %s ids: %w", table, err)
		}
		return nil
	}
	// A new row's version is 1 and its last change its creation.
	if err := cp("users", []string{"id", "name", "email", "created_at", "updated_at"}, len(b.Users), func(i int) []any {
		u := b.Users[i]
		return []any{u.ID, u.Name, u.Email, u.CreatedAt, u.CreatedAt}
	}); err != nil {
		return err
	}
	if err := cp("posts", []string{"id", "author_id", "title", "body", "created_at"}, len(b.Posts), func(i int) []any {
		p := b.Posts[i]
		return []any{p.ID, p.AuthorID, p.Title, p.Body, p.CreatedAt}
	}); err != nil {
		return err
	}
	if err := cp("comments", []string{"id", "post_id", "author_id", "body", "created_at"}, len(b.Comments), func(i int) []any {
		c := b.Comments[i]
		return []any{c.ID, c.PostID, c.AuthorID, c.Body, c.CreatedAt}
	}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit batch: %w", mapErr(err))
	}
	return nil
}

const userCols = `id, name, email, created_at, version, updated_at`

func scanUser(r pgx.Rows) (lab.User, error) {
	var u lab.User
	err := r.Scan(&u.ID, &u.Name, &u.Email, &u.CreatedAt, &u.Version, &u.UpdatedAt)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, err
}

// CreateUser adds a user.
func (s *Store) CreateUser(ctx context.Context, name, email string) (lab.User, error) {
	at := now()
	u := lab.User{Name: name, Email: email, CreatedAt: at, Version: 1, UpdatedAt: at}
	err := s.one(ctx, s.pool, `INSERT INTO users (name, email, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id`,
		[]any{name, email, at}, &u.ID)
	if err != nil {
		return u, fmt.Errorf("postgres: create user: %w", err)
	}
	return u, nil
}

// GetUser returns one user.
func (s *Store) GetUser(ctx context.Context, id int64) (lab.User, error) {
	us, err := s.users(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id)
	if err == nil && len(us) == 0 {
		err = lab.ErrNotFound
	}
	if err != nil {
		return lab.User{}, fmt.Errorf("postgres: get user %d: %w", id, err)
	}
	return us[0], nil
}

func (s *Store) users(ctx context.Context, query string, args ...any) ([]lab.User, error) {
	var out []lab.User
	err := s.rows(ctx, s.pool, query, args, func(r pgx.Rows) error {
		u, err := scanUser(r)
		out = append(out, u)
		return err
	})
	return out, err
}

// GetUsers returns the users with the given ids in one query.
func (s *Store) GetUsers(ctx context.Context, ids []int64) ([]lab.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	us, err := s.users(ctx, `SELECT `+userCols+` FROM users WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: get users: %w", err)
	}
	return us, nil
}

const postCols = `p.id, p.author_id, p.title, p.body, p.created_at`

func scanPost(r pgx.Rows, extra ...any) (lab.Post, error) {
	var p lab.Post
	err := r.Scan(append([]any{&p.ID, &p.AuthorID, &p.Title, &p.Body, &p.CreatedAt}, extra...)...)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, err
}

func (s *Store) posts(ctx context.Context, query string, args ...any) ([]lab.Post, error) {
	out := []lab.Post{}
	err := s.rows(ctx, s.pool, query, args, func(r pgx.Rows) error {
		p, err := scanPost(r)
		out = append(out, p)
		return err
	})
	return out, err
}

// CreatePost adds a post.
func (s *Store) CreatePost(ctx context.Context, authorID int64, title, body string) (lab.Post, error) {
	p := lab.Post{AuthorID: authorID, Title: title, Body: body, CreatedAt: now()}
	err := s.one(ctx, s.pool, `INSERT INTO posts (author_id, title, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		[]any{authorID, title, body, p.CreatedAt}, &p.ID)
	if err != nil {
		return p, fmt.Errorf("postgres: create post: %w", err)
	}
	return p, nil
}

// GetPost returns one post.
func (s *Store) GetPost(ctx context.Context, id int64) (lab.Post, error) {
	ps, err := s.posts(ctx, `SELECT `+postCols+` FROM posts p WHERE p.id = $1`, id)
	if err == nil && len(ps) == 0 {
		err = lab.ErrNotFound
	}
	if err != nil {
		return lab.Post{}, fmt.Errorf("postgres: get post %d: %w", id, err)
	}
	return ps[0], nil
}

// ListPosts returns the newest posts.
func (s *Store) ListPosts(ctx context.Context, limit int) ([]lab.Post, error) {
	ps, err := s.posts(ctx, `SELECT `+postCols+` FROM posts p ORDER BY p.created_at DESC, p.id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list posts: %w", err)
	}
	return ps, nil
}

// SearchPosts finds posts through the GIN tsvector index (whole words) or an ILIKE scan (substring).
func (s *Store) SearchPosts(ctx context.Context, q string, limit int, mode lab.SearchMode) ([]lab.Post, error) {
	var ps []lab.Post
	var err error
	switch mode {
	case lab.SearchScan:
		pat := "%" + escapeLike(q) + "%"
		ps, err = s.posts(ctx, `SELECT `+postCols+` FROM posts p WHERE p.title ILIKE $1 ESCAPE '\' OR p.body ILIKE $1 ESCAPE '\'
			ORDER BY p.id DESC LIMIT $2`, pat, limit)
	default:
		ps, err = s.posts(ctx, `SELECT `+postCols+` FROM posts p WHERE p.search @@ phraseto_tsquery('simple', $1)
			ORDER BY p.id DESC LIMIT $2`, q, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: search posts: %w", err)
	}
	return ps, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Feed returns the most-commented posts.
func (s *Store) Feed(ctx context.Context, limit int) ([]lab.FeedItem, error) {
	out := []lab.FeedItem{}
	err := s.rows(ctx, s.pool, `SELECT `+postCols+`, COUNT(c.id) AS n FROM posts p LEFT JOIN comments c ON c.post_id = p.id
		GROUP BY p.id ORDER BY n DESC, p.id DESC LIMIT $1`, []any{limit}, func(r pgx.Rows) error {
		var it lab.FeedItem
		var err error
		it.Post, err = scanPost(r, &it.CommentCount)
		out = append(out, it)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: feed: %w", err)
	}
	return out, nil
}

// CreateComment adds a comment.
func (s *Store) CreateComment(ctx context.Context, postID, authorID int64, body string) (lab.Comment, error) {
	c := lab.Comment{PostID: postID, AuthorID: authorID, Body: body, CreatedAt: now()}
	err := s.one(ctx, s.pool, `INSERT INTO comments (post_id, author_id, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		[]any{postID, authorID, body, c.CreatedAt}, &c.ID)
	if err != nil {
		return c, fmt.Errorf("postgres: create comment: %w", err)
	}
	return c, nil
}

// ListComments returns a post's comments, oldest first.
func (s *Store) ListComments(ctx context.Context, postID int64, limit int) ([]lab.Comment, error) {
	out := []lab.Comment{}
	err := s.rows(ctx, s.pool, `SELECT id, post_id, author_id, body, created_at FROM comments WHERE post_id = $1 ORDER BY id LIMIT $2`,
		[]any{postID, limit}, func(r pgx.Rows) error {
			var c lab.Comment
			err := r.Scan(&c.ID, &c.PostID, &c.AuthorID, &c.Body, &c.CreatedAt)
			c.CreatedAt = c.CreatedAt.UTC()
			out = append(out, c)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("postgres: list comments: %w", err)
	}
	return out, nil
}

// CreateInvite records an invitation and its jobs' outbox messages in one transaction.
func (s *Store) CreateInvite(ctx context.Context, inviterID int64, email, token string, jobs ...lab.Job) (lab.Invite, error) {
	in := lab.Invite{InviterID: inviterID, Email: email, Token: token, CreatedAt: now()}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := s.one(ctx, tx, `INSERT INTO invites (inviter_id, email, token, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			[]any{inviterID, email, token, in.CreatedAt}, &in.ID); err != nil {
			return err
		}
		return s.writeOutbox(ctx, tx, in.ID, jobs)
	})
	if err != nil {
		return in, fmt.Errorf("postgres: create invite: %w", err)
	}
	return in, nil
}

// GetInvite returns one invitation.
func (s *Store) GetInvite(ctx context.Context, id int64) (lab.Invite, error) {
	in := lab.Invite{ID: id}
	err := s.one(ctx, s.pool, `SELECT inviter_id, email, token, created_at, sent_at FROM invites WHERE id = $1`, []any{id},
		&in.InviterID, &in.Email, &in.Token, &in.CreatedAt, &in.SentAt)
	if err != nil {
		return in, fmt.Errorf("postgres: get invite %d: %w", id, err)
	}
	in.CreatedAt = in.CreatedAt.UTC()
	if in.SentAt != nil {
		t := in.SentAt.UTC()
		in.SentAt = &t
	}
	return in, nil
}

// MarkInviteSent records when the invitation was sent.
func (s *Store) MarkInviteSent(ctx context.Context, id int64, at time.Time) error {
	if err := s.exec(ctx, s.pool, `UPDATE invites SET sent_at = $1 WHERE id = $2`, at.UTC(), id); err != nil {
		return fmt.Errorf("postgres: mark invite %d sent: %w", id, err)
	}
	return nil
}

// CreateVideo records a video being processed and its jobs' outbox messages in one transaction.
func (s *Store) CreateVideo(ctx context.Context, ownerID int64, title string, sizeBytes int64, jobs ...lab.Job) (lab.Video, error) {
	v := lab.Video{OwnerID: ownerID, Title: title, SizeBytes: sizeBytes, Status: lab.VideoProcessing, CreatedAt: now()}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := s.one(ctx, tx, `INSERT INTO videos (owner_id, title, size_bytes, status, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			[]any{ownerID, title, sizeBytes, v.Status, v.CreatedAt}, &v.ID); err != nil {
			return err
		}
		return s.writeOutbox(ctx, tx, v.ID, jobs)
	})
	if err != nil {
		return v, fmt.Errorf("postgres: create video: %w", err)
	}
	return v, nil
}

// FinishVideo marks a video ready.
func (s *Store) FinishVideo(ctx context.Context, id int64, checksum string) (lab.Video, error) {
	var v lab.Video
	err := s.one(ctx, s.pool, `UPDATE videos SET status = $1, checksum = $2 WHERE id = $3
		RETURNING id, owner_id, title, size_bytes, status, checksum, created_at`,
		[]any{lab.VideoReady, checksum, id}, &v.ID, &v.OwnerID, &v.Title, &v.SizeBytes, &v.Status, &v.Checksum, &v.CreatedAt)
	v.CreatedAt = v.CreatedAt.UTC()
	if err != nil {
		return v, fmt.Errorf("postgres: finish video %d: %w", id, err)
	}
	return v, nil
}

// CreateOrder records a pending order.
func (s *Store) CreateOrder(ctx context.Context, userID, amountCents int64) (lab.Order, error) {
	o := lab.Order{UserID: userID, AmountCents: amountCents, Status: lab.OrderPending, CreatedAt: now()}
	err := s.one(ctx, s.pool, `INSERT INTO orders (user_id, amount_cents, status, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		[]any{userID, amountCents, o.Status, o.CreatedAt}, &o.ID)
	if err != nil {
		return o, fmt.Errorf("postgres: create order: %w", err)
	}
	return o, nil
}

// SettleOrder sets an order's final status.
func (s *Store) SettleOrder(ctx context.Context, id int64, status, paymentRef string) (lab.Order, error) {
	var o lab.Order
	err := s.one(ctx, s.pool, `UPDATE orders SET status = $1, payment_ref = $2 WHERE id = $3
		RETURNING id, user_id, amount_cents, status, payment_ref, created_at`,
		[]any{status, paymentRef, id}, &o.ID, &o.UserID, &o.AmountCents, &o.Status, &o.PaymentRef, &o.CreatedAt)
	o.CreatedAt = o.CreatedAt.UTC()
	if err != nil {
		return o, fmt.Errorf("postgres: settle order %d: %w", id, err)
	}
	return o, nil
}

// PendingOrders returns pending orders created before createdBefore, oldest first.
func (s *Store) PendingOrders(ctx context.Context, createdBefore time.Time, limit int) ([]lab.Order, error) {
	var out []lab.Order
	err := s.rows(ctx, s.pool, `SELECT id, user_id, amount_cents, status, payment_ref, created_at FROM orders
		WHERE status = $1 AND created_at < $2 ORDER BY created_at, id LIMIT $3`,
		[]any{lab.OrderPending, createdBefore, limit}, func(r pgx.Rows) error {
			var o lab.Order
			if err := r.Scan(&o.ID, &o.UserID, &o.AmountCents, &o.Status, &o.PaymentRef, &o.CreatedAt); err != nil {
				return err
			}
			o.CreatedAt = o.CreatedAt.UTC()
			out = append(out, o)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("postgres: pending orders: %w", err)
	}
	return out, nil
}

// DeleteUser removes a user and everything that belongs to them.
func (s *Store) DeleteUser(ctx context.Context, id int64) (lab.Deleted, error) {
	var d lab.Deleted
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return d, fmt.Errorf("postgres: begin delete user %d: %w", id, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	err = s.one(ctx, tx, `SELECT (SELECT COUNT(*) FROM posts WHERE author_id = $1),
		(SELECT COUNT(*) FROM comments WHERE author_id = $1 OR post_id IN (SELECT id FROM posts WHERE author_id = $1))`,
		[]any{id}, &d.Posts, &d.Comments)
	if err != nil {
		return d, fmt.Errorf("postgres: count user %d rows: %w", id, err)
	}
	if err := s.exec(ctx, tx, `DELETE FROM users WHERE id = $1`, id); err != nil {
		return d, fmt.Errorf("postgres: delete user %d: %w", id, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return d, fmt.Errorf("postgres: commit delete user %d: %w", id, err)
	}
	return d, nil
}
