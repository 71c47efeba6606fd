package isolate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/headroom/headroom/lab/isolate/abi"
)

// The ABI's types, so that a caller needs this package alone.
type (
	Request    = abi.Request
	Decision   = abi.Decision
	Phase      = abi.Phase
	Action     = abi.Action
	Header     = abi.Header
	HeaderEdit = abi.HeaderEdit
	EditKind   = abi.EditKind
	Identity   = abi.Identity
)

// The ABI's constants, for the same reason.
const (
	PhaseRequest   = abi.PhaseRequest
	PhaseResponse  = abi.PhaseResponse
	ActionContinue = abi.ActionContinue
	ActionRespond  = abi.ActionRespond
	EditSet        = abi.EditSet
	EditAdd        = abi.EditAdd
	EditDel        = abi.EditDel
)

// Errors of Load and Call; Call's errors each wrap one of them.
var (
	// ErrCPULimit: the guest ran past Config.CPULimit and was stopped; its instance is discarded.
	ErrCPULimit = errors.New("edge function stopped at its CPU-time limit")
	// ErrMemoryLimit: the guest needed memory past Config.MemoryLimit; its instance is discarded.
	ErrMemoryLimit = errors.New("edge function out of memory at its cap")
	// ErrBusy: the node budget allowed no new instance and none came free within Config.BusyWait.
	ErrBusy = errors.New("no isolate free within the node's memory budget")
	// ErrGuest: the guest trapped, exited, or handed back a malformed decision; its instance
	// is discarded.
	ErrGuest = errors.New("edge function failed")
	// ErrBodyTooLarge: the response body passed to Call is longer than Config.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("body longer than the isolate's MaxBodyBytes")
	// ErrModule: Load was given a module that is not WebAssembly written for this ABI.
	ErrModule = errors.New("not an edge function module")
	// ErrClosed: the Runtime is closed.
	ErrClosed = errors.New("isolate runtime closed")
)

// Runtime runs edge functions in wazero instances: it compiles modules (through the on-disk
// cache), keeps a pool of instances per function within the node's memory budget, and serves
// the host calls. It is safe for concurrent use.
type Runtime struct {
	cfg     Config
	wz      wazero.Runtime
	cache   wazero.CompilationCache
	modCfg  wazero.ModuleConfig
	origins []*url.URL
	client  *http.Client
	jwt     *jwt.Parser
	max     int // instances the budget allows

	// noStopCheck compiles guests without wazero's context check, so that a runaway guest
	// cannot be stopped; set by BenchmarkAuthWarm alone, to measure what the check costs.
	noStopCheck bool

	mu      sync.Mutex
	live    int         // instances existing, idle or busy
	busy    int         // instances in a call
	idle    []*instance // oldest release first, across functions
	changed chan struct{}
	closed  bool
}

// PoolStats counts instances.
type PoolStats struct {
	// Idle instances wait for a call; Busy ones are in one.
	Idle, Busy int
	// Max is how many may exist at once (Config.NodeBudget / Config.MemoryLimit); Runtime.Stats only.
	Max int
}

// New starts a runtime. The context bounds the start only.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	return newRuntime(ctx, cfg, false)
}

func newRuntime(ctx context.Context, cfg Config, noStopCheck bool) (*Runtime, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Runtime{cfg: cfg, max: int(cfg.NodeBudget / cfg.MemoryLimit), changed: make(chan struct{}), noStopCheck: noStopCheck}
	for _, o := range cfg.FetchOrigins {
		u, _ := parseOrigin(o) // validated
		r.origins = append(r.origins, u)
	}
	r.client = &http.Client{
		Transport: cfg.FetchTransport,
		Timeout:   cfg.FetchTimeout,
		// A redirect could lead anywhere: the guest sees the 3xx and may fetch the target itself,
		// through the same origin check.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	r.jwt = newJWTParser(cfg)

	if cfg.CacheDir == CacheDirOff {
		r.cache = wazero.NewCompilationCache()
	} else if r.cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
		return nil, fmt.Errorf("isolate compilation cache %s: %w", cfg.CacheDir, err)
	}
	r.wz = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithMemoryLimitPages(uint32(cfg.MemoryLimit/pageSize)).
		WithCloseOnContextDone(!noStopCheck).
		WithCompilationCache(r.cache))
	// No WithFS: the guest has no preopened directory, so every open fails. No sockets either:
	// wasip1 has none, and the host exports no other way out than fetch.
	r.modCfg = wazero.NewModuleConfig().
		WithName(""). // anonymous: a function has many instances
		WithStartFunctions(abi.ExportInitialize).
		WithSysWalltime().WithSysNanotime().
		WithRandSource(rand.Reader)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.wz); err != nil {
		r.closeWazero()
		return nil, fmt.Errorf("isolate wasi: %w", err)
	}
	if err := r.instantiateHost(ctx); err != nil {
		r.closeWazero()
		return nil, fmt.Errorf("isolate host module: %w", err)
	}
	return r, nil
}

func (r *Runtime) closeWazero() {
	_ = r.wz.Close(context.Background())
	_ = r.cache.Close(context.Background())
}

// Close stops every instance and frees the compiled modules; calls in flight fail. The on-disk
// cache stays for the next runtime. The context bounds the closing.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.idle = nil
	r.signal()
	r.mu.Unlock()
	return errors.Join(r.wz.Close(ctx), r.cache.Close(ctx))
}

// Config returns the runtime's configuration, defaults filled in.
func (r *Runtime) Config() Config { return r.cfg }

// Stats counts the runtime's instances, across functions.
func (r *Runtime) Stats() PoolStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return PoolStats{Idle: len(r.idle), Busy: r.busy, Max: r.max}
}

// Function is a compiled edge function and its pool of instances. It is safe for concurrent
// use: each call has an instance to itself.
type Function struct {
	r        *Runtime
	name     string
	compiled wazero.CompiledModule
	vars     map[string]string
	busy     int // guarded by r.mu
}

// Load compiles wasm (or takes it from the compilation cache) as the function name, whose
// variables are Config.Vars[name]. It instantiates nothing: the first call meets a cold
// instance (see Function.Warm). A module that is not WebAssembly, or does not export the ABI
// (hr_abi_v1, hr_buffer, hr_handle, _initialize), is an error wrapping ErrModule.
func (r *Runtime) Load(ctx context.Context, name string, wasm []byte) (*Function, error) {
	compiled, err := r.wz.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrModule, name, err)
	}
	exports := compiled.ExportedFunctions()
	for _, want := range []struct {
		name            string
		params, results []api.ValueType
	}{
		{abi.ExportABI, nil, nil},
		{abi.ExportInitialize, nil, nil},
		{abi.ExportBuffer, []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}},
		{abi.ExportHandle, []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}},
	} {
		def, ok := exports[want.name]
		if !ok || !equalTypes(def.ParamTypes(), want.params) || !equalTypes(def.ResultTypes(), want.results) {
			_ = compiled.Close(ctx)
			return nil, fmt.Errorf("%w %s: no export %s%v -> %v", ErrModule, name, want.name, want.params, want.results)
		}
	}
	return &Function{r: r, name: name, compiled: compiled, vars: r.cfg.Vars[name]}, nil
}

func equalTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Name is the name the function was loaded as.
func (f *Function) Name() string { return f.name }

// Stats counts the function's instances.
func (f *Function) Stats() PoolStats {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	st := PoolStats{Busy: f.busy}
	for _, in := range f.r.idle {
		if in.f == f {
			st.Idle++
		}
	}
	return st
}

// Warm starts one instance and leaves it idle, so that the next call is warm, if the budget
// has room without evicting another function's instance; it reports whether it did.
func (f *Function) Warm(ctx context.Context) (bool, error) {
	r := f.r
	r.mu.Lock()
	if r.closed || r.live >= r.max {
		r.mu.Unlock()
		return false, nil
	}
	r.live++
	f.busy++
	r.busy++
	r.mu.Unlock()
	in, err := f.instantiate(ctx)
	if err != nil {
		r.release(nil, f)
		return false, err
	}
	r.release(in, f)
	return true, nil
}

// acquire returns an idle instance of f (warm), or a new one (cold) if the budget has room,
// evicting the oldest idle instance of any function if need be, or waits up to BusyWait for
// either; it reports whether it started the instance and how long that took.
func (r *Runtime) acquire(ctx context.Context, f *Function) (in *instance, cold bool, took time.Duration, err error) {
	var timer *time.Timer
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, false, 0, ErrClosed
		}
		for i := len(r.idle) - 1; i >= 0; i-- { // the most recently used: its caches are warmest
			if cand := r.idle[i]; cand.f == f {
				r.idle = append(r.idle[:i], r.idle[i+1:]...)
				f.busy++
				r.busy++
				r.mu.Unlock()
				return cand, false, 0, nil
			}
		}
		var victim *instance
		if r.live >= r.max && len(r.idle) > 0 {
			victim = r.idle[0]
			r.idle = r.idle[1:]
			r.live--
		}
		if r.live < r.max {
			r.live++
			f.busy++
			r.busy++
			r.mu.Unlock()
			if victim != nil {
				victim.close()
			}
			start := time.Now()
			in, err = f.instantiate(ctx)
			took = time.Since(start)
			if err != nil {
				r.release(nil, f)
				return nil, true, took, err
			}
			return in, true, took, nil
		}
		changed := r.changed
		r.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(r.cfg.BusyWait)
			defer timer.Stop()
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, false, 0, fmt.Errorf("%w: %d instances busy for %v", ErrBusy, r.max, r.cfg.BusyWait)
		case <-ctx.Done():
			return nil, false, 0, ctx.Err()
		}
	}
}

// release ends a call of f: in goes back to the pool, or, when nil (discarded, or never
// started), its place in the budget is freed.
func (r *Runtime) release(in *instance, f *Function) {
	r.mu.Lock()
	f.busy--
	r.busy--
	if in != nil && !r.closed {
		r.idle = append(r.idle, in)
		in = nil
	} else {
		r.live--
	}
	r.signal()
	r.mu.Unlock()
	if in != nil {
		in.close()
	}
}

// signal wakes every acquire waiting for a change; r.mu is held.
func (r *Runtime) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}
