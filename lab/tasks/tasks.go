package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/faas/functions"
	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/worker"
)

// The lab's queues.
const (
	QueueEmail     = "email"
	QueueThumbnail = "video.thumbnail"
	QueueEncode    = "video.encode"
	QueueSubtitles = "video.subtitles"
	QueueFinalize  = "video.finalize"
	QueueDelete    = "account.delete"
)

// Queues lists the lab's queues in a stable order. [Register] puts handlers on all but
// [QueueUsersChanged], whose handler [RegisterReplica] puts where a copy of the users is kept.
var Queues = []string{QueueEmail, QueueThumbnail, QueueEncode, QueueSubtitles, QueueFinalize, QueueDelete, QueueUsersChanged}

// stageQueue maps each parallel video stage to its queue.
var stageQueue = map[string]string{lab.StageThumbnail: QueueThumbnail, lab.StageEncode: QueueEncode, lab.StageSubtitles: QueueSubtitles}

// The payloads. They carry ids only: the rows are the truth, and a job about a deleted row is a
// permanent failure rather than stale data acted on.
type (
	emailPayload struct {
		InviteID int64 `json:"invite_id"`
	}
	videoPayload struct {
		VideoID int64 `json:"video_id"`
	}
	deletionPayload struct {
		DeletionID int64 `json:"deletion_id"`
	}
)

func job(queue string, headers map[string]string, payload func(id int64) any) lab.Job {
	return func(id int64) lab.OutboxMessage {
		b, _ := json.Marshal(payload(id)) // structs of ints always marshal
		return lab.OutboxMessage{Queue: queue, Payload: b, Headers: headers}
	}
}

// EmailJob is the outbox job of a new invite: send its email. headers carry the trace context.
func EmailJob(headers map[string]string) lab.Job {
	return job(QueueEmail, headers, func(id int64) any { return emailPayload{InviteID: id} })
}

// VideoJobs are the outbox jobs of a new video: its three parallel stages.
func VideoJobs(headers map[string]string) []lab.Job {
	out := make([]lab.Job, 0, len(lab.VideoStages))
	for _, st := range lab.VideoStages {
		j, _ := JobFor(stageQueue[st], headers) // a stage's queue is always known
		out = append(out, j)
	}
	return out
}

// DeletionJob is the outbox job of a new account deletion.
func DeletionJob(headers map[string]string) lab.Job {
	return job(QueueDelete, headers, func(id int64) any { return deletionPayload{DeletionID: id} })
}

// JobFor is the job of queue with headers, the way EmailJob, VideoJobs and DeletionJob make it. A
// job crosses the wire of the services mode as its queue and headers (its payload only holds the
// id of a row the receiving service writes), and the receiving service rebuilds it here.
func JobFor(queue string, headers map[string]string) (lab.Job, error) {
	switch queue {
	case QueueEmail:
		return EmailJob(headers), nil
	case QueueThumbnail, QueueEncode, QueueSubtitles:
		return job(queue, headers, func(id int64) any { return videoPayload{VideoID: id} }), nil
	case QueueDelete:
		return DeletionJob(headers), nil
	}
	return nil, fmt.Errorf("job queue %q: want one of %s, %s, %s, %s, %s", queue, QueueEmail, QueueThumbnail, QueueEncode, QueueSubtitles, QueueDelete)
}

// InviteEmail is the subject and body of an invite's email (the same sent inside the request
// under sync_email and by the email job).
func InviteEmail(inv lab.Invite) (subject, body string) {
	return "You are invited", fmt.Sprintf("User %d invited you to the lab.\r\nAccept: https://lab.localhost/invites/%s\r\n", inv.InviterID, inv.Token)
}

// Mailer sends one email.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// Publisher enqueues a job directly (the finalize step, published by the last stage to finish;
// its fixed id makes two racing publishes one job).
type Publisher interface {
	Publish(ctx context.Context, m jobs.Message) error
}

// Store is the part of [lab.Store] the jobs use.
type Store interface {
	GetInvite(ctx context.Context, id int64) (lab.Invite, error)
	MarkInviteSent(ctx context.Context, id int64, at time.Time) error
	GetDeletion(ctx context.Context, id int64) (lab.Deletion, error)
	DeleteChunk(ctx context.Context, id int64, limit int) (lab.Deletion, error)
	GetVideo(ctx context.Context, id int64) (lab.Video, error)
	RecordVideoStage(ctx context.Context, videoID int64, stage, result string) ([]string, error)
	FinishVideo(ctx context.Context, id int64, checksum string) (lab.Video, error)
}

// DeleteChunkDefault is the default of [Config].DeleteChunk.
const DeleteChunkDefault = 500

// Config configures [Register]. Store, Mailer, Publisher and MediaDir are required.
type Config struct {
	// Store is the lab's database. Required.
	Store Store
	// Mailer sends invitation emails. Required.
	Mailer Mailer
	// Publisher enqueues the finalize step. Required.
	Publisher Publisher
	// MediaDir receives the pipeline's files (thumbnails, encoded videos, subtitles); created if
	// missing. Required.
	MediaDir string
	// Thumb scales a video's frame (a PNG) into its thumbnail (a PNG of at most 160×160). Default:
	// in this process (functions.Thumb); the lab with functions passes the thumbnail function's
	// invocation, the queue's message its trigger.
	Thumb func(ctx context.Context, framePNG []byte) ([]byte, error)
	// DeleteChunk is how many rows one deletion transaction removes. Default [DeleteChunkDefault].
	DeleteChunk int
	// EmailConcurrency is how many emails one worker sends at once. Default 16 (the mail server's
	// latency, not CPU, bounds them).
	EmailConcurrency int
	// VideoConcurrency is how many jobs of each video stage one worker runs at once. Default 2
	// (they use CPU).
	VideoConcurrency int
	// MaxAttempts and BackoffMin override the worker's defaults for every queue (tests shorten
	// them). Default: the worker's (5 attempts, 1s).
	MaxAttempts int
	BackoffMin  time.Duration
	// AckWait overrides the broker's ack deadline for every queue. Default: the worker's (30s).
	AckWait time.Duration
}

// Register puts the handlers of every lab queue on w.
func Register(w *worker.Worker, cfg Config) error {
	if cfg.Store == nil || cfg.Mailer == nil || cfg.Publisher == nil || cfg.MediaDir == "" {
		return errors.New("tasks: Store, Mailer, Publisher and MediaDir are required")
	}
	if cfg.DeleteChunk == 0 {
		cfg.DeleteChunk = DeleteChunkDefault
	}
	if cfg.Thumb == nil {
		cfg.Thumb = func(_ context.Context, frame []byte) ([]byte, error) { return functions.Thumb(frame) }
	}
	if cfg.EmailConcurrency == 0 {
		cfg.EmailConcurrency = 16
	}
	if cfg.VideoConcurrency == 0 {
		cfg.VideoConcurrency = 2
	}
	if cfg.DeleteChunk < 0 || cfg.EmailConcurrency < 0 || cfg.VideoConcurrency < 0 {
		return errors.New("tasks: DeleteChunk and concurrencies must be positive")
	}
	if err := os.MkdirAll(cfg.MediaDir, 0o755); err != nil {
		return fmt.Errorf("tasks: media directory: %w", err)
	}
	h := &handlers{cfg: cfg}
	qc := func(conc int, hf worker.Handler) worker.QueueConfig {
		return worker.QueueConfig{Handler: hf, Concurrency: conc, MaxAttempts: cfg.MaxAttempts, BackoffMin: cfg.BackoffMin, AckWait: cfg.AckWait}
	}
	del := qc(1, h.deleteAccount)
	del.Canceled = h.deletionCanceled
	for q, c := range map[string]worker.QueueConfig{
		QueueEmail:     qc(cfg.EmailConcurrency, h.email),
		QueueThumbnail: qc(cfg.VideoConcurrency, h.stage(lab.StageThumbnail, h.thumbnail)),
		QueueEncode:    qc(cfg.VideoConcurrency, h.stage(lab.StageEncode, encode)),
		QueueSubtitles: qc(cfg.VideoConcurrency, h.stage(lab.StageSubtitles, subtitles)),
		QueueFinalize:  qc(cfg.VideoConcurrency, h.finalize),
		QueueDelete:    del,
	} {
		if err := w.Handle(q, c); err != nil {
			return err
		}
	}
	return nil
}

type handlers struct{ cfg Config }

// missing turns "the row is gone" into a permanent failure: retrying cannot bring it back.
func missing(err error) error {
	if errors.Is(err, lab.ErrNotFound) {
		return worker.Permanent(err)
	}
	return err
}

func (h *handlers) email(ctx context.Context, j *worker.Job) error {
	var p emailPayload
	if err := worker.Decode(j, &p); err != nil {
		return err
	}
	inv, err := h.cfg.Store.GetInvite(ctx, p.InviteID)
	if err != nil {
		return missing(err)
	}
	if inv.SentAt != nil {
		// A redelivery (the worker died after sending, before acknowledging): sent once is enough.
		j.Duplicate()
		return nil
	}
	subject, body := InviteEmail(inv)
	if err := h.cfg.Mailer.Send(ctx, inv.Email, subject, body); err != nil {
		return fmt.Errorf("send invite %d: %w", inv.ID, err)
	}
	// Recorded even if the job's context ends now: the mail is out.
	return h.cfg.Store.MarkInviteSent(context.WithoutCancel(ctx), inv.ID, time.Now().UTC())
}

func (h *handlers) deletionCanceled(ctx context.Context, m jobs.Message) (bool, error) {
	var p deletionPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return false, fmt.Errorf("cancel check: %w", err) // the handler dead-letters the payload
	}
	d, err := h.cfg.Store.GetDeletion(ctx, p.DeletionID)
	return err == nil && d.Status == lab.DeletionCanceled, err
}

// deleteAccount deletes the account chunk by chunk. Each chunk commits its progress, so a
// redelivered job (the worker died) resumes with the rows that are left; a canceled deletion
// stops at the next chunk. After each chunk it pauses as long as the chunk took (as
// pt-archiver's --sleep-coef 1): short transactions alone do not let the API's writes in, since
// SQLite's waiting writers poll with growing sleeps and a deleter looping without a pause
// takes the lock again first; with the pause the deletion holds the database at most half the
// time.
func (h *handlers) deleteAccount(ctx context.Context, j *worker.Job) error {
	var p deletionPayload
	if err := worker.Decode(j, &p); err != nil {
		return err
	}
	for {
		start := time.Now()
		d, err := h.cfg.Store.DeleteChunk(ctx, p.DeletionID, h.cfg.DeleteChunk)
		if err != nil {
			return missing(err)
		}
		j.Progress(d.Deleted, d.Total)
		if d.Status != lab.DeletionRunning {
			return nil
		}
		pause := time.NewTimer(time.Since(start))
		select {
		case <-ctx.Done():
			pause.Stop()
			return context.Cause(ctx)
		case <-pause.C:
		}
	}
}
