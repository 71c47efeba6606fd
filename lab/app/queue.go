package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/natsq"
	"github.com/headroom/headroom/lab/jobs/outbox"
	"github.com/headroom/headroom/lab/jobs/rabbitq"
	"github.com/headroom/headroom/lab/jobs/redisq"
	"github.com/headroom/headroom/lab/jobs/worker"
	"github.com/headroom/headroom/lab/tasks"
)

// QueueForms lists the valid queue values, for error messages.
const QueueForms = "nats (embedded JetStream), nats://host:port, redis://host:port/db, amqp://user:pass@host:port/"

// QueueEmbedded is the queue value of the embedded JetStream server.
const QueueEmbedded = "nats"

// QueueSchemes start the URLs of the external brokers a queue value may name.
var QueueSchemes = []string{"nats://", "redis://", "rediss://", "amqp://", "amqps://"}

// CheckQueue validates a queue value ("" means the embedded default).
func CheckQueue(q string) error {
	if q == "" || q == QueueEmbedded {
		return nil
	}
	switch {
	case !hasPrefix(q, QueueSchemes):
		return fmt.Errorf("queue %q: want %s", q, QueueForms)
	case len(q) == strings.Index(q, "://")+3:
		return fmt.Errorf("queue %q: missing host; want %s", q, QueueForms)
	}
	return nil
}

// openEngine connects to the queue broker q (see [CheckQueue]); dir is the embedded server's
// storage ("" for a temporary one removed on Close).
func openEngine(ctx context.Context, q, prefix, dir string) (jobs.Engine, string, error) {
	switch {
	case strings.HasPrefix(q, "redis"):
		e, err := redisq.New(ctx, redisq.Config{URL: q, Prefix: prefix})
		if err != nil {
			return nil, "", err
		}
		return e, "redis streams " + redactURL(q), nil
	case strings.HasPrefix(q, "amqp"):
		e, err := rabbitq.New(ctx, rabbitq.Config{URL: q, Prefix: prefix})
		if err != nil {
			return nil, "", err
		}
		return e, "rabbitmq quorum queues " + redactURL(q), nil
	case strings.HasPrefix(q, "nats://"):
		e, err := natsq.New(ctx, natsq.Config{URL: q, Prefix: prefix})
		if err != nil {
			return nil, "", err
		}
		return e, "nats jetstream " + redactURL(q), nil
	default:
		e, err := natsq.New(ctx, natsq.Config{StoreDir: dir, Prefix: prefix})
		if err != nil {
			return nil, "", err
		}
		where := "temporary storage"
		if dir != "" {
			where = dir
		}
		return e, fmt.Sprintf("nats jetstream embedded at %s (%s)", e.URL(), where), nil
	}
}

// engineURL is the broker URL workers in other processes use: the embedded server's own.
func engineURL(e jobs.Engine, q string) string {
	if n, ok := e.(*natsq.Engine); ok {
		return n.URL()
	}
	return q
}

// JobsView is the body of GET /admin/jobs (`headroom lab jobs` decodes it).
type JobsView struct {
	Engine   string           `json:"engine"`
	QueueURL string           `json:"queue_url"`
	Workers  string           `json:"workers"`
	Outbox   OutboxView       `json:"outbox"`
	Queues   []QueueView      `json:"queues"`
	Running  []worker.Running `json:"running"`
	// Replication is this process's copy of the users fed by users.changed: changes applied
	// and skipped, and the lag from change to visible. Absent where no copy is kept (a service
	// that owns its data, or workers in other processes).
	Replication *tasks.Lag `json:"replication,omitempty"`
}

// OutboxView is the outbox's backlog.
type OutboxView struct {
	Pending   int64         `json:"pending"`
	OldestAge time.Duration `json:"oldest_age_ns"`
	Error     string        `json:"error,omitempty"`
}

// QueueView is a queue's broker statistics and the job outcomes of every worker process.
type QueueView struct {
	jobs.QueueStats
	Done       int64 `json:"done"`
	Failed     int64 `json:"failed"`
	Duplicates int64 `json:"duplicates"`
	// DeadLettered counts the jobs the workers ever dead-lettered; Dead is what the broker's
	// dead-letter store holds now (replays take jobs out of it).
	DeadLettered int64  `json:"dead_lettered"`
	Error        string `json:"error,omitempty"`
}

// serveJobs answers GET /admin/jobs: per queue the broker's depth, in-flight, dead and oldest
// age, and the done, failed and duplicates of every worker process (as of their last second:
// this process's are added first, so they are current); the outbox backlog; the jobs running in
// this process.
func (a *App) serveJobs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	v := JobsView{Engine: a.engine.Name(), QueueURL: a.info.QueueURL, Workers: a.info.Workers, Queues: []QueueView{}, Running: []worker.Running{}}
	if n, oldest, err := a.store.OutboxBacklog(ctx); err != nil {
		v.Outbox.Error = err.Error()
	} else {
		v.Outbox.Pending = n
		if !oldest.IsZero() {
			v.Outbox.OldestAge = time.Since(oldest)
		}
	}
	if a.worker != nil {
		v.Running = append(v.Running, a.worker.Running()...)
	}
	if a.replica != nil {
		l := a.replica.Lag()
		v.Replication = &l
	}
	var countsErr error
	if a.counts != nil {
		countsErr = a.counts.flush(ctx)
	}
	counts, err := a.store.JobCounts(ctx)
	if countsErr == nil {
		countsErr = err
	}
	for _, q := range tasks.Queues {
		c := counts[q]
		qv := QueueView{Done: c.Done, Failed: c.Failed, Duplicates: c.Duplicates, DeadLettered: c.Dead}
		st, err := a.engine.Stats(ctx, q)
		if err = errors.Join(err, countsErr); err != nil {
			qv.Error = err.Error()
		}
		st.Queue = q
		qv.QueueStats = st
		v.Queues = append(v.Queues, qv)
	}
	writeJSON(w, http.StatusOK, v)
}

// serveDead answers GET /admin/jobs/{queue}/dead: the queue's dead letters, oldest first.
func (a *App) serveDead(w http.ResponseWriter, r *http.Request) {
	q := r.PathValue("queue")
	if err := jobs.CheckQueue(q); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error(), "status": 400})
		return
	}
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("limit %q: want 1 to 10000", s), "status": 400})
			return
		}
		limit = n
	}
	dl, err := a.engine.DeadLetters(r.Context(), q, limit)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]any{"error": err.Error(), "status": 502})
		return
	}
	type deadView struct {
		ID      string    `json:"id"`
		Attempt int       `json:"attempt"`
		Reason  string    `json:"reason"`
		DiedAt  time.Time `json:"died_at"`
		Payload string    `json:"payload"`
	}
	out := make([]deadView, 0, len(dl))
	for _, d := range dl {
		out = append(out, deadView{ID: d.Message.ID, Attempt: d.Message.Attempt, Reason: d.Reason, DiedAt: d.DiedAt, Payload: string(d.Message.Payload)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": q, "dead": out})
}

// serveReplay answers POST /admin/jobs/{queue}/dead/{id}/replay (loopback only).
func (a *App) serveReplay(w http.ResponseWriter, r *http.Request) {
	if !api.IsLoopback(r.RemoteAddr) {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "admin endpoints answer loopback clients only", "status": 403})
		return
	}
	q, id := r.PathValue("queue"), r.PathValue("id")
	err := a.engine.Replay(r.Context(), q, id)
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error(), "status": 404})
	case err != nil:
		writeJSON(w, http.StatusBadGateway, map[string]any{"error": err.Error(), "status": 502})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"replayed": id, "queue": q})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// startJobs opens the broker, starts the outbox relay and (unless the workers run elsewhere)
// the workers. It registers their stops so that on shutdown the workers finish first, then the
// relay, then the broker closes.
func (a *App) startJobs(ctx context.Context, deps jobDeps) (*outbox.Relay, error) {
	cfg := a.cfg
	eng, desc, url, err := openEngines(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	a.engine = eng
	a.onClose(func(context.Context) error { return eng.Close() })
	a.info.Queue, a.info.QueueURL = desc, redactURL(url)

	relay, err := outbox.New(outbox.Config{Store: a.store, Publisher: eng, Registerer: deps.reg, Logger: deps.log})
	if err != nil {
		return nil, err
	}
	rctx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); _ = relay.Run(rctx) }()
	a.onClose(func(context.Context) error { stopRelay(); <-relayDone; return nil })

	if cfg.ExternalWorkers {
		a.info.Workers = "none in process (run: headroom lab worker --queue " + a.info.QueueURL + ")"
		return relay, nil
	}
	w, media, err := newWorker(ctx, workerDeps{
		cfg: cfg.Jobs, engine: eng, store: a.store, mailer: deps.mailer, reg: deps.reg, tp: deps.tp, prop: deps.prop, log: deps.log,
		thumb: a.thumbByFunction(),
	})
	if err != nil {
		return nil, err
	}
	if cfg.Jobs.MediaDir == "" {
		a.onClose(func(context.Context) error { return os.RemoveAll(media) })
	}
	if a.replica, err = registerReplica(w, cfg.Role, cfg.Jobs, a.store, deps.reg); err != nil {
		return nil, err
	}
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	a.worker = w
	a.counts = startCountSharer(ctx, w, a.store, deps.log)
	a.onClose(a.counts.close) // after the worker has stopped: its last jobs count
	a.onClose(w.Stop)
	a.info.Workers = "in process; media files in " + media
	return relay, nil
}
