package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/deps"
	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/worker"
	"github.com/headroom/headroom/lab/tasks"
	"github.com/headroom/headroom/lab/telemetry"
)

// JobsConfig tunes the lab's workers. The zero value uses the defaults documented per field.
type JobsConfig struct {
	// MediaDir receives the video pipeline's files. Default: a new temporary directory, removed
	// on shutdown.
	MediaDir string
	// DeleteChunk is how many rows one account-deletion transaction removes. Default [tasks.DeleteChunkDefault].
	DeleteChunk int
	// MaxAttempts is how many times a failing job runs before the dead-letter queue. Default [worker.MaxAttemptsDefault].
	MaxAttempts int
	// BackoffMin is the first retry's maximum delay (doubling, full jitter). Default [worker.BackoffMinDefault].
	BackoffMin time.Duration
	// AckWait is how long a job may run without its worker extending it before the broker hands
	// it to another worker (a dead worker's jobs come back after this). Default [worker.AckWaitDefault].
	AckWait time.Duration
}

func (c JobsConfig) validate() error {
	if c.DeleteChunk < 0 || c.MaxAttempts < 0 || c.BackoffMin < 0 || c.AckWait < 0 {
		return fmt.Errorf("jobs: delete chunk %d, max attempts %d, backoff %v and ack wait %v must be positive",
			c.DeleteChunk, c.MaxAttempts, c.BackoffMin, c.AckWait)
	}
	if c.AckWait > 0 && c.AckWait < 300*time.Millisecond {
		return fmt.Errorf("jobs: ack wait %v: want at least 300ms (jobs are extended every third of it)", c.AckWait)
	}
	return nil
}

// jobDeps are what the jobs need from the rest of the lab.
type jobDeps struct {
	mailer tasks.Mailer
	reg    prometheus.Registerer
	tp     trace.TracerProvider
	prop   propagation.TextMapPropagator
	log    *slog.Logger
}

type workerDeps struct {
	cfg    JobsConfig
	thumb  func(context.Context, []byte) ([]byte, error) // nil: in process
	engine jobs.Engine
	store  lab.Store
	mailer tasks.Mailer
	reg    prometheus.Registerer
	tp     trace.TracerProvider
	prop   propagation.TextMapPropagator
	log    *slog.Logger
}

// newWorker builds a worker with the lab's handlers; it returns the media directory used.
func newWorker(_ context.Context, d workerDeps) (*worker.Worker, string, error) {
	media := d.cfg.MediaDir
	if media == "" {
		dir, err := os.MkdirTemp("", "headroom-media-")
		if err != nil {
			return nil, "", fmt.Errorf("media directory: %w", err)
		}
		media = dir
	}
	w, err := worker.New(worker.Config{Engine: d.engine, Registerer: d.reg, TracerProvider: d.tp, Propagator: d.prop, Logger: d.log})
	if err != nil {
		return nil, "", err
	}
	err = tasks.Register(w, tasks.Config{
		Store: d.store, Mailer: d.mailer, Publisher: d.engine, MediaDir: media, Thumb: d.thumb,
		DeleteChunk: d.cfg.DeleteChunk, MaxAttempts: d.cfg.MaxAttempts, BackoffMin: d.cfg.BackoffMin, AckWait: d.cfg.AckWait,
	})
	if err != nil {
		return nil, "", err
	}
	return w, media, nil
}

// WorkerConfig configures [RunWorker]: the lab's workers as a process of their own, sharing
// the lab's database and broker. Queue, DB and SMTPAddr are required.
type WorkerConfig struct {
	// Queue is the broker the lab uses: nats://host:port (the lab prints its embedded server's
	// URL), redis://host:port/db or amqp://user:pass@host:port/. Required.
	Queue string
	// QueuePrefix must match the lab's. Default "headroom".
	QueuePrefix string
	// DB is the lab's database: sqlite:FILE (the same file) or postgres://... Required.
	DB string
	// PostgresSchema must match the lab's. Default: the server's search_path.
	PostgresSchema string
	// DBMaxConns bounds the worker's connection pool. Default: the engine's.
	DBMaxConns int
	// DBLatency is the round trip added to every database call, as for the lab (see
	// Config.DBLatency). Nil means [DBLatencyDefault]; a pointer to 0 means none.
	DBLatency *time.Duration
	// SMTPAddr is the mail server the invitation emails go to (the lab prints its embedded
	// one). Required.
	SMTPAddr string
	// Addr, if set, serves /metrics there (127.0.0.1:0 picks a port). Default: no server.
	Addr string
	// OTLP exports the job spans over OTLP/HTTP. Default: none.
	OTLP string
	// Jobs tunes the workers.
	Jobs JobsConfig
	// Log receives the JSON logs. Default os.Stderr.
	Log io.Writer
	// LogLevel filters the logs. Default info.
	LogLevel slog.Level
	// ShutdownTimeout is how long running jobs may take to finish on shutdown before they are
	// handed back to the broker. Default 30s.
	ShutdownTimeout time.Duration
}

func (c *WorkerConfig) validate() error {
	if c.Queue == "" || c.Queue == "nats" {
		return fmt.Errorf("queue %q: a separate worker needs the lab's broker URL: nats://host:port, redis://host:port/db or amqp://user:pass@host:port/", c.Queue)
	}
	if err := CheckQueue(c.Queue); err != nil {
		return err
	}
	if !hasPrefix(c.DB, DBSchemes) || c.DB == "sqlite:" {
		return fmt.Errorf("database %q: want the lab's sqlite:FILE or postgres:// URL", c.DB)
	}
	if _, _, err := net.SplitHostPort(c.SMTPAddr); err != nil {
		return fmt.Errorf("smtp %q: want the mail server's host:port", c.SMTPAddr)
	}
	if err := checkDBLatency(c.DBLatency); err != nil {
		return err
	}
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return fmt.Errorf("listen address %q: want host:port", c.Addr)
		}
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	return c.Jobs.validate()
}

// WorkerInfo describes a started worker process.
type WorkerInfo struct {
	Queue   string   `json:"queue"`
	DB      string   `json:"db"`
	Queues  []string `json:"queues"`
	Media   string   `json:"media"`
	Metrics string   `json:"metrics,omitempty"`
}

// RunWorker runs the lab's workers until ctx ends, then stops them gracefully: running jobs get
// ShutdownTimeout to finish and are handed back to the broker after that. started is called
// once the workers are subscribed.
func RunWorker(ctx context.Context, cfg WorkerConfig, started func(WorkerInfo)) (err error) {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	var closers []func(context.Context) error
	onClose := func(f func(context.Context) error) { closers = append(closers, f) }
	defer func() {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i](context.WithoutCancel(ctx)))
		}
		err = errors.Join(append([]error{err}, errs...)...)
	}()
	log := telemetry.NewLogger(cfg.Log, cfg.LogLevel)
	tel, err := telemetry.Setup(ctx, telemetry.Config{OTLPEndpoint: cfg.OTLP})
	if err != nil {
		return err
	}
	onClose(tel.Shutdown)
	store, dbDesc, err := openStore(ctx, storeConfig{db: cfg.DB, schema: cfg.PostgresSchema, maxConns: cfg.DBMaxConns, latency: dbLatency(cfg.DBLatency), tp: tel.TracerProvider}, onClose)
	if err != nil {
		return err
	}
	eng, desc, err := openEngine(ctx, cfg.Queue, cfg.QueuePrefix, "")
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	onClose(func(context.Context) error { return eng.Close() })
	mailer, err := deps.NewMailer(deps.MailerConfig{Addr: cfg.SMTPAddr, TracerProvider: tel.TracerProvider})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	w, media, err := newWorker(ctx, workerDeps{cfg: cfg.Jobs, engine: eng, store: store, mailer: mailer, reg: reg, tp: tel.TracerProvider, prop: tel.Propagator, log: log})
	if err != nil {
		return err
	}
	if cfg.Jobs.MediaDir == "" {
		onClose(func(context.Context) error { return os.RemoveAll(media) })
	}
	// The monolith's workers: its copy of the users is the table the changes come from.
	if _, err := registerReplica(w, "", cfg.Jobs, store, reg); err != nil {
		return err
	}
	info := WorkerInfo{Queue: desc, DB: dbDesc, Queues: w.Queues(), Media: media}
	if cfg.Addr != "" {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", cfg.Addr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		onClose(func(ctx context.Context) error { return srv.Shutdown(ctx) })
		info.Metrics = "http://" + ln.Addr().String() + "/metrics"
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	// Registered after the worker's start, so it runs after w.Stop below: its last jobs count.
	onClose(startCountSharer(ctx, w, store, log).close)
	log.InfoContext(ctx, "lab worker started", slog.String("queue", desc), slog.String("db", dbDesc))
	if started != nil {
		started(info)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	return w.Stop(sctx)
}
