package loadgen

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/headroom/headroom/result"
)

// userAgent is sent unless a target sets its own.
const userAgent = "headroom"

// Verdict thresholds: beyond them the generator, not the target, limited the run.
const (
	// maxDispatchLagP99 is how late the generator may send a request that had a free connection.
	maxDispatchLagP99 = 10 * time.Millisecond
	// minLateDispatches is how many requests must have been sent that late to invalidate a run: in
	// a short run a p99 is the few slowest sends, and a stall of the generator's machine that
	// delays two of fifty requests does not change what the target saw.
	minLateDispatches = 5
	// maxCPUUtilization is the share of its cores the generator may use before it is the limit.
	maxCPUUtilization = 0.90
	// minAchievedRatio is the least achieved/offered ratio of a run whose connections were not all busy.
	minAchievedRatio = 0.95
	// noteQueuedShare is the share of queued requests above which the result notes the queueing.
	noteQueuedShare = 0.01
)

// Progress is a snapshot of a run, reported once a second.
type Progress struct {
	// Elapsed and Total include the warm-up.
	Elapsed, Total time.Duration
	Warmup         bool
	// Second is the timeline second just closed (zero during warm-up).
	Second result.Second
	// Requests and Errors are the totals of the measured period so far.
	Requests, Errors int64
	// Final is set on the last report of the run.
	Final bool
}

// Run generates the load cfg describes until its warm-up and duration have passed or ctx ends,
// and returns the result. When ctx ends first the result covers what ran and is marked partial:
// the requests then in flight are counted as errors of kind KindInterrupted, with the latency
// they had reached, and the verdict says the run was interrupted.
// Requests still in flight at the end may take up to cfg.Timeout to complete, so Run returns
// within Warmup + Duration + Timeout. progress, when not nil, is called once a second from one
// goroutine. With cfg.StartAt, Run first waits for it. Errors of the target (refused, reset,
// timeouts, statuses) are counted in the result, not returned; Run returns an error only for a
// bad configuration, or when ctx ends before cfg.StartAt (nothing was sent).
func Run(ctx context.Context, cfg Config, progress func(Progress)) (*result.Load, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	return e.run(ctx, progress)
}

// engine is one run: its config (defaults applied), the open model's schedule, the recorder,
// and the executor that moves the requests; the executor's goroutines share it.
type engine struct {
	cfg   Config
	total time.Duration // warm-up + duration
	shape Shape
	start time.Time
	rec   *recorder
	cum   []float64 // cumulative target weights
	exec  executor

	mu    sync.Mutex // guards sched, taken and countEnd
	sched *Schedule
	// taken counts the requests of the measured period handed out, for Config.Requests, the
	// last due at lastTaken; countEnd is when the period of Config.Requests ended (0 until it
	// has).
	taken     int64
	lastTaken time.Duration
	countEnd  time.Duration
}

// take hands out a request of the closed model due at due, or the open model's once nextDue
// took it from the schedule; it reports false once Config.Requests requests of the measured
// period were handed out. The open model's period then ends halfway between the last request
// and the one refused, as a period of Duration ends between the last arrival in it and the
// first after it, so that rates come out right (exactly N requests in N/rate seconds at a
// constant rate). Requests of the warm-up are not counted. e.mu is held.
func (e *engine) take(due time.Duration) bool {
	if e.cfg.Requests == 0 || due < e.cfg.Warmup {
		return true
	}
	if e.taken == e.cfg.Requests {
		if e.countEnd == 0 {
			e.countEnd = e.lastTaken + (due-e.lastTaken)/2
		}
		return false
	}
	e.taken++
	e.lastTaken = due
	return true
}

// takeClosed is take for a closed-model user about to send at now.
func (e *engine) takeClosed(now time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.take(now)
}

func newEngine(cfg Config) (*engine, error) {
	e := &engine{cfg: cfg, total: cfg.Warmup + cfg.Duration, rec: newRecorder(cfg.Warmup, cfg.Targets)}
	if cfg.Samples != nil {
		e.rec.keepSamples()
	}
	var sum float64
	fast := !cfg.HTTP2
	for _, t := range cfg.Targets {
		sum += t.Weight
		e.cum = append(e.cum, sum)
		if u, _ := ValidateURL(t.URL); u.Scheme != "http" {
			fast = false
		}
	}
	if fast {
		reqs := make([]*h1Request, len(cfg.Targets))
		for i, t := range cfg.Targets {
			r, err := newH1Request(t, userAgent)
			if err != nil {
				return nil, fmt.Errorf("prepare %s: %w", t.URL, err)
			}
			reqs[i] = r
		}
		if cfg.path != pathGoroutines {
			e.exec = newLoops(e, reqs)
		}
		if e.exec == nil {
			e.exec = &goroutines{e: e, name: "goroutines", newSend: func(ctx context.Context) sender { return newH1Sender(ctx, reqs, cfg.MaxBody) }}
		}
	} else {
		client := &http.Client{
			Transport: newNetTransport(&cfg),
			// Redirects are answers to measure, not to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		s := &netSender{client: client, targets: cfg.Targets, maxBody: cfg.MaxBody}
		e.exec = &goroutines{e: e, name: "net/http", newSend: func(context.Context) sender { return s }}
	}
	if cfg.Model == ModelOpen {
		e.shape = cfg.Arrival.Shape()
		e.sched = NewShardSchedule(e.shape, cfg.Arrival.Poisson, cfg.Arrival.Seed, e.total, cfg.Shard)
	}
	return e, nil
}

func (e *engine) since() time.Duration { return time.Since(e.start) }

// offered is the rate this run's schedule offers over [from, from+length): its shard's share of
// the shape's.
func (e *engine) offered(from, length time.Duration) float64 {
	return (e.shape.Count(from+length) - e.shape.Count(from)) / length.Seconds() / float64(max(e.cfg.Shard.Count, 1))
}

// waitStart waits for Config.StartAt, or for ctx to end (false).
func (e *engine) waitStart(ctx context.Context) bool {
	wait := time.Until(e.cfg.StartAt)
	if e.cfg.StartAt.IsZero() || wait <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (e *engine) run(ctx context.Context, progress func(Progress)) (*result.Load, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !e.waitStart(ctx) {
		return nil, fmt.Errorf("interrupted while waiting for the start at %s: nothing was sent", e.cfg.StartAt.Format(time.RFC3339Nano))
	}
	startCPU := cpuTime()
	e.start = time.Now()
	var wg sync.WaitGroup
	var unsent int64
	var unsentMu sync.Mutex
	addUnsent := func(n int64) {
		unsentMu.Lock()
		unsent += n
		unsentMu.Unlock()
	}
	var sw *samplesWriter
	stopSamples, samplesDone := make(chan struct{}), make(chan struct{})
	if e.cfg.Samples != nil {
		sw = newSamplesWriter(e.rec, &e.cfg, e.start)
		go func() { sw.run(stopSamples); close(samplesDone) }()
	}
	if err := e.exec.start(runCtx, &wg, addUnsent); err != nil {
		if sw != nil {
			close(stopSamples)
			<-samplesDone
		}
		return nil, err
	}
	workersDone := make(chan struct{})
	go func() { wg.Wait(); close(workersDone) }()
	measured := e.tick(ctx, workersDone, cancel, progress)
	cancel()
	<-workersDone
	cpu := cpuTime() - startCPU
	wall := e.since()

	l := &result.Load{
		Schema: result.LoadSchema, Target: e.cfg.Redacted().Targets[0].URL, Model: e.cfg.Model,
		StartedAt: e.start.UTC(), Partial: ctx.Err() != nil, DurationS: measured.Seconds(),
	}
	e.rec.unsent(unsent)
	if err := e.rec.fill(l); err != nil {
		return nil, err
	}
	if measured > 0 {
		completed := l.Requests - l.ErrorsByKind["unsent"] - l.ErrorsByKind[KindInterrupted]
		l.AchievedRPS = float64(completed) / measured.Seconds()
		for i := range l.PerTarget {
			t := &l.PerTarget[i]
			t.AchievedRPS = float64(t.Requests-t.ErrorsByKind[KindInterrupted]) / measured.Seconds()
		}
		if e.shape != nil {
			l.OfferedRPS = e.offered(e.cfg.Warmup, measured)
		}
	}
	l.Generator.CPUSeconds = cpu.Seconds()
	l.Generator.Cores = runtime.GOMAXPROCS(0)
	l.Generator.CPUUtilization = cpu.Seconds() / (wall.Seconds() * float64(l.Generator.Cores))
	l.Generator.Connections = e.cfg.Connections
	l.Generator.IO = e.exec.io()
	if l.OfferedRPS > 0 && l.Requests > 0 {
		// Against the requests actually due, not the mean rate: Poisson arrivals fall short of
		// their mean by chance, and that is not the generator failing to keep up.
		l.Generator.AchievedRatio = float64(l.Requests-l.ErrorsByKind["unsent"]) / float64(l.Requests)
	}
	l.Verdict = verdict(l, e.cfg.Model)
	if sw != nil {
		close(stopSamples)
		<-samplesDone
		l.Generator.SamplesWritten, l.Generator.SamplesDropped = sw.n, e.rec.droppedSamples()
		if n := sw.note(l.Generator.SamplesDropped); n != "" {
			l.Verdict.Notes = append(l.Verdict.Notes, n)
		}
	}
	cfgJSON, err := json.Marshal(e.cfg.Redacted())
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	l.Config = cfgJSON
	if e.cfg.Shard.Count > 0 {
		l.Shard = &e.cfg.Shard
	}
	if !e.cfg.StartAt.IsZero() {
		l.StartAt = &result.StartAt{Requested: e.cfg.StartAt.UTC(), OffsetMS: float64(e.start.Sub(e.cfg.StartAt)) / float64(time.Millisecond)}
	}
	return l, nil
}

// tick closes a timeline second every second of the measured period and reports progress, until
// the run's time is up, ctx ends or the workers are done. When ctx ends it stops the workers
// (stop) and waits for them to count the requests they had in flight, so that the last second
// holds them. It returns the measured duration.
func (e *engine) tick(ctx context.Context, workersDone <-chan struct{}, stop func(), progress func(Progress)) time.Duration {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	measuredSec := 0
	end := e.total
	for {
		var canceled, finished bool
		select {
		case <-ctx.Done():
			canceled = true
		case <-workersDone: // the schedule ran out: every request due in the run was sent
			finished = true
		case <-t.C:
		}
		now := e.since()
		if canceled || finished || now >= end {
			// Close the last, possibly short, second, counting what completes after the end too.
			if canceled {
				end = min(max(now, e.cfg.Warmup), end)
				stop()
			}
			<-workersDone // in-flight requests finish (bounded by the request timeout), or are counted as interrupted
			if finished && !canceled {
				e.mu.Lock()
				if e.countEnd > 0 {
					// Config.Requests ended the period: in the open model when the next request
					// would have been due, in the closed model when the last answer came.
					end = e.countEnd
					if e.cfg.Model == ModelClosed {
						end = max(now, e.cfg.Warmup)
					}
				}
				e.mu.Unlock()
			}
			measured := end - e.cfg.Warmup
			if length := measured - time.Duration(measuredSec)*time.Second; length > 0 {
				e.cutSecond(measuredSec, length, progress, now, true)
			}
			return measured
		}
		if now >= e.cfg.Warmup+time.Duration(measuredSec+1)*time.Second {
			e.cutSecond(measuredSec, time.Second, progress, now, false)
			measuredSec++
		} else if progress != nil && now < e.cfg.Warmup {
			progress(Progress{Elapsed: now, Total: e.total, Warmup: true})
		}
		// Aim the next tick at the next second boundary of the measured period.
		next := e.cfg.Warmup + time.Duration(measuredSec+1)*time.Second
		if now < e.cfg.Warmup {
			next = min(next, now+time.Second)
		}
		t.Reset(max(next-e.since(), time.Millisecond))
	}
}

func (e *engine) cutSecond(i int, length time.Duration, progress func(Progress), now time.Duration, final bool) {
	var offered float64
	if e.shape != nil {
		offered = e.offered(e.cfg.Warmup+time.Duration(i)*time.Second, length)
	}
	s, reqs, errs := e.rec.cut(i, length, offered)
	if progress != nil {
		progress(Progress{Elapsed: min(now, e.total), Total: e.total, Second: s, Requests: reqs, Errors: errs, Final: final})
	}
}

// statusKinds avoids formatting a string per failed request.
var statusKinds = func() [600]string {
	var k [600]string
	for i := range k {
		k[i] = fmt.Sprintf("status_%d", i)
	}
	return k
}()

func statusKind(status int) string {
	if status >= 0 && status < len(statusKinds) {
		return statusKinds[status]
	}
	return "status_other"
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

const hexDigits = "0123456789abcdef"

// traceparent writes a W3C traceparent, version 00, sampled: 00-TRACEID-SPANID-01.
func traceparent(dst *[55]byte, trace *[16]byte, span uint64) {
	copy(dst[:3], "00-")
	for i, b := range trace {
		dst[3+2*i], dst[4+2*i] = hexDigits[b>>4], hexDigits[b&0xf]
	}
	dst[35] = '-'
	for i := range 8 {
		b := byte(span >> (56 - 8*i))
		dst[36+2*i], dst[37+2*i] = hexDigits[b>>4], hexDigits[b&0xf]
	}
	copy(dst[52:], "-01")
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// KindInterrupted is the error kind of the requests in flight when a run was interrupted (its
// context ended): each is counted, with the latency it had reached.
const KindInterrupted = "interrupted"

// answered returns how many requests the target answered with an HTTP status: the ok ones, and
// errors of a status or a body over the limit (which came with a status). Refused, reset, timed
// out, garbled or unsent requests got no answer.
func answered(kinds map[string]int64, ok int64) int64 {
	n := ok
	for k, c := range kinds {
		if strings.HasPrefix(k, "status_") || k == "body_too_large" {
			n += c
		}
	}
	return n
}

// kindWords are the words a verdict uses for the error kinds of requests that got no answer.
var kindWords = map[string]string{
	"refused": "connection refused", "reset": "connection reset", "closed": "connection closed before the answer",
	"timeout": "timed out", "tls": "TLS failed", "dns": "name not resolved", "protocol": "not an HTTP answer",
	"unsent": "never sent", KindInterrupted: "interrupted",
}

// describeKinds lists error kinds as "connection refused ×20, timed out ×3", the most frequent first.
func describeKinds(kinds map[string]int64) string {
	names := slices.Collect(maps.Keys(kinds))
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(kinds[b], kinds[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(names))
	for _, k := range names {
		w := kindWords[k]
		if w == "" {
			w = k
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", w, kinds[k]))
	}
	return strings.Join(parts, ", ")
}

// verdict judges whether the run measured the target: it did not when it was interrupted, when
// the target answered no request, or when the generator rather than the target was the limit.
func verdict(l *result.Load, model Model) result.Verdict {
	v := result.Verdict{Valid: true, Reasons: []string{}}
	fail := func(format string, args ...any) {
		v.Valid = false
		v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...))
	}
	g := l.Generator
	interrupted := l.ErrorsByKind[KindInterrupted]
	switch {
	case l.Partial:
		// The schedule was cut short and requests in flight with it: the generator's own checks
		// below would blame it for what the interruption did.
		fail("the run was interrupted after %.1f s of measurement: %d requests in flight were cut short (errors of kind %s)", l.DurationS, interrupted, KindInterrupted)
	case l.Requests == 0:
		fail("no request was measured: lengthen --duration or check the rate")
	}
	// Requests all cut short by an interruption were not refused by the target: the reason above
	// says what happened to them.
	if l.Requests > 0 && answered(l.ErrorsByKind, l.Requests-l.Errors) == 0 && interrupted < l.Requests {
		fail("no request was answered: %s", describeKinds(l.ErrorsByKind))
	}
	if l.Partial {
		return v
	}
	if g.CPUUtilization >= maxCPUUtilization {
		fail("the generator used %.0f%% of its %d cores: it, not the target, may have been the limit", 100*g.CPUUtilization, g.Cores)
	}
	if model == ModelOpen && g.DispatchLagMS.P99 > float64(maxDispatchLagP99)/float64(time.Millisecond) {
		if g.LateDispatches >= minLateDispatches {
			fail("the generator sent late: with a connection free, dispatch lag p99 was %.1f ms (limit %v; %d requests sent later than that)", g.DispatchLagMS.P99, maxDispatchLagP99, g.LateDispatches)
		} else {
			v.Notes = append(v.Notes, fmt.Sprintf("%d requests were sent over %v late (dispatch lag p99 %.1f ms): too few to invalidate the run", g.LateDispatches, maxDispatchLagP99, g.DispatchLagMS.P99))
		}
	}
	if model == ModelOpen && l.OfferedRPS > 0 && g.AchievedRatio < minAchievedRatio && g.QueuedShare < noteQueuedShare {
		fail("achieved %.1f%% of the offered rate though connections were free: the generator could not keep the schedule", 100*g.AchievedRatio)
	}
	if model == ModelOpen && g.QueuedShare >= noteQueuedShare {
		v.Notes = append(v.Notes, fmt.Sprintf(
			"%.1f%% of requests waited for one of the %d connections (p99 wait %.1f ms); that wait is in their latency, as a client with %d connections would feel it. If the target takes more concurrency, raise --connections",
			100*g.QueuedShare, g.Connections, g.QueueWaitMS.P99, g.Connections))
	}
	if n := l.ErrorsByKind["unsent"]; n > 0 {
		v.Notes = append(v.Notes, fmt.Sprintf("%d requests were due but never sent: every connection stayed busy until the end (counted as errors of kind unsent)", n))
	}
	return v
}
