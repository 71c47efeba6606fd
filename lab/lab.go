package lab

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned (possibly wrapped) by a [Store] when the requested row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned (possibly wrapped) by a [Store] when a write breaks a uniqueness rule
// (for example a second user with the same email).
var ErrConflict = errors.New("conflict")

// User is an account of the platform.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
	// Version counts the row's changes, from 1 at its creation: a copy of the row in another
	// service's database applies a change only if it is newer ([Store.ApplyUser]).
	Version int64 `json:"version"`
	// UpdatedAt is when the row last changed (its creation, at first): the start of a change's
	// replication lag.
	UpdatedAt time.Time `json:"updated_at"`
}

// Post is an article written by a user.
type Post struct {
	ID        int64     `json:"id"`
	AuthorID  int64     `json:"author_id"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// Comment is a user's reply to a post.
type Comment struct {
	ID        int64     `json:"id"`
	PostID    int64     `json:"post_id"`
	AuthorID  int64     `json:"author_id"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// FeedItem is a post of the trending feed with its number of comments.
type FeedItem struct {
	Post
	CommentCount int64 `json:"comment_count"`
}

// Invite is an invitation a user sent to an email address.
type Invite struct {
	ID        int64      `json:"id"`
	InviterID int64      `json:"inviter_id"`
	Email     string     `json:"email"`
	Token     string     `json:"token"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

// Video states.
const (
	VideoProcessing = "processing"
	VideoReady      = "ready"
)

// The stages of the asynchronous video pipeline: the first three run in parallel, finalize after
// all of them.
const (
	StageThumbnail = "thumbnail"
	StageEncode    = "encode"
	StageSubtitles = "subtitles"
)

// VideoStages are the stages that must all be done before a video is finalized.
var VideoStages = []string{StageThumbnail, StageEncode, StageSubtitles}

// Video is an uploaded video and the state of its processing.
type Video struct {
	ID        int64     `json:"id"`
	OwnerID   int64     `json:"owner_id"`
	Title     string    `json:"title"`
	SizeBytes int64     `json:"size_bytes"`
	Status    string    `json:"status"`
	Checksum  string    `json:"checksum,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Stages maps each finished pipeline stage to its result (a file name and a summary);
	// filled by [Store.GetVideo] only.
	Stages map[string]string `json:"stages,omitempty"`
}

// Order states.
const (
	OrderPending = "pending"
	OrderPaid    = "paid"
	OrderFailed  = "failed"
)

// Order is a checkout: an amount a user pays through the payment provider.
type Order struct {
	ID          int64     `json:"id"`
	UserID      int64     `json:"user_id"`
	AmountCents int64     `json:"amount_cents"`
	Status      string    `json:"status"`
	PaymentRef  string    `json:"payment_ref,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Deletion states.
const (
	DeletionRunning  = "running"
	DeletionDone     = "done"
	DeletionCanceled = "canceled"
)

// Deletion is an account deletion running in the background, in bounded chunks. Its progress is
// persisted with every chunk, so a worker that dies resumes where the last chunk ended.
type Deletion struct {
	ID     int64  `json:"id"`
	UserID int64  `json:"user_id"`
	Status string `json:"status"`
	// Total is the number of rows to delete, counted when the deletion was requested.
	Total int64 `json:"total_rows"`
	// Deleted is the number of rows deleted so far.
	Deleted   int64     `json:"deleted_rows"`
	Chunks    int64     `json:"chunks"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Session is a login: what a session token (its sid claim) names, and what the origin's session
// check looks up. A session is valid while it is neither expired nor revoked.
type Session struct {
	ID        string     `json:"id"` // chosen by the caller (lab/identity.NewSessionID)
	UserID    int64      `json:"user_id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"` // set by a logout
}

// Valid reports whether the session is usable at now: not revoked and now before ExpiresAt.
func (s Session) Valid(now time.Time) bool { return s.RevokedAt == nil && now.Before(s.ExpiresAt) }

// OutboxMessage is a job written to the transactional outbox in the same transaction as the row
// it is about. A relay publishes it to the queue (with its id, so the broker deduplicates a
// repeated publish) and then marks it sent.
type OutboxMessage struct {
	ID        int64             // assigned by the store
	Queue     string            // the queue to publish to
	Payload   []byte            // the job's data
	Headers   map[string]string // trace context and other metadata
	CreatedAt time.Time         // assigned by the store
}

// JobCounts are a queue's job outcomes, summed over the workers that report them.
type JobCounts struct {
	Done       int64 `json:"done"`       // finished, duplicates and canceled jobs included
	Failed     int64 `json:"failed"`     // runs that returned an error (retried or dead-lettered)
	Dead       int64 `json:"dead"`       // dead-lettered
	Duplicates int64 `json:"duplicates"` // redeliveries absorbed by idempotency
}

// Job builds the outbox message of a row being written, once the row's id is known (it is called
// inside the row's transaction).
type Job func(rowID int64) OutboxMessage

// UserJob builds the outbox message of a user being written, from the row as written (it is
// called inside the row's transaction, so the message carries exactly what commits).
type UserJob func(u User) OutboxMessage

// Counts is the number of rows of the main tables.
type Counts struct {
	Users    int64 `json:"users"`
	Posts    int64 `json:"posts"`
	Comments int64 `json:"comments"`
}

// Deleted reports what deleting an account removed.
type Deleted struct {
	Posts    int64 `json:"posts"`
	Comments int64 `json:"comments"`
}

// SeedBatch is a set of rows with preassigned ids, written by [Store.InsertBatch] in one transaction.
// Rows must reference only users and posts of the same or an earlier batch.
type SeedBatch struct {
	Users    []User
	Posts    []Post
	Comments []Comment
}

// SearchMode selects how [Store.SearchPosts] finds matching posts.
type SearchMode int

const (
	// SearchIndexed uses the engine's full-text index (FTS5 on SQLite, a GIN tsvector index on
	// PostgreSQL): a whole-word match.
	SearchIndexed SearchMode = iota
	// SearchScan compares every post's title and body with a LIKE pattern (a full table scan):
	// a case-insensitive substring match.
	SearchScan
)

// PoolStats describes the store's connection pool, for USE metrics.
type PoolStats struct {
	MaxOpen      int           // maximum number of open connections
	Open         int           // connections currently open
	InUse        int           // connections currently in use
	Idle         int           // idle connections
	WaitCount    int64         // total number of waits for a connection
	WaitDuration time.Duration // total time spent waiting for a connection
}

// Store is the lab's storage. Implementations are safe for concurrent use; every method is bounded
// by its context. Lookups of a missing row return an error wrapping [ErrNotFound]; writes breaking a
// uniqueness rule return one wrapping [ErrConflict]. Every implementation passes
// lab/store/storetest.Exercise.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Counts returns the number of users, posts and comments.
	Counts(ctx context.Context) (Counts, error)
	// InsertBatch writes preassigned rows in one transaction (used by the seeder).
	InsertBatch(ctx context.Context, b SeedBatch) error

	// CreateUser adds a user; the id and creation time are assigned by the store.
	CreateUser(ctx context.Context, name, email string) (User, error)
	// GetUser returns one user.
	GetUser(ctx context.Context, id int64) (User, error)
	// GetUsers returns the users with the given ids in one query, in no particular order; unknown
	// ids are skipped.
	GetUsers(ctx context.Context, ids []int64) ([]User, error)
	// RenameUser changes a user's name, increments its version and sets its UpdatedAt, and
	// writes the outbox messages of jobs (built from the row as written) in the same
	// transaction. An unknown user is [ErrNotFound].
	RenameUser(ctx context.Context, id int64, name string, jobs ...UserJob) (User, error)
	// ApplyUser writes u, a user as its owner wrote it (a replicated change), into this
	// database's copy of the users: inserted if missing, replaced if u.Version is greater than
	// the copy's, left alone otherwise, so that a repeated or reordered change never rolls a
	// newer one back. applied reports whether the row changed. u.ID and u.Version must be
	// positive.
	ApplyUser(ctx context.Context, u User) (applied bool, err error)

	// CreatePost adds a post.
	CreatePost(ctx context.Context, authorID int64, title, body string) (Post, error)
	// GetPost returns one post.
	GetPost(ctx context.Context, id int64) (Post, error)
	// ListPosts returns the newest posts first (ties broken by higher id), at most limit.
	ListPosts(ctx context.Context, limit int) ([]Post, error)
	// SearchPosts returns posts matching q, newest id first, at most limit.
	SearchPosts(ctx context.Context, q string, limit int, mode SearchMode) ([]Post, error)
	// Feed returns the posts with the most comments (ties broken by higher id), at most limit. It
	// aggregates over all comments: deliberately the expensive query a cache should protect.
	Feed(ctx context.Context, limit int) ([]FeedItem, error)

	// CreateComment adds a comment to a post.
	CreateComment(ctx context.Context, postID, authorID int64, body string) (Comment, error)
	// ListComments returns a post's comments, oldest first, at most limit.
	ListComments(ctx context.Context, postID int64, limit int) ([]Comment, error)

	// CreateInvite records an invitation from inviterID to email with a unique token, and the
	// outbox messages of jobs in the same transaction.
	CreateInvite(ctx context.Context, inviterID int64, email, token string, jobs ...Job) (Invite, error)
	// GetInvite returns one invitation.
	GetInvite(ctx context.Context, id int64) (Invite, error)
	// MarkInviteSent records when the invitation email was sent.
	MarkInviteSent(ctx context.Context, id int64, at time.Time) error

	// CreateVideo records a video in state [VideoProcessing], and the outbox messages of jobs in
	// the same transaction.
	CreateVideo(ctx context.Context, ownerID int64, title string, sizeBytes int64, jobs ...Job) (Video, error)
	// GetVideo returns one video with its finished stages.
	GetVideo(ctx context.Context, id int64) (Video, error)
	// RecordVideoStage stores a stage's result (again, if it ran twice) and returns the stages
	// done so far, sorted.
	RecordVideoStage(ctx context.Context, videoID int64, stage, result string) ([]string, error)
	// FinishVideo marks a video [VideoReady] with the checksum of its processed content.
	FinishVideo(ctx context.Context, id int64, checksum string) (Video, error)

	// CreateOrder records an order in state [OrderPending].
	CreateOrder(ctx context.Context, userID, amountCents int64) (Order, error)
	// SettleOrder sets an order's final status and payment reference.
	SettleOrder(ctx context.Context, id int64, status, paymentRef string) (Order, error)
	// PendingOrders returns up to limit orders still [OrderPending] that were created before
	// createdBefore, oldest first: the checkouts a crash interrupted between the order row and
	// the payment's result, for a recovery pass.
	PendingOrders(ctx context.Context, createdBefore time.Time, limit int) ([]Order, error)

	// PostsByAuthor returns an author's newest posts first, at most limit.
	PostsByAuthor(ctx context.Context, authorID int64, limit int) ([]Post, error)
	// OrdersByUser returns a user's newest orders first, at most limit.
	OrdersByUser(ctx context.Context, userID int64, limit int) ([]Order, error)
	// InvitesByInviter returns the invitations a user sent, newest first, at most limit.
	InvitesByInviter(ctx context.Context, inviterID int64, limit int) ([]Invite, error)

	// DeleteUser removes a user and everything that belongs to them (posts, comments, comments on
	// their posts, invites, videos, orders) in one transaction.
	DeleteUser(ctx context.Context, id int64) (Deleted, error)

	// CreateDeletion records a [DeletionRunning] deletion of the user's account (counting the rows
	// to delete), and the outbox messages of jobs in the same transaction. An unknown user is
	// [ErrNotFound].
	CreateDeletion(ctx context.Context, userID int64, jobs ...Job) (Deletion, error)
	// GetDeletion returns one deletion.
	GetDeletion(ctx context.Context, id int64) (Deletion, error)
	// DeleteChunk deletes up to limit rows of a running deletion's account in one short
	// transaction that also records the progress; the user's own row goes last, and the
	// deletion is then [DeletionDone]. A deletion that is not running is returned unchanged.
	DeleteChunk(ctx context.Context, id int64, limit int) (Deletion, error)
	// CancelDeletion stops a running deletion ([DeletionCanceled]); what is deleted stays deleted.
	// A deletion that is no longer running is returned unchanged.
	CancelDeletion(ctx context.Context, id int64) (Deletion, error)

	// CreateSession records a login session of a user, valid until expiresAt; the creation time
	// is assigned by the store. An unknown user is [ErrNotFound], an id already used [ErrConflict].
	CreateSession(ctx context.Context, id string, userID int64, expiresAt time.Time) (Session, error)
	// GetSession returns one session, revoked or expired ones included: one lookup by primary
	// key, the cost of the origin's session check.
	GetSession(ctx context.Context, id string) (Session, error)
	// RevokeSession marks a session revoked now and returns it; a session already revoked keeps
	// its first revocation time. Sessions go with their user ([Store.DeleteUser]).
	RevokeSession(ctx context.Context, id string) (Session, error)

	// PendingOutbox returns up to limit outbox messages not yet marked sent, oldest first.
	PendingOutbox(ctx context.Context, limit int) ([]OutboxMessage, error)
	// MarkOutboxSent marks outbox messages sent; unknown or already sent ids are ignored.
	MarkOutboxSent(ctx context.Context, ids []int64) error
	// OutboxBacklog returns the number of unsent outbox messages and when the oldest was written
	// (zero when none).
	OutboxBacklog(ctx context.Context) (int64, time.Time, error)
	// PruneOutbox deletes up to limit outbox messages sent before sentBefore and returns how
	// many it deleted. Unsent messages are never deleted.
	PruneOutbox(ctx context.Context, sentBefore time.Time, limit int) (int64, error)

	// AddJobCounts adds each queue's job outcomes to its totals: every worker process adds its
	// own, so the totals are the lab's whatever the number of workers.
	AddJobCounts(ctx context.Context, add map[string]JobCounts) error
	// JobCounts returns each queue's totals since the database was created.
	JobCounts(ctx context.Context) (map[string]JobCounts, error)

	// PoolStats reports the connection pool's state.
	PoolStats() PoolStats
	// Close releases the store's connections.
	Close() error
}
