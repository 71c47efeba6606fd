package faas

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
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

// Platform runs functions: a pool of instances per function, started on demand (cold starts),
// one invocation at a time each, reclaimed when idle. It is safe for concurrent use.
type Platform struct {
	cfg    Config
	fns    map[string]*function
	m      *metrics
	tracer trace.Tracer
	stop   chan struct{}
	wg     sync.WaitGroup // janitors
	wasm   *wasmEngine    // nil without a wasm function
}

// function is one function's pool of instances.
type function struct {
	cfg Function
	p   *Platform
	rt  fnRuntime

	mu     sync.Mutex
	idle   []idleInstance // a stack: the most recently released last
	live   int            // starting, busy and idle instances
	busy   int            // starting or invoked
	closed bool
}

type idleInstance struct {
	proc  *instance
	since time.Time
}

// New validates cfg, compiles the modules of the wasm functions (through Config.WasmCacheDir)
// and starts a platform: no instance runs until the first invocation.
func New(cfg Config) (*Platform, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Platform{cfg: cfg, fns: map[string]*function{}, stop: make(chan struct{}),
		tracer: cfg.TracerProvider.Tracer("github.com/headroom/headroom/lab/faas")}
	// The runtimes first (a module that does not compile is a config error): nothing is
	// registered nor started yet if one fails.
	for i, fc := range cfg.Functions {
		rt, err := p.newRuntime(i, fc)
		if err != nil {
			_ = p.closeRuntimes()
			return nil, err
		}
		p.fns[fc.Name] = &function{cfg: fc, p: p, rt: rt}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		_ = p.closeRuntimes()
		return nil, err
	}
	p.m = m
	for _, fc := range cfg.Functions {
		f := p.fns[fc.Name]
		f.gauges()
		p.wg.Add(1)
		go f.janitor()
	}
	return p, nil
}

// Config returns the platform's configuration, defaults filled in.
func (p *Platform) Config() Config { return p.cfg }

// Stats counts a function's instances; ok is false for an unknown function.
func (p *Platform) Stats(name string) (idle, busy int, ok bool) {
	f := p.fns[name]
	if f == nil {
		return 0, 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.idle), f.busy, true
}

// Close stops the janitors and every instance: idle ones at once, busy ones as their
// invocations end (each within its function's Timeout); new invocations fail with ErrClosed.
// It waits for the busy ones until ctx ends, then returns an error saying how many are left;
// then it frees the functions' compiled modules, which stops a wasm instance still busy.
func (p *Platform) Close(ctx context.Context) error {
	select {
	case <-p.stop:
		return nil
	default:
	}
	close(p.stop)
	p.wg.Wait()
	for _, f := range p.fns {
		f.mu.Lock()
		f.closed = true
		idle := f.idle
		f.idle = nil
		f.live -= len(idle)
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
}

// Invoke runs req on the function name: on an idle instance (the most recently used), or a
// new one if the concurrency limit allows, else ErrThrottled. Its error wraps one of the
// package's Err… values. ctx bounds the invocation besides the function's Timeout.
func (p *Platform) Invoke(ctx context.Context, name string, req guest.Request) (guest.Response, Invocation, error) {
	inv := Invocation{ID: rand.Text()}
	req.ID = inv.ID
	f := p.fns[name]
	if f == nil {
		return guest.Response{}, inv, fmt.Errorf("%w: %q", ErrUnknownFunction, name)
	}
	ctx, span := p.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("faas.name", name),
		attribute.String("faas.trigger", "http"),
		attribute.String("faas.invocation_id", inv.ID),
		attribute.Int64("faas.max_memory", int64(f.cfg.MemoryMB)<<20),
	))
	defer span.End()
	resp, err := f.invoke(ctx, req, &inv, span)
	span.SetAttributes(attribute.Bool("faas.coldstart", inv.Cold))
	outcome := outcomeOf(err)
	p.m.invocations.WithLabelValues(name, outcome).Inc()
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attribute.String("error.type", outcome))
	}
	return resp, inv, err
}

func (f *function) invoke(ctx context.Context, req guest.Request, inv *Invocation, span trace.Span) (guest.Response, error) {
	proc, err := f.acquire(ctx, inv, span)
	if err != nil {
		return guest.Response{}, err
	}
	callCtx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	start := time.Now()
	resp, err := proc.invoke(callCtx, req)
	inv.Duration = time.Since(start)
	if errors.Is(err, ErrTimeout) && ctx.Err() == nil {
		err = fmt.Errorf("%w after %v (the function's limit)", ErrTimeout, f.cfg.Timeout)
	}
	f.release(proc, err == nil)
	inv.BilledMS = int64(math.Ceil(float64(inv.Duration+inv.Start+inv.Init) / float64(time.Millisecond)))
	m := f.p.m
	m.duration.WithLabelValues(f.cfg.Name, fmt.Sprint(inv.Cold)).Observe(inv.Duration.Seconds())
	m.billed.WithLabelValues(f.cfg.Name).Add(float64(inv.BilledMS) / 1000 * float64(f.cfg.MemoryMB) / 1024)
	if err != nil {
		return guest.Response{}, fmt.Errorf("%s: %w", f.cfg.Name, err)
	}
	return resp, nil
}

// acquire takes an idle instance, or starts one within the concurrency limit.
func (f *function) acquire(ctx context.Context, inv *Invocation, span trace.Span) (*instance, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(f.idle); n > 0 {
		in := f.idle[n-1]
		f.idle = f.idle[:n-1]
		f.busy++
		f.gauges()
		f.mu.Unlock()
		return in.proc, nil
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
	return proc, nil
}

// phaseSpan records a cold start's phase as a child span of the invocation.
func (f *function) phaseSpan(ctx context.Context, name string, from, to time.Time) {
	_, s := f.p.tracer.Start(ctx, name, trace.WithTimestamp(from), trace.WithAttributes(attribute.String("faas.name", f.cfg.Name)))
	s.End(trace.WithTimestamp(to))
}

// release ends an invocation: a healthy instance goes back on top of the idle stack, a failed
// one (or any, once closed) is discarded. proc nil: the cold start failed.
func (f *function) release(proc *instance, healthy bool) {
	f.mu.Lock()
	f.busy--
	if proc != nil && healthy && !f.closed {
		f.idle = append(f.idle, idleInstance{proc: proc, since: time.Now()})
		f.gauges()
		f.mu.Unlock()
		return
	}
	f.live--
	f.gauges()
	f.mu.Unlock()
	if proc != nil {
		proc.close() // a no-op wait if it was killed already
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

// reclaim closes the instances idle since before now - IdleTimeout: the bottom of the stack.
func (f *function) reclaim(now time.Time) {
	f.mu.Lock()
	n := 0
	for n < len(f.idle) && now.Sub(f.idle[n].since) >= f.cfg.IdleTimeout {
		n++
	}
	old := append([]idleInstance(nil), f.idle[:n]...)
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
	f.p.m.instances.WithLabelValues(f.cfg.Name, "idle").Set(float64(len(f.idle)))
	f.p.m.instances.WithLabelValues(f.cfg.Name, "busy").Set(float64(f.busy))
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
