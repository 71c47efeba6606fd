package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/jobstest"
	"github.com/headroom/headroom/lab/jobs/natsq"
	"github.com/headroom/headroom/lab/jobs/worker"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		attempt  int
		min, max time.Duration
		u        float64
		want     time.Duration
	}{
		{1, time.Second, time.Minute, 0.5, 500 * time.Millisecond},
		{2, time.Second, time.Minute, 0.5, time.Second},
		{3, time.Second, time.Minute, 0.999, 3996 * time.Millisecond},
		{7, time.Second, time.Minute, 0.5, 30 * time.Second}, // 64s capped at 60s
		{100, time.Second, time.Minute, 1, time.Minute},      // no overflow
		{0, time.Second, time.Minute, 0.5, 500 * time.Millisecond},
		{5, time.Second, time.Minute, 0, 0}, // full jitter reaches zero
	} {
		if got := worker.Backoff(tc.attempt, tc.min, tc.max, tc.u); got != tc.want {
			t.Errorf("Backoff(%d, %v, %v, %v) = %v, want %v", tc.attempt, tc.min, tc.max, tc.u, got, tc.want)
		}
	}
}

func engine(t testing.TB) jobs.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	e, err := natsq.New(ctx, natsq.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

type rig struct {
	e   jobs.Engine
	w   *worker.Worker
	reg *prometheus.Registry
}

func newRig(t *testing.T, e jobs.Engine, cfg worker.Config, queues map[string]worker.QueueConfig) *rig {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Engine, cfg.Registerer = e, reg
	w, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for q, qc := range queues {
		if err := w.Handle(q, qc); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Stop(ctx)
	})
	return &rig{e: e, w: w, reg: reg}
}

func publish(t *testing.T, e jobs.Engine, q, id, payload string, headers map[string]string) {
	t.Helper()
	if err := e.Publish(t.Context(), jobs.Message{ID: id, Queue: q, Payload: []byte(payload), Headers: headers, EnqueuedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls check until it returns nil or 20s pass.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// TestPoisonJobIsDeadLetteredAndDoesNotBlockOthers: a job that always fails runs MaxAttempts
// times, then sits in the dead-letter queue with its last error, while the good jobs of the same
// queue all finish.
func TestPoisonJobIsDeadLetteredAndDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	e := engine(t)
	q := jobstest.Queue(t)
	var poisonRuns, good atomic.Int64
	r := newRig(t, e, worker.Config{}, map[string]worker.QueueConfig{q: {
		Concurrency: 2, MaxAttempts: 3, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		Handler: func(_ context.Context, j *worker.Job) error {
			if string(j.Payload) == "poison" {
				poisonRuns.Add(1)
				return errors.New("always fails")
			}
			good.Add(1)
			return nil
		},
	}})
	publish(t, e, q, "poison", "poison", nil)
	const n = 20
	for i := range n {
		publish(t, e, q, fmt.Sprint("good-", i), "ok", nil)
	}
	waitFor(t, "poison job dead-lettered", func() error {
		dl, err := e.DeadLetters(t.Context(), q, 10)
		if err != nil || len(dl) != 1 {
			return fmt.Errorf("dead letters %+v, %w", dl, err)
		}
		if dl[0].Message.ID != "poison" || !strings.Contains(dl[0].Reason, "always fails") || !strings.Contains(dl[0].Reason, "attempt 3 of 3") {
			return fmt.Errorf("dead letter %+v, want the poison job with its error", dl[0])
		}
		return nil
	})
	waitFor(t, "good jobs done", func() error {
		if good.Load() != n {
			return fmt.Errorf("%d of %d good jobs ran", good.Load(), n)
		}
		return nil
	})
	if poisonRuns.Load() != 3 {
		t.Errorf("poison job ran %d times, want MaxAttempts = 3", poisonRuns.Load())
	}
	if got := metric(t, r.reg, "lab_jobs_dead_letters_total", map[string]string{"reason": "max_attempts"}); got != 1 {
		t.Errorf("lab_jobs_dead_letters_total{reason=max_attempts} = %v, want 1", got)
	}
	if got := metric(t, r.reg, "lab_jobs_failures_total", nil); got != 3 {
		t.Errorf("lab_jobs_failures_total = %v, want 3", got)
	}
	if c := r.w.Counts()[q]; c.Done != n || c.Dead != 1 || c.Failed != 3 {
		t.Errorf("Counts = %+v, want %d done, 1 dead, 3 failed", c, n)
	}
	// The dead letter can be replayed: it runs again (and dies again).
	if err := e.Replay(t.Context(), q, "poison"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replayed poison job runs", func() error {
		if poisonRuns.Load() < 4 {
			return fmt.Errorf("poison ran %d times", poisonRuns.Load())
		}
		return nil
	})
}

// TestMalformedPayloadDeadAtOnce: a payload that does not decode is dead-lettered with the
// decode error on its first attempt.
func TestMalformedPayloadDeadAtOnce(t *testing.T) {
	t.Parallel()
	e := engine(t)
	q := jobstest.Queue(t)
	var runs atomic.Int64
	r := newRig(t, e, worker.Config{}, map[string]worker.QueueConfig{q: {
		MaxAttempts: 5, BackoffMin: 10 * time.Millisecond,
		Handler: func(_ context.Context, j *worker.Job) error {
			runs.Add(1)
			var p struct {
				N int `json:"n"`
			}
			return worker.Decode(j, &p)
		},
	}})
	publish(t, e, q, "bad-json", `{"n": "x"}`, nil)
	publish(t, e, q, "unknown-field", `{"m": 1}`, nil)
	publish(t, e, q, "fine", `{"n": 1}`, nil)
	waitFor(t, "malformed jobs dead-lettered", func() error {
		dl, err := e.DeadLetters(t.Context(), q, 10)
		if err != nil || len(dl) != 2 {
			return fmt.Errorf("dead letters %+v, %w", dl, err)
		}
		for _, d := range dl {
			if !strings.Contains(d.Reason, "decode") || !strings.Contains(d.Reason, worker.ErrPermanent.Error()) {
				return fmt.Errorf("dead letter %s reason %q, want the decode error", d.Message.ID, d.Reason)
			}
		}
		return nil
	})
	waitFor(t, "fine job done", func() error {
		if c := r.w.Counts()[q]; c.Done != 1 {
			return fmt.Errorf("counts %+v", c)
		}
		return nil
	})
	if runs.Load() != 3 {
		t.Errorf("handler ran %d times, want 3 (no retries of malformed payloads)", runs.Load())
	}
	if got := metric(t, r.reg, "lab_jobs_dead_letters_total", map[string]string{"reason": "permanent"}); got != 2 {
		t.Errorf("lab_jobs_dead_letters_total{reason=permanent} = %v, want 2", got)
	}
}

// TestCancelProgressAndExtend: a long job reports progress, keeps its delivery past AckWait by
// extending it, and stops when its cancel record appears.
func TestCancelProgressAndExtend(t *testing.T) {
	t.Parallel()
	e := engine(t)
	q := jobstest.Queue(t)
	var canceled atomic.Bool
	var runs atomic.Int64
	cause := make(chan error, 1)
	r := newRig(t, e, worker.Config{}, map[string]worker.QueueConfig{q: {
		AckWait: 300 * time.Millisecond, CancelPoll: 20 * time.Millisecond,
		Canceled: func(context.Context, jobs.Message) (bool, error) { return canceled.Load(), nil },
		Handler: func(ctx context.Context, j *worker.Job) error {
			runs.Add(1)
			for i := int64(1); ; i++ {
				j.Progress(i, 1000)
				select {
				case <-ctx.Done():
					cause <- context.Cause(ctx)
					return ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
			}
		},
	}})
	publish(t, e, q, "long", "", nil)
	waitFor(t, "progress visible", func() error {
		rs := r.w.Running()
		if len(rs) != 1 || rs[0].Done < 5 || rs[0].Total != 1000 || rs[0].ID != "long" {
			return fmt.Errorf("running %+v", rs)
		}
		return nil
	})
	time.Sleep(time.Second) // > 3 AckWaits: only Extend keeps it from being redelivered
	if runs.Load() != 1 {
		t.Fatalf("job ran %d times during a long run, want 1 (the ack deadline must be extended)", runs.Load())
	}
	canceled.Store(true)
	select {
	case err := <-cause:
		if !errors.Is(err, worker.ErrCanceled) {
			t.Errorf("context cause = %v, want ErrCanceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel record not observed by the handler")
	}
	waitFor(t, "canceled job settled", func() error {
		if got := metric(t, r.reg, "lab_jobs_finished_total", map[string]string{"outcome": "canceled"}); got != 1 {
			return fmt.Errorf("finished{canceled} = %v", got)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	if runs.Load() != 1 {
		t.Errorf("canceled job ran again (%d runs): it must be acknowledged, not retried", runs.Load())
	}
}

// TestStopFinishesInFlight: Stop waits for a running job and acknowledges it.
func TestStopFinishesInFlight(t *testing.T) {
	t.Parallel()
	e := engine(t)
	q := jobstest.Queue(t)
	started, release := make(chan struct{}), make(chan struct{})
	var done atomic.Bool
	r := newRig(t, e, worker.Config{}, map[string]worker.QueueConfig{q: {Handler: func(context.Context, *worker.Job) error {
		close(started)
		<-release
		done.Store(true)
		return nil
	}}})
	publish(t, e, q, "j", "", nil)
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- r.w.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a job was running", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if !done.Load() {
		t.Fatal("Stop returned before the job finished")
	}
	// The broker applies an ack asynchronously: it shows in its statistics shortly after.
	waitFor(t, "job acknowledged", func() error {
		st, err := e.Stats(t.Context(), q)
		if err != nil || st.Depth != 0 || st.InFlight != 0 {
			return fmt.Errorf("after Stop: %+v, %w", st, err)
		}
		return nil
	})
}

// TestStopReturnsJobsWhenForced: when Stop's context ends, the running job's context is
// canceled with ErrShutdown and the job goes back to the queue, where another worker runs it.
func TestStopReturnsJobsWhenForced(t *testing.T) {
	t.Parallel()
	e := engine(t)
	q := jobstest.Queue(t)
	started := make(chan struct{}, 1)
	var cause error
	// A short AckWait: a returned job that the engine had already prefetched again for the
	// stopping subscription comes back after the ack deadline at the latest.
	r := newRig(t, e, worker.Config{}, map[string]worker.QueueConfig{q: {AckWait: time.Second, Handler: func(ctx context.Context, _ *worker.Job) error {
		started <- struct{}{}
		<-ctx.Done()
		cause = context.Cause(ctx)
		return ctx.Err()
	}}})
	publish(t, e, q, "j", "", nil)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.w.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want the context's deadline", err)
	}
	if !errors.Is(cause, worker.ErrShutdown) {
		t.Errorf("handler's context cause = %v, want ErrShutdown", cause)
	}
	got := make(chan int, 1)
	newRig(t, e, worker.Config{}, map[string]worker.QueueConfig{q: {AckWait: time.Second, Handler: func(_ context.Context, j *worker.Job) error {
		got <- j.Attempt
		return nil
	}}})
	select {
	case a := <-got:
		if a < 2 {
			t.Errorf("returned job's attempt = %d, want ≥ 2", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the returned job was not delivered to the next worker")
	}
}

// TestConcurrencyAndRate: a queue never runs more than Concurrency jobs at once (and reaches
// it), and starts no more than Rate jobs per second after the burst.
func TestConcurrencyAndRate(t *testing.T) {
	t.Parallel()
	e := engine(t)
	qc, qr := jobstest.Queue(t), jobstest.Queue(t)
	var cur, peak atomic.Int64
	var mu sync.Mutex
	var starts []time.Time
	newRig(t, e, worker.Config{}, map[string]worker.QueueConfig{
		qc: {Concurrency: 3, Handler: func(context.Context, *worker.Job) error {
			n := cur.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(50 * time.Millisecond)
			cur.Add(-1)
			return nil
		}},
		qr: {Concurrency: 8, Rate: 20, Burst: 1, Handler: func(context.Context, *worker.Job) error {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			return nil
		}},
	})
	for i := range 12 {
		publish(t, e, qc, fmt.Sprint("c", i), "", nil)
		publish(t, e, qr, fmt.Sprint("r", i), "", nil)
	}
	waitFor(t, "rate-limited jobs done", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(starts) != 12 {
			return fmt.Errorf("%d of 12 started", len(starts))
		}
		return nil
	})
	if p := peak.Load(); p != 3 {
		t.Errorf("peak concurrency = %d, want 3", p)
	}
	// 12 starts at 20/s with a burst of 1: at least 11 intervals of 50 ms (10% tolerance).
	if span := starts[11].Sub(starts[0]); span < 495*time.Millisecond {
		t.Errorf("12 jobs at 20/s started within %v, want ≥ 550ms", span)
	}
}

// TestTraceAndLatencyMetrics: a job's span is a consumer span in the producer's trace, parented
// by and linked to the producer's span; the wait and run histograms and the duplicate counter
// record the job.
func TestTraceAndLatencyMetrics(t *testing.T) {
	t.Parallel()
	e := engine(t)
	q := jobstest.Queue(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	r := newRig(t, e, worker.Config{TracerProvider: tp}, map[string]worker.QueueConfig{q: {Handler: func(_ context.Context, j *worker.Job) error {
		if j.ID == "again" {
			j.Duplicate()
		}
		return nil
	}}})
	ctx, producer := tp.Tracer("test").Start(t.Context(), "POST /api/invites", trace.WithSpanKind(trace.SpanKindProducer))
	h := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, h)
	producer.End()
	publish(t, e, q, "first", "", h)
	publish(t, e, q, "again", "", nil)
	waitFor(t, "two job spans", func() error {
		n := 0
		for _, s := range rec.Ended() {
			if s.Name() == "process "+q {
				n++
			}
		}
		if n != 2 {
			return fmt.Errorf("%d job spans", n)
		}
		return nil
	})
	var job sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "process "+q && s.Parent().IsValid() {
			job = s
		}
	}
	if job == nil {
		t.Fatal("no job span with a parent")
	}
	psc := producer.SpanContext()
	if job.SpanKind() != trace.SpanKindConsumer || job.Parent().SpanID() != psc.SpanID() || job.SpanContext().TraceID() != psc.TraceID() {
		t.Errorf("job span kind %v parent %v trace %v; want a consumer child of %v", job.SpanKind(), job.Parent(), job.SpanContext().TraceID(), psc)
	}
	if l := job.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != psc.SpanID() {
		t.Errorf("job span links = %+v, want one to the producer", l)
	}
	if got := metric(t, r.reg, "lab_jobs_wait_seconds", map[string]string{"queue": q}); got != 2 {
		t.Errorf("lab_jobs_wait_seconds count = %v, want 2", got)
	}
	if got := metric(t, r.reg, "lab_jobs_run_seconds", map[string]string{"queue": q}); got != 2 {
		t.Errorf("lab_jobs_run_seconds count = %v, want 2", got)
	}
	if got := metric(t, r.reg, "lab_jobs_duplicates_total", map[string]string{"queue": q}); got != 1 {
		t.Errorf("lab_jobs_duplicates_total = %v, want 1", got)
	}
	if got := metric(t, r.reg, "lab_jobs_queue_depth", map[string]string{"queue": q}); got != 0 {
		t.Errorf("lab_jobs_queue_depth = %v, want 0 after the jobs ran", got)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	if _, err := worker.New(worker.Config{}); err == nil {
		t.Error("New without an engine: no error")
	}
	w, err := worker.New(worker.Config{Engine: engine(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := func(context.Context, *worker.Job) error { return nil }
	for _, tc := range []struct {
		queue string
		qc    worker.QueueConfig
	}{
		{"Bad Name", worker.QueueConfig{Handler: h}},
		{"q", worker.QueueConfig{}},
		{"q", worker.QueueConfig{Handler: h, Concurrency: -1}},
		{"q", worker.QueueConfig{Handler: h, BackoffMin: time.Minute, BackoffMax: time.Second}},
	} {
		if err := w.Handle(tc.queue, tc.qc); err == nil {
			t.Errorf("Handle(%q, %+v): no error", tc.queue, tc.qc)
		}
	}
	if err := w.Handle("q", worker.QueueConfig{Handler: h}); err != nil {
		t.Fatal(err)
	}
	if err := w.Handle("q", worker.QueueConfig{Handler: h}); err == nil {
		t.Error("Handle of the same queue twice: no error")
	}
}
