package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/time/rate"

	"github.com/headroom/headroom/lab/jobs"
)

// ErrPermanent is wrapped by errors that retrying cannot fix (a payload that does not decode, a
// job about a row that no longer exists): the runtime dead-letters the job at once.
var ErrPermanent = errors.New("permanent job failure")

// Permanent marks err as permanent (see [ErrPermanent]); nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// ErrCanceled is the cause of a job context's cancellation when the job's cancel record appeared
// ([QueueConfig.Canceled]). A handler that returns it (or any error) after the cancellation ends
// the job: it is acknowledged and counted as canceled, not retried.
var ErrCanceled = errors.New("job canceled")

// ErrShutdown is the cause of a job context's cancellation when [Worker.Stop]'s context ended
// before the job finished: the job is returned to its queue for another worker.
var ErrShutdown = errors.New("worker shutting down")

// Decode decodes the job's JSON payload into v strictly (unknown fields and trailing data are
// errors). A payload that does not decode is a permanent error: it is dead-lettered with the
// decode error instead of being retried.
func Decode(j *Job, v any) error {
	dec := json.NewDecoder(bytes.NewReader(j.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Permanent(fmt.Errorf("decode %s payload: %w", j.Queue, err))
	}
	if dec.More() {
		return Permanent(fmt.Errorf("decode %s payload: trailing data", j.Queue))
	}
	return nil
}

// Job is a delivery as a handler sees it.
type Job struct {
	jobs.Message
	done, total atomic.Int64
	duplicate   atomic.Bool
	started     time.Time
}

// Progress reports how far the job is (done of total units); it shows in [Worker.Running].
func (j *Job) Progress(done, total int64) {
	j.done.Store(done)
	j.total.Store(total)
}

// Duplicate tells the runtime that the job had already been done (a redelivery absorbed by the
// handler's idempotency check); it is acknowledged and counted in lab_jobs_duplicates_total.
func (j *Job) Duplicate() { j.duplicate.Store(true) }

// Handler processes one job. nil means done; an error is retried with backoff until
// [QueueConfig.MaxAttempts], then dead-lettered; an error wrapping [ErrPermanent] is
// dead-lettered at once. ctx ends on cancellation ([ErrCanceled]) or a forced shutdown
// ([ErrShutdown]); see [context.Cause].
type Handler func(ctx context.Context, j *Job) error

// QueueConfig configures the processing of one queue. Only Handler is required.
type QueueConfig struct {
	// Handler processes the queue's jobs. Required.
	Handler Handler
	// Concurrency is how many jobs of the queue run at once in this worker. Default 4.
	Concurrency int
	// Rate limits how many jobs per second start (token bucket of Burst). Default 0: no limit.
	Rate float64
	// Burst is the rate limiter's bucket size. Default 1 (with Rate set).
	Burst int
	// MaxAttempts is how many times a failing job runs before it is dead-lettered. Default [MaxAttemptsDefault].
	MaxAttempts int
	// BackoffMin and BackoffMax bound the retry delay: attempt n waits a uniformly random time
	// in [0, min(BackoffMax, BackoffMin·2^(n-1))) ("full jitter"). Defaults [BackoffMinDefault] and [BackoffMaxDefault].
	BackoffMin, BackoffMax time.Duration
	// AckWait is the broker's ack deadline; a running job's deadline is extended every AckWait/3,
	// so only a dead worker's jobs are redelivered. Default [AckWaitDefault].
	AckWait time.Duration
	// Canceled reports whether a job has been canceled (its cancel record exists). It is polled
	// every CancelPoll while the job runs; true cancels the handler's context with [ErrCanceled].
	// Default nil: jobs cannot be canceled.
	Canceled func(ctx context.Context, m jobs.Message) (bool, error)
	// CancelPoll is how often Canceled is asked. Default [CancelPollDefault].
	CancelPoll time.Duration
}

// The defaults of [QueueConfig]'s fields.
const (
	ConcurrencyDefault = 4
	MaxAttemptsDefault = 5
	BackoffMinDefault  = time.Second
	BackoffMaxDefault  = 5 * time.Minute
	AckWaitDefault     = 30 * time.Second
	CancelPollDefault  = 500 * time.Millisecond
)

func (c *QueueConfig) validate(queue string) error {
	if err := jobs.CheckQueue(queue); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if c.Handler == nil {
		return fmt.Errorf("worker: queue %s: nil Handler", queue)
	}
	if c.Concurrency == 0 {
		c.Concurrency = ConcurrencyDefault
	}
	if c.Burst == 0 {
		c.Burst = 1
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = MaxAttemptsDefault
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = BackoffMinDefault
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = BackoffMaxDefault
	}
	if c.AckWait == 0 {
		c.AckWait = AckWaitDefault
	}
	if c.CancelPoll == 0 {
		c.CancelPoll = CancelPollDefault
	}
	if c.Concurrency < 0 || c.Rate < 0 || c.Burst < 0 || c.MaxAttempts < 0 || c.BackoffMin < 0 ||
		c.BackoffMax < c.BackoffMin || c.AckWait < 0 || c.CancelPoll < 0 {
		return fmt.Errorf("worker: queue %s: concurrency, rate, burst, max attempts and durations must be positive, BackoffMax ≥ BackoffMin", queue)
	}
	return nil
}

// Backoff is the retry delay after attempt (1-based) failed: uniform in [0, min(maxD, minD·2^(attempt-1)))
// for u uniform in [0, 1). Full jitter spreads the retries of jobs that failed together.
func Backoff(attempt int, minD, maxD time.Duration, u float64) time.Duration {
	ceil := maxD
	if attempt < 1 {
		attempt = 1
	}
	if shift := attempt - 1; shift < 62 && minD <= maxD>>shift {
		ceil = minD << shift
	}
	return time.Duration(u * float64(ceil))
}

// Config configures [New]. Only Engine is required.
type Config struct {
	// Engine is the broker. Required.
	Engine jobs.Engine
	// Group is the consumer group the worker joins. Default "workers".
	Group string
	// Registerer receives the metrics. Default: a private registry (metrics not exported).
	Registerer prometheus.Registerer
	// TracerProvider makes the job spans. Default: no spans.
	TracerProvider trace.TracerProvider
	// Propagator extracts the trace context from the job's headers. Default: W3C trace context.
	Propagator propagation.TextMapPropagator
	// Logger receives failures. Default: discard.
	Logger *slog.Logger
	// Rand returns uniform numbers in [0, 1) for the backoff's jitter. Default math/rand/v2.
	Rand func() float64
}

// Worker runs the handlers of its queues. Handle every queue, then Start, then Stop. It is safe
// for concurrent use.
type Worker struct {
	cfg     Config
	tracer  trace.Tracer
	m       *metrics
	mu      sync.Mutex
	queues  map[string]*queue
	started bool

	fetchCtx    context.Context // ends when Stop begins: no new deliveries
	stopFetch   context.CancelFunc
	runCtx      context.Context // ends when Stop's context does: running jobs are returned
	abort       context.CancelCauseFunc
	fetchers    sync.WaitGroup
	inflight    sync.WaitGroup
	runningJobs sync.Map // *Job → queue name
}

type queue struct {
	name                      string
	cfg                       QueueConfig
	lim                       *rate.Limiter
	sub                       jobs.Subscription
	done, failed, dead, dupes atomic.Int64
}

// Counts are a queue's job outcomes in this worker since it started.
type Counts struct {
	Done       int64 `json:"done"`       // finished, duplicates and canceled jobs included
	Failed     int64 `json:"failed"`     // runs that returned an error (retried or dead-lettered)
	Dead       int64 `json:"dead"`       // dead-lettered
	Duplicates int64 `json:"duplicates"` // redeliveries absorbed by idempotency
}

// Counts returns each handled queue's outcomes so far.
func (w *Worker) Counts() map[string]Counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]Counts, len(w.queues))
	for n, q := range w.queues {
		out[n] = Counts{Done: q.done.Load(), Failed: q.failed.Load(), Dead: q.dead.Load(), Duplicates: q.dupes.Load()}
	}
	return out
}

// New returns a worker with no queues.
func New(cfg Config) (*Worker, error) {
	if cfg.Engine == nil {
		return nil, errors.New("worker: nil Engine")
	}
	if cfg.Group == "" {
		cfg.Group = "workers"
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = noop.NewTracerProvider()
	}
	if cfg.Propagator == nil {
		cfg.Propagator = propagation.TraceContext{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	w := &Worker{cfg: cfg, tracer: cfg.TracerProvider.Tracer("github.com/headroom/headroom/lab/jobs/worker"), queues: map[string]*queue{}}
	m, err := newMetrics(cfg.Registerer, w)
	if err != nil {
		return nil, err
	}
	w.m = m
	return w, nil
}

// Handle registers the handler of a queue. It must be called before Start.
func (w *Worker) Handle(name string, qc QueueConfig) error {
	if err := qc.validate(name); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return fmt.Errorf("worker: Handle(%s) after Start", name)
	}
	if _, dup := w.queues[name]; dup {
		return fmt.Errorf("worker: queue %s handled twice", name)
	}
	q := &queue{name: name, cfg: qc}
	if qc.Rate > 0 {
		q.lim = rate.NewLimiter(rate.Limit(qc.Rate), qc.Burst)
	}
	w.queues[name] = q
	w.m.zero(name)
	return nil
}

// Queues returns the names of the handled queues, sorted.
func (w *Worker) Queues() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.queues))
	for n := range w.queues {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Start subscribes to every handled queue and starts processing; it returns once all
// subscriptions exist. ctx bounds only the subscribing; the work runs until Stop.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return errors.New("worker: started twice")
	}
	for _, q := range w.queues {
		sub, err := w.cfg.Engine.Subscribe(ctx, q.name, jobs.SubscribeOptions{Group: w.cfg.Group, AckWait: q.cfg.AckWait, Prefetch: q.cfg.Concurrency})
		if err != nil {
			for _, q := range w.queues {
				if q.sub != nil {
					_ = q.sub.Close()
				}
			}
			return fmt.Errorf("worker: subscribe %s: %w", q.name, err)
		}
		q.sub = sub
	}
	w.started = true
	w.fetchCtx, w.stopFetch = context.WithCancel(context.WithoutCancel(ctx))
	w.runCtx, w.abort = context.WithCancelCause(context.WithoutCancel(ctx))
	for _, q := range w.queues {
		w.fetchers.Go(func() { w.fetch(q) })
	}
	return nil
}

// Stop stops fetching, waits for the running jobs to finish, and closes the subscriptions. If
// ctx ends first, the running jobs' contexts are canceled with [ErrShutdown] and, once their
// handlers return, the jobs are handed back to the broker for another worker; Stop then returns
// ctx's error. Stop is River's Stop: nothing is lost either way.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	started := w.started
	w.mu.Unlock()
	if !started {
		return nil
	}
	w.stopFetch()
	w.fetchers.Wait()
	done := make(chan struct{})
	go func() { w.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		w.abort(ErrShutdown)
		<-done
	}
	w.abort(ErrShutdown)
	var errs []error
	for _, q := range w.queues {
		errs = append(errs, q.sub.Close())
	}
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// fetch hands q's deliveries to at most Concurrency goroutines, at most Rate per second.
func (w *Worker) fetch(q *queue) {
	sem := make(chan struct{}, q.cfg.Concurrency)
	for {
		select {
		case sem <- struct{}{}:
		case <-w.fetchCtx.Done():
			return
		}
		if q.lim != nil {
			if err := q.lim.Wait(w.fetchCtx); err != nil {
				return
			}
		}
		d, err := q.sub.Next(w.fetchCtx)
		if err != nil {
			<-sem
			if w.fetchCtx.Err() != nil || errors.Is(err, jobs.ErrClosed) {
				return
			}
			w.cfg.Logger.Warn("job fetch failed", slog.String("queue", q.name), slog.Any("error", err))
			t := time.NewTimer(time.Second)
			select {
			case <-t.C:
			case <-w.fetchCtx.Done():
				t.Stop()
				return
			}
			continue
		}
		w.inflight.Add(1)
		go func() {
			defer func() { <-sem; w.inflight.Done() }()
			w.process(q, d)
		}()
	}
}

// Running describes a job being processed.
type Running struct {
	Queue     string        `json:"queue"`
	ID        string        `json:"id"`
	Attempt   int           `json:"attempt"`
	Running   time.Duration `json:"running_ns"`
	Done      int64         `json:"progress_done"`
	Total     int64         `json:"progress_total"`
	StartedAt time.Time     `json:"started_at"`
}

// Running lists the jobs being processed, oldest first.
func (w *Worker) Running() []Running {
	var out []Running
	now := time.Now()
	w.runningJobs.Range(func(k, v any) bool {
		j := k.(*Job)
		out = append(out, Running{Queue: v.(string), ID: j.ID, Attempt: j.Attempt, Running: now.Sub(j.started),
			Done: j.done.Load(), Total: j.total.Load(), StartedAt: j.started})
		return true
	})
	sort.Slice(out, func(a, b int) bool { return out[a].StartedAt.Before(out[b].StartedAt) })
	return out
}

// Outcomes of a delivery, the label of lab_jobs_finished_total.
const (
	outcomeDone      = "done"
	outcomeRetry     = "retry"
	outcomeDead      = "dead"
	outcomeCanceled  = "canceled"
	outcomeReturned  = "returned"
	outcomeDuplicate = "duplicate"
)

func (w *Worker) process(q *queue, d jobs.Delivery) {
	msg := d.Message()
	j := &Job{Message: msg, started: time.Now()}
	w.runningJobs.Store(j, q.name)
	defer w.runningJobs.Delete(j)
	w.m.attempts.WithLabelValues(q.name).Inc()
	due := msg.EnqueuedAt
	if msg.NotBefore.After(due) {
		due = msg.NotBefore
	}
	if !due.IsZero() && msg.Attempt <= 1 {
		w.m.wait.WithLabelValues(q.name).Observe(max(0, j.started.Sub(due).Seconds()))
	}

	// The job's span continues the trace of the request that enqueued it, as a consumer span
	// parented by the producer and linked to it (links survive where a backend drops parents
	// across long gaps).
	parent := w.cfg.Propagator.Extract(w.runCtx, propagation.MapCarrier(msg.Headers))
	ctx, span := w.tracer.Start(parent, "process "+q.name,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(trace.LinkFromContext(parent)),
		trace.WithAttributes(
			attribute.String("messaging.system", w.cfg.Engine.Name()),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", q.name),
			attribute.String("messaging.message.id", msg.ID),
			attribute.Int("messaging.delivery.attempt", msg.Attempt)))
	defer span.End()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Long jobs: keep the ack deadline ahead, and watch for a cancel record.
	watch := make(chan struct{})
	var watchers sync.WaitGroup
	watchers.Go(func() { w.extend(ctx, q, d, watch) })
	if q.cfg.Canceled != nil {
		watchers.Go(func() { w.watchCancel(ctx, q, msg, cancel, watch) })
	}
	var err error
	if j.Attempt > q.cfg.MaxAttempts {
		// Every earlier attempt ended without a verdict (the worker died running it): the
		// engines leave the limit to the runtime, so a job that kills its workers ends here.
		err = fmt.Errorf("%w: delivered %d times, more than %d attempts (earlier runs never finished)", ErrPermanent, j.Attempt, q.cfg.MaxAttempts)
	} else {
		err = call(ctx, q.cfg.Handler, j)
	}
	close(watch)
	watchers.Wait()
	w.m.run.WithLabelValues(q.name).Observe(time.Since(j.started).Seconds())

	outcome, settleErr := w.settle(ctx, q, d, j, err)
	w.m.finished.WithLabelValues(q.name, outcome).Inc()
	switch outcome {
	case outcomeDone, outcomeCanceled:
		q.done.Add(1)
	case outcomeDuplicate:
		q.done.Add(1)
		q.dupes.Add(1)
	case outcomeDead:
		q.dead.Add(1)
	}
	span.SetAttributes(attribute.String("job.outcome", outcome))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		if outcome != outcomeCanceled && outcome != outcomeReturned {
			w.m.failures.WithLabelValues(q.name).Inc()
			q.failed.Add(1)
		}
	}
	if settleErr != nil {
		// The broker redelivers an unsettled job after its ack deadline: at-least-once holds.
		w.cfg.Logger.Warn("job settle failed", slog.String("queue", q.name), slog.String("id", msg.ID), slog.Any("error", settleErr))
	}
}

// call runs the handler, turning a panic into an error so one bad job cannot kill the worker.
func call(ctx context.Context, h Handler, j *Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return h(ctx, j)
}

// settle acknowledges, retries, returns or dead-letters the delivery according to the handler's
// result, with a context of its own: the job's may be canceled.
func (w *Worker) settle(jobCtx context.Context, q *queue, d jobs.Delivery, j *Job, err error) (string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(jobCtx), 10*time.Second)
	defer cancel()
	cause := context.Cause(jobCtx)
	switch {
	case err == nil && j.duplicate.Load():
		w.m.duplicates.WithLabelValues(q.name).Inc()
		return outcomeDuplicate, d.Ack(ctx)
	case err == nil:
		return outcomeDone, d.Ack(ctx)
	case errors.Is(cause, ErrCanceled) || errors.Is(err, ErrCanceled):
		return outcomeCanceled, d.Ack(ctx)
	case errors.Is(cause, ErrShutdown):
		return outcomeReturned, d.Retry(ctx, 0)
	case errors.Is(err, ErrPermanent):
		w.m.dead.WithLabelValues(q.name, "permanent").Inc()
		return outcomeDead, d.Dead(ctx, err.Error())
	case j.Attempt >= q.cfg.MaxAttempts:
		w.m.dead.WithLabelValues(q.name, "max_attempts").Inc()
		return outcomeDead, d.Dead(ctx, fmt.Sprintf("attempt %d of %d: %v", j.Attempt, q.cfg.MaxAttempts, err))
	default:
		delay := Backoff(j.Attempt, q.cfg.BackoffMin, q.cfg.BackoffMax, w.cfg.Rand())
		return outcomeRetry, d.Retry(ctx, delay)
	}
}

func (w *Worker) extend(ctx context.Context, q *queue, d jobs.Delivery, stop <-chan struct{}) {
	t := time.NewTicker(q.cfg.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := d.Extend(ctx); err != nil && ctx.Err() == nil {
				w.cfg.Logger.Warn("job extend failed", slog.String("queue", q.name), slog.Any("error", err))
			}
		}
	}
}

func (w *Worker) watchCancel(ctx context.Context, q *queue, m jobs.Message, cancel context.CancelCauseFunc, stop <-chan struct{}) {
	t := time.NewTicker(q.cfg.CancelPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			canceled, err := q.cfg.Canceled(ctx, m)
			if err != nil && ctx.Err() == nil {
				w.cfg.Logger.Warn("job cancel check failed", slog.String("queue", q.name), slog.Any("error", err))
			}
			if canceled {
				cancel(ErrCanceled)
				return
			}
		}
	}
}
