package faas

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab/faas/guest"
)

// Errors of Invoke; each error Invoke returns wraps one of them.
var (
	// ErrUnknownFunction: no function of that name (404).
	ErrUnknownFunction = errors.New("no such function")
	// ErrThrottled: every instance the function's concurrency allows is busy (429).
	ErrThrottled = errors.New("function throttled at its concurrency limit")
	// ErrTimeout: the invocation ran past the function's time limit; its instance was killed (504).
	ErrTimeout = errors.New("function timed out")
	// ErrOutOfMemory: the instance passed its memory size and was killed (502).
	ErrOutOfMemory = errors.New("function out of memory")
	// ErrCrashed: the instance exited or broke the protocol mid-request (502).
	ErrCrashed = errors.New("function crashed")
	// ErrInit: a cold start failed: the instance did not start, or its init failed (502).
	ErrInit = errors.New("function init failed")
	// ErrClosed: the platform is closed (503).
	ErrClosed = errors.New("function platform closed")
)

// Platform runs functions: a pool of instances per function, started on demand (cold starts)
// or provisioned in advance, one invocation at a time each, reclaimed when idle (provisioned
// ones never). It is safe for concurrent use.
type Platform struct {
	cfg    Config
	fns    map[string]*function
	m      *metrics
	tracer trace.Tracer
	stop   chan struct{}
	// ctx ends with Close: it bounds the starts of provisioned instances and the pings.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // janitors, pingers, provisioned instances starting
	wasm   *wasmEngine    // nil without a wasm function
}

// function is one function's pool of instances.
type function struct {
	cfg Function
	p   *Platform
	rt  fnRuntime

	mu        sync.Mutex
	idle      []pooled // on-demand instances, a stack: the most recently released last
	provIdle  []pooled // provisioned instances, a stack too, taken first; never reclaimed
	live      int      // starting, busy and idle instances, provisioned ones included
	busy      int      // starting or invoked
	provReady int      // provisioned instances initialised: idle or invoked
	closed    bool
	// enabled and closedAt bound the time provisioned concurrency is billed for.
	enabled, closedAt time.Time
}

// pooled is a running instance as the pool holds it.
type pooled struct {
	proc        *instance
	provisioned bool
	since       time.Time // idle since
}

// New validates cfg, compiles the modules of the wasm functions (through Config.WasmCacheDir)
// and starts a platform: it returns at once; the functions' provisioned instances, if any,
// start in the background, and no other instance runs until an invocation (or a keep-warm
// ping) needs it.
func New(cfg Config) (*Platform, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Platform{cfg: cfg, fns: map[string]*function{}, stop: make(chan struct{}),
		tracer: cfg.TracerProvider.Tracer("github.com/headroom/headroom/lab/faas")}
	// The runtimes first (a module that does not compile is a config error): nothing is
	// registered nor started yet if one fails.
	now := time.Now()
	for i, fc := range cfg.Functions {
		rt, err := p.newRuntime(i, fc)
		if err != nil {
			_ = p.closeRuntimes()
			return nil, err
		}
		p.fns[fc.Name] = &function{cfg: fc, p: p, rt: rt, enabled: now}
	}
	m, err := newMetrics(cfg.Registerer, p.provisionedGBs)
	if err != nil {
		_ = p.closeRuntimes()
		return nil, err
	}
	p.m = m
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for _, fc := range cfg.Functions {
		f := p.fns[fc.Name]
		if fc.KeepWarm > 0 && fc.KeepWarmEvery >= fc.IdleTimeout {
			cfg.Logger.Warn("keep-warm pings come at or after the idle timeout: they cannot keep instances warm",
				"function", fc.Name, "keep_warm_every", fc.KeepWarmEvery, "idle_timeout", fc.IdleTimeout)
		}
		f.mu.Lock()
		f.gauges()
		f.provision(fc.Provisioned)
		f.mu.Unlock()
		p.wg.Add(1)
		go f.janitor()
		if fc.KeepWarm > 0 {
			p.wg.Add(1)
			go f.pinger()
		}
	}
	return p, nil
}

// Config returns the platform's configuration, defaults filled in.
func (p *Platform) Config() Config { return p.cfg }

// FunctionStats is a function's pool at one moment, as Stats reports it.
type FunctionStats struct {
	// Idle and Busy count instances, provisioned ones included; a busy one is starting or
	// serving an invocation.
	Idle, Busy int
	// Provisioned counts the provisioned instances initialised (idle or busy): below
	// Function.Provisioned while they start or one is being replaced.
	Provisioned int
	// ProvisionedGBSeconds is what provisioned concurrency has been billed so far, as
	// headroom_faas_provisioned_gigabyte_seconds_total: Function.Provisioned × MemoryMB / 1024 ×
	// the seconds since New (until Close), whether the instances are ready or serve.
	ProvisionedGBSeconds float64
}

// Stats reports a function's instances; ok is false for an unknown function.
func (p *Platform) Stats(name string) (s FunctionStats, ok bool) {
	f := p.fns[name]
	if f == nil {
		return s, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return FunctionStats{Idle: len(f.idle) + len(f.provIdle), Busy: f.busy, Provisioned: f.provReady,
		ProvisionedGBSeconds: f.provisionedGBs(time.Now())}, true
}

// provisionedGBs is each function's provisioned GB-s now (the metric's reader).
func (p *Platform) provisionedGBs() map[string]float64 {
	now := time.Now()
	gbs := make(map[string]float64, len(p.fns))
	for name, f := range p.fns {
		f.mu.Lock()
		gbs[name] = f.provisionedGBs(now)
		f.mu.Unlock()
	}
	return gbs
}

// provisionedGBs is the function's provisioned GB-s at now; f.mu is held. Lambda bills
// provisioned concurrency for the amount configured and the time it is configured, from
// before the instances are ready; its 5-minute rounding is left to the bill (package cost).
func (f *function) provisionedGBs(now time.Time) float64 {
	if !f.closedAt.IsZero() {
		now = f.closedAt
	}
	return float64(f.cfg.Provisioned) * float64(f.cfg.MemoryMB) / 1024 * now.Sub(f.enabled).Seconds()
}

// Close stops the janitors, the pingers and every instance: idle ones at once, busy ones as
// their invocations end (each within its function's Timeout), provisioned ones still starting
// at once; new invocations fail with ErrClosed. It waits for the busy ones until ctx ends, then
// returns an error saying how many are left; then it frees the functions' compiled modules,
// which stops a wasm instance still busy.
func (p *Platform) Close(ctx context.Context) error {
	select {
	case <-p.stop:
		return nil
	default:
	}
	close(p.stop)
	p.cancel()
	// Closed first: then no instance dying replaces itself, so no goroutine joins p.wg.
	now := time.Now()
	for _, f := range p.fns {
		f.mu.Lock()
		f.closed = true
		f.closedAt = now
		f.mu.Unlock()
	}
	p.wg.Wait()
	for _, f := range p.fns {
		f.mu.Lock()
		idle := append(f.idle, f.provIdle...)
		f.live -= len(idle)
		f.provReady -= len(f.provIdle)
		f.idle, f.provIdle = nil, nil
		f.gauges()
		f.mu.Unlock()
		for _, in := range idle {
			in.proc.close()
		}
	}
	// A busy instance is closed by its release; wait for them.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		live := 0
		for _, f := range p.fns {
			f.mu.Lock()
			live += f.live
			f.mu.Unlock()
		}
		if live == 0 {
			return p.closeRuntimes()
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("close: %d instances still busy: %w", live, ctx.Err()), p.closeRuntimes())
		case <-tick.C:
		}
	}
}

// Invocation is what Invoke reports besides the response.
type Invocation struct {
	// ID is the invocation id (faas.invocation_id).
	ID string
	// Cold is whether a new instance was started for it.
	Cold bool
	// Start and Init are the cold start's phases: the runtime's launch (fork/exec, or the
	// module's instantiation) to the instance's first byte, and from there to its handler's
	// ready (zero when warm).
	Start, Init time.Duration
	// Duration is the invocation's, from the request sent to the instance to its answer.
	Duration time.Duration
	// BilledMS is Duration plus a cold start's Start and Init, rounded up to the millisecond, as
	// Lambda bills (1 ms granularity, the init phase billed since 2025-08-01).
	BilledMS int64
	// Provisioned is whether a provisioned instance served it (Lambda bills its duration at the
	// provisioned price).
	Provisioned bool
}

// Triggers of an invocation (guest.Request.Trigger), as faas.trigger names them (OTel's values).
const (
	TriggerHTTP   = "http"
	TriggerPubSub = "pubsub"
	TriggerTimer  = "timer" // keep-warm pings
)

// Invoke runs req on the function name: on an idle instance (a provisioned one first, else
// the most recently used), or a new one if the concurrency limit allows, else ErrThrottled.
// Its error wraps one of the package's Err… values. ctx bounds the invocation besides the
// function's Timeout. req.Trigger defaults to TriggerHTTP.
func (p *Platform) Invoke(ctx context.Context, name string, req guest.Request) (guest.Response, Invocation, error) {
	f := p.fns[name]
	if f == nil {
		return guest.Response{}, Invocation{ID: rand.Text()}, fmt.Errorf("%w: %q", ErrUnknownFunction, name)
	}
	return f.run(ctx, req, cmp.Or(req.Trigger, TriggerHTTP), nil)
}

// run is an invocation with its span and metrics; acquired, if not nil, is called once the
// invocation has an instance or has failed to get one (the keep-warm pings' barrier).
func (f *function) run(ctx context.Context, req guest.Request, trig string, acquired func(), attrs ...attribute.KeyValue) (guest.Response, Invocation, error) {
	inv := Invocation{ID: rand.Text()}
	req.ID, req.Trigger = inv.ID, trig
	ctx, span := f.p.tracer.Start(ctx, f.cfg.Name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("faas.name", f.cfg.Name),
		attribute.String("faas.trigger", trig),
		attribute.String("faas.invocation_id", inv.ID),
		attribute.Int64("faas.max_memory", int64(f.cfg.MemoryMB)<<20),
	), trace.WithAttributes(attrs...))
	defer span.End()
	// The instance's own spans are children of the invocation's, as Lambda passes the trace
	// context to a function (its _X_AMZN_TRACE_ID); the caller's header is not changed.
	req.Header = req.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := f.invoke(ctx, req, &inv, span, acquired)
	// OTel's faas.instance is the environment's id, not its kind: no convention names
	// provisioned concurrency, hence the headroom. prefix.
	span.SetAttributes(attribute.Bool("faas.coldstart", inv.Cold), attribute.Bool("headroom.faas.provisioned", inv.Provisioned))
	outcome := outcomeOf(err)
	f.p.m.invocations.WithLabelValues(f.cfg.Name, trig, outcome).Inc()
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attribute.String("error.type", outcome))
	}
	return resp, inv, err
}

func (f *function) invoke(ctx context.Context, req guest.Request, inv *Invocation, span trace.Span, acquired func()) (guest.Response, error) {
	in, err := f.acquire(ctx, inv, span)
	if acquired != nil {
		acquired()
	}
	if err != nil {
		return guest.Response{}, err
	}
	inv.Provisioned = in.provisioned
	callCtx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	start := time.Now()
	resp, err := in.proc.invoke(callCtx, req)
	inv.Duration = time.Since(start)
	if errors.Is(err, ErrTimeout) && ctx.Err() == nil {
		err = fmt.Errorf("%w after %v (the function's limit)", ErrTimeout, f.cfg.Timeout)
	}
	f.release(in, err == nil)
	inv.BilledMS = int64(math.Ceil(float64(inv.Duration+inv.Start+inv.Init) / float64(time.Millisecond)))
	m := f.p.m
	m.duration.WithLabelValues(f.cfg.Name, fmt.Sprint(inv.Cold)).Observe(inv.Duration.Seconds())
	m.billed.WithLabelValues(f.cfg.Name, fmt.Sprint(inv.Provisioned)).Add(float64(inv.BilledMS) / 1000 * float64(f.cfg.MemoryMB) / 1024)
	if err != nil {
		return guest.Response{}, fmt.Errorf("%s: %w", f.cfg.Name, err)
	}
	return resp, nil
}

// acquire takes an idle instance, a provisioned one first as Lambda routes to provisioned
// concurrency before it spills over, or starts one within the concurrency limit.
func (f *function) acquire(ctx context.Context, inv *Invocation, span trace.Span) (*pooled, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, ErrClosed
	}
	for _, stack := range []*[]pooled{&f.provIdle, &f.idle} {
		if n := len(*stack); n > 0 {
			in := (*stack)[n-1]
			*stack = (*stack)[:n-1]
			f.busy++
			f.gauges()
			f.mu.Unlock()
			return &in, nil
		}
	}
	if f.live >= f.cfg.Concurrency {
		f.mu.Unlock()
		f.p.m.throttles.WithLabelValues(f.cfg.Name).Inc()
		return nil, fmt.Errorf("%s: %w (%d instances busy)", f.cfg.Name, ErrThrottled, f.cfg.Concurrency)
	}
	f.live++
	f.busy++
	f.gauges()
	f.mu.Unlock()

	inv.Cold = true
	f.p.m.coldStarts.WithLabelValues(f.cfg.Name).Inc()
	startCtx, cancel := context.WithTimeout(ctx, f.cfg.StartTimeout)
	defer cancel()
	proc, cs, err := startInstance(startCtx, f.rt)
	if !cs.started.IsZero() {
		inv.Start = cs.started.Sub(cs.begin)
		f.p.m.coldStart.WithLabelValues(f.cfg.Name, "start").Observe(inv.Start.Seconds())
		f.phaseSpan(ctx, "faas.start", cs.begin, cs.started)
	}
	if !cs.ready.IsZero() {
		inv.Init = cs.ready.Sub(cs.started)
		f.p.m.coldStart.WithLabelValues(f.cfg.Name, "init").Observe(inv.Init.Seconds())
		f.phaseSpan(ctx, "faas.init", cs.started, cs.ready)
	}
	if err != nil {
		f.release(nil, false)
		return nil, fmt.Errorf("%s: %w", f.cfg.Name, err)
	}
	return &pooled{proc: proc}, nil
}

// phaseSpan records a cold start's phase as a child span of the invocation.
func (f *function) phaseSpan(ctx context.Context, name string, from, to time.Time) {
	_, s := f.p.tracer.Start(ctx, name, trace.WithTimestamp(from), trace.WithAttributes(attribute.String("faas.name", f.cfg.Name)))
	s.End(trace.WithTimestamp(to))
}

// release ends an invocation: a healthy instance goes back on top of its idle stack, a failed
// one (or any, once closed) is discarded, and a provisioned one replaced. in nil: the start
// failed.
func (f *function) release(in *pooled, healthy bool) {
	f.mu.Lock()
	f.busy--
	if in != nil && healthy && !f.closed {
		in.since = time.Now()
		if in.provisioned {
			f.provIdle = append(f.provIdle, *in)
		} else {
			f.idle = append(f.idle, *in)
		}
		f.gauges()
		f.mu.Unlock()
		return
	}
	f.live--
	replace := in != nil && in.provisioned && !f.closed
	if in != nil && in.provisioned {
		f.provReady--
	}
	if replace {
		f.provision(1)
	}
	f.gauges()
	f.mu.Unlock()
	if replace {
		f.p.cfg.Logger.Info("provisioned instance ended; replacing it", "function", f.cfg.Name)
	}
	if in != nil {
		in.proc.close() // a no-op wait if it was killed already
	}
}

// janitor reclaims instances idle for IdleTimeout, checking a few times per IdleTimeout
// (bounded to between 1 ms and 1 s), until the platform closes.
func (f *function) janitor() {
	defer f.p.wg.Done()
	every := min(max(f.cfg.IdleTimeout/4, time.Millisecond), time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-f.p.stop:
			return
		case now := <-tick.C:
			f.reclaim(now)
		}
	}
}

// reclaim closes the on-demand instances idle since before now - IdleTimeout: the bottom of
// the stack.
func (f *function) reclaim(now time.Time) {
	f.mu.Lock()
	n := 0
	for n < len(f.idle) && now.Sub(f.idle[n].since) >= f.cfg.IdleTimeout {
		n++
	}
	old := append([]pooled(nil), f.idle[:n]...)
	f.idle = append(f.idle[:0], f.idle[n:]...)
	f.live -= n
	f.gauges()
	f.mu.Unlock()
	for _, in := range old {
		in.proc.close()
	}
}

// gauges sets the instance gauges; f.mu is held.
func (f *function) gauges() {
	f.p.m.instances.WithLabelValues(f.cfg.Name, "idle").Set(float64(len(f.idle) + len(f.provIdle)))
	f.p.m.instances.WithLabelValues(f.cfg.Name, "busy").Set(float64(f.busy))
	f.p.m.provisioned.WithLabelValues(f.cfg.Name).Set(float64(f.provReady))
}

// outcomeOf names an invocation's outcome for metrics and spans.
func outcomeOf(err error) string {
	for _, o := range []struct {
		err  error
		name string
	}{
		{ErrThrottled, "throttled"}, {ErrTimeout, "timeout"}, {ErrOutOfMemory, "out_of_memory"},
		{ErrCrashed, "crashed"}, {ErrInit, "init_error"}, {ErrClosed, "closed"},
	} {
		if errors.Is(err, o.err) {
			return o.name
		}
	}
	if err != nil {
		return "error"
	}
	return "ok"
}
