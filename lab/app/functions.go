package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/faas"
	"github.com/headroom/headroom/lab/faas/functions"
	"github.com/headroom/headroom/lab/faas/guest"
	"github.com/headroom/headroom/lab/telemetry"
)

// The lab's functions (FunctionsConfig), served under /fn/{name}/.
const (
	// FunctionAPI is the lab's API as a function, an instance opening its own database pool.
	FunctionAPI = "api"
	// FunctionThumbnail is the video pipeline's media work (functions.Thumbnail) as a process,
	// FunctionThumbnailWasm the same source as a WebAssembly module.
	FunctionThumbnail     = "thumbnail"
	FunctionThumbnailWasm = "thumbnail-wasm"
)

// FunctionDBConnsDefault is how many database connections an instance of the api function opens
// in its init: what a server's pool keeps (max(4, CPUs) in pgxpool), which is the mistake the
// notes warn of when every instance of a burst does it.
const FunctionDBConnsDefault = 4

// FunctionsConfig turns on the function platform (lab/faas) beside the API: the lab's own work
// as functions, started by the lab binary in its function role (`headroom-lab function NAME`).
// The zero value of a field takes lab/faas's default (Lambda's).
type FunctionsConfig struct {
	// Command is the lab binary the process runtime starts. Default: this process's executable.
	Command string
	// MemoryMB, Timeout, Concurrency and IdleTimeout apply to every function (faas.Function).
	MemoryMB    int
	Timeout     time.Duration
	Concurrency int
	IdleTimeout time.Duration
	// Provisioned and KeepWarm are the api function's cold-start remedies: instances kept
	// initialised (provisioned concurrency), and instances a pinger keeps warm (faas.Function).
	Provisioned, KeepWarm int
	// JobsRuntime is the runtime of the thumbnail function the video pipeline's thumbnail jobs
	// invoke (their trigger: the queue's message): faas.RuntimeProcess (the default) or
	// faas.RuntimeWasm.
	JobsRuntime string
	// DBConns is how many connections each instance of the api function opens at init (a
	// PostgreSQL pool's minimum and maximum; SQLite's maximum). Default [FunctionDBConnsDefault].
	DBConns int
}

func (c *FunctionsConfig) validate() error {
	if c.JobsRuntime != "" && c.JobsRuntime != faas.RuntimeProcess && c.JobsRuntime != faas.RuntimeWasm {
		return fmt.Errorf("runtime of the jobs' function %q: want %s or %s", c.JobsRuntime, faas.RuntimeProcess, faas.RuntimeWasm)
	}
	if c.DBConns < 0 || c.DBConns > 1000 {
		return fmt.Errorf("function database connections %d: want 1 to 1000 (0 for the default)", c.DBConns)
	}
	return nil
}

// FunctionInfo describes one function of a lab started with functions.
type FunctionInfo struct {
	Name    string `json:"name"`
	Runtime string `json:"runtime"`
	// What says what the function does, for the banner.
	What string `json:"what"`
}

// startFunctions starts the platform (no instance runs before the first invocation but the
// provisioned ones). The api function opens the lab's own database, db (resolved: a temporary
// SQLite file is shared too).
func (a *App) startFunctions(db string, reg prometheus.Registerer, tp trace.TracerProvider, log *slog.Logger) error {
	fc := *a.cfg.Functions
	if fc.Command == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("functions: the lab binary: %w", err)
		}
		fc.Command = exe
	}
	if fc.DBConns == 0 {
		fc.DBConns = FunctionDBConnsDefault
	}
	args := []string{"function", FunctionAPI, "--db", db, "--db-conns", strconv.Itoa(fc.DBConns),
		"--db-latency", dbLatency(a.cfg.DBLatency).String(), "--antipatterns", a.cfg.Antipatterns.String()}
	if a.cfg.PostgresSchema != "" {
		args = append(args, "--pg-schema", a.cfg.PostgresSchema)
	}
	if a.cfg.OTLP != "" {
		args = append(args, "--otlp", a.cfg.OTLP)
	}
	module, err := functions.Module(FunctionThumbnail)
	if err != nil {
		return fmt.Errorf("functions: %w", err)
	}
	common := faas.Function{MemoryMB: fc.MemoryMB, Timeout: fc.Timeout, Concurrency: fc.Concurrency, IdleTimeout: fc.IdleTimeout}
	apiFn, thumb, thumbWasm := common, common, common
	apiFn.Name, apiFn.Command = FunctionAPI, append([]string{fc.Command}, args...)
	apiFn.Provisioned, apiFn.KeepWarm = fc.Provisioned, fc.KeepWarm
	thumb.Name, thumb.Command = FunctionThumbnail, []string{fc.Command, "function", FunctionThumbnail}
	thumbWasm.Name, thumbWasm.Runtime, thumbWasm.Module = FunctionThumbnailWasm, faas.RuntimeWasm, module
	p, err := faas.New(faas.Config{
		Functions:      []faas.Function{apiFn, thumb, thumbWasm},
		Registerer:     reg,
		TracerProvider: tp,
		Stderr:         a.cfg.Log,
		Logger:         log,
	})
	if err != nil {
		return fmt.Errorf("functions: %w", err)
	}
	a.faas = p
	a.onClose(p.Close)
	a.info.Functions = []FunctionInfo{
		{Name: FunctionAPI, Runtime: faas.RuntimeProcess, What: "the lab's API, each instance opening its own database pool"},
		{Name: FunctionThumbnail, Runtime: faas.RuntimeProcess, What: "POST an image: its thumbnail"},
		{Name: FunctionThumbnailWasm, Runtime: faas.RuntimeWasm, What: "the same function's source, as a WebAssembly module"},
	}
	if jobs := a.thumbFunction(); jobs != "" {
		a.info.Functions[slices.IndexFunc(a.info.Functions, func(f FunctionInfo) bool { return f.Name == jobs })].What += "; the video pipeline's thumbnail jobs invoke it"
	}
	return nil
}

// thumbFunction names the function the thumbnail jobs invoke, "" without functions.
func (a *App) thumbFunction() string {
	switch {
	case a.cfg.Functions == nil:
		return ""
	case a.cfg.Functions.JobsRuntime == faas.RuntimeWasm:
		return FunctionThumbnailWasm
	}
	return FunctionThumbnail
}

// thumbByFunction is the video pipeline's thumbnail scaling as an invocation of the thumbnail
// function triggered by the job's message (faas.trigger=pubsub), or nil (in process) without
// functions. A failed invocation (throttled, crashed…) fails the job, which the worker retries.
func (a *App) thumbByFunction() func(context.Context, []byte) ([]byte, error) {
	name := a.thumbFunction()
	if name == "" {
		return nil
	}
	return func(ctx context.Context, frame []byte) ([]byte, error) {
		resp, _, err := a.faas.Invoke(ctx, name, guest.Request{Method: http.MethodPost, Path: "/", Body: frame, Trigger: faas.TriggerPubSub})
		if err != nil {
			return nil, err
		}
		if resp.Status != http.StatusOK {
			return nil, fmt.Errorf("function %s answered %d: %.200s", name, resp.Status, resp.Body)
		}
		return resp.Body, nil
	}
}

// FunctionOptions configure the lab binary in its function role.
type FunctionOptions struct {
	DB, PostgresSchema string
	DBConns            int
	DBLatency          time.Duration
	Antipatterns       lab.AntipatternSet
	OTLP               string
}

// ServeFunction makes this process an instance of the lab's function name (guest.Serve: the
// platform started it and speaks to it over stdin and stdout) until the platform closes it.
func ServeFunction(ctx context.Context, name string, opts FunctionOptions) error {
	switch name {
	case FunctionAPI:
		return guest.Serve(ctx, func(ctx context.Context) (guest.Handler, error) { return initAPIFunction(ctx, opts) })
	case FunctionThumbnail:
		return guest.Serve(ctx, functions.Thumbnail)
	}
	return fmt.Errorf("function %q: want %s or %s", name, FunctionAPI, FunctionThumbnail)
}

// initAPIFunction is the api function's init, what a Lambda handler does outside its handler:
// telemetry, the database pool (opened and filled: DBConns connections, each held by the
// instance for its whole life, frozen or not), the API.
func initAPIFunction(ctx context.Context, opts FunctionOptions) (guest.Handler, error) {
	tel, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: "headroom-lab-fn-" + FunctionAPI, OTLPEndpoint: opts.OTLP,
		Resource: []attribute.KeyValue{attribute.String("faas.name", FunctionAPI), attribute.Int64("faas.max_memory", memoryBytes())}})
	if err != nil {
		return nil, err
	}
	db := opts.DB
	if strings.HasPrefix(db, "postgres") {
		// The pool opens its connections at init, as a server's does, and names them so that
		// pg_stat_activity counts them per function.
		u, err := url.Parse(db)
		if err != nil {
			return nil, fmt.Errorf("database URL: %w", err)
		}
		q := u.Query()
		n := strconv.Itoa(opts.DBConns)
		q.Set("pool_min_conns", n)
		q.Set("pool_max_conns", n)
		q.Set("application_name", "headroom-fn-"+FunctionAPI)
		u.RawQuery = q.Encode()
		db = u.String()
	}
	var closers []func(context.Context) error
	store, _, err := openStore(ctx, storeConfig{db: db, schema: opts.PostgresSchema, maxConns: opts.DBConns, latency: opts.DBLatency, tp: tel.TracerProvider},
		func(f func(context.Context) error) { closers = append(closers, f) })
	if err != nil {
		return nil, err
	}
	a, err := api.New(api.Config{Store: store, NoSite: true, Switches: lab.NewSwitches(opts.Antipatterns), TracerProvider: tel.TracerProvider, Propagator: tel.Propagator})
	if err != nil {
		return nil, err
	}
	// The instance is killed, never stopped: spans are flushed after each invocation instead,
	// as a Lambda extension must before the environment freezes.
	return func(ctx context.Context, req guest.Request) guest.Response {
		resp := serveHTTP(ctx, a, req)
		_ = tel.TracerProvider.ForceFlush(ctx)
		return resp
	}, nil
}

// serveHTTP runs an invocation through an http.Handler. The request has no client address, so
// the API's admin routes (loopback clients only) refuse it.
func serveHTTP(ctx context.Context, h http.Handler, req guest.Request) guest.Response {
	target := req.Path
	if req.Query != "" {
		target += "?" + req.Query
	}
	r, err := http.NewRequestWithContext(ctx, req.Method, target, bytes.NewReader(req.Body))
	if err != nil {
		return guest.Response{Status: http.StatusBadRequest, Body: []byte(err.Error())}
	}
	r.Header = req.Header
	r.RequestURI = target
	w := &recorder{header: http.Header{}}
	h.ServeHTTP(w, r)
	return guest.Response{Status: w.status, Header: w.header, Body: w.body.Bytes()}
}

// recorder is the http.ResponseWriter of serveHTTP: the whole response in memory.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// memoryBytes is the instance's memory size in bytes (faas.max_memory), from the platform's
// FAAS_MEMORY_MB; 0 when unknown.
func memoryBytes() int64 {
	mb, _ := strconv.ParseInt(os.Getenv("FAAS_MEMORY_MB"), 10, 64)
	return mb << 20
}
