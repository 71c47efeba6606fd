package faas

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/headroom/headroom/internal/fielderr"
)

// The runtimes, Function.Runtime's values.
const (
	// RuntimeProcess runs each instance as a process (Function.Command).
	RuntimeProcess = "process"
	// RuntimeWasm runs each instance as an instance of a WebAssembly module (Function.Module)
	// in wazero, in the platform's process.
	RuntimeWasm = "wasm"
)

// Runtimes lists the runtimes.
var Runtimes = []string{RuntimeProcess, RuntimeWasm}

// Defaults of Function, which zero fields stand for (AWS Lambda's where it has one).
const (
	// MemoryMBDefault is Lambda's default and smallest memory size.
	MemoryMBDefault = 128
	// TimeoutDefault is Lambda's default timeout.
	TimeoutDefault = 3 * time.Second
	// ConcurrencyDefault bounds instances per function; Lambda's Region default is 1,000, the
	// lab's 2 cores fill far sooner.
	ConcurrencyDefault = 10
	// IdleTimeoutDefault reclaims an idle instance; Lambda keeps one for minutes (observed
	// 7–60 min), the lab shortens it so that scale to zero is seen in a run.
	IdleTimeoutDefault = time.Minute
	// StartTimeoutDefault bounds a cold start (process start and handler init).
	StartTimeoutDefault = 10 * time.Second
)

// Limits of Function, Lambda's documented ones.
const (
	MemoryMBMin = 128
	MemoryMBMax = 10240
	TimeoutMax  = 900 * time.Second
)

// ErrConfig is wrapped by every error New returns for a bad Config; an error about one field
// is a *fielderr.Error naming it.
var ErrConfig = errors.New("bad faas config")

// Function configures one function. The zero value of each field but Name, Command and Module
// means its default.
type Function struct {
	// Name is the function's name in the gateway's path, /fn/{Name}/…: letters, digits, - and _.
	Name string
	// Runtime is RuntimeProcess (the default) or RuntimeWasm.
	Runtime string
	// Command starts one instance of the process runtime: Command[0] is the program, which
	// serves invocations with guest.Serve. Required for RuntimeProcess, refused for RuntimeWasm.
	Command []string
	// Module is the WebAssembly module of the wasm runtime: a WASI command (GOOS=wasip1
	// go build) whose main serves invocations with guest.Serve, the same source as a process
	// function's. Required for RuntimeWasm, refused for RuntimeProcess.
	Module []byte
	// Env is added to the instance's environment, KEY=VALUE each: a process's is os.Environ()
	// and the FAAS_* variables, a module's the FAAS_* variables alone.
	Env []string
	// MemoryMB is the instance's memory size, from MemoryMBMin to MemoryMBMax (4096 for
	// RuntimeWasm, wasm32's limit): a process whose resident memory passes it is killed, a
	// module's memory cannot grow past it (see Platform). Default MemoryMBDefault.
	MemoryMB int
	// Timeout is the execution time limit of one invocation, up to TimeoutMax; at it the
	// instance is killed and the invocation answered 504. Default TimeoutDefault.
	Timeout time.Duration
	// Concurrency bounds the function's instances, each serving one invocation at a time;
	// an invocation finding all of them busy is throttled (429). Default ConcurrencyDefault.
	Concurrency int
	// IdleTimeout is how long an instance may stay idle before it is reclaimed (scale to
	// zero). Default IdleTimeoutDefault.
	IdleTimeout time.Duration
	// StartTimeout bounds a cold start. Default StartTimeoutDefault.
	StartTimeout time.Duration
	// Provisioned is the function's provisioned concurrency, 0 to Concurrency: that many
	// instances are started when the platform starts (in the background) and kept initialised:
	// never reclaimed when idle, replaced when one dies. Invocations take an idle provisioned
	// instance first (warm), then spill over to on-demand instances (cold starts) up to
	// Concurrency, which counts the provisioned ones. Default 0: none.
	Provisioned int
	// KeepWarm is how many instances a keep-warm pinger holds warm, 0 to Concurrency: every
	// KeepWarmEvery it invokes the function KeepWarm times at once (faas.trigger=timer,
	// guest.Request.Warmup set: the handler is not called), so that KeepWarm instances are
	// used, and their idle time restarted, before the janitor would reclaim them. The pings
	// are invocations like any other: they can cold start, be throttled, and are billed.
	// Default 0: no pinger.
	KeepWarm int
	// KeepWarmEvery is the pinger's period; set only with KeepWarm. At or past IdleTimeout the
	// pings come too late to keep anything warm (New logs a warning: on Lambda the idle time is
	// undocumented, and a pinger too slow for it is worth measuring). Default IdleTimeout/2.
	KeepWarmEvery time.Duration
}

// Config configures a Platform.
type Config struct {
	// Functions are the functions served; at least one, names unique.
	Functions []Function
	// Registerer receives the headroom_faas_* metrics; nil registers none.
	Registerer prometheus.Registerer
	// TracerProvider makes the invocation spans; nil makes none.
	TracerProvider trace.TracerProvider
	// Stderr receives the instances' standard error (their logs, Go panics); nil discards it.
	Stderr io.Writer
	// Logger receives the platform's own events; nil discards them.
	Logger *slog.Logger
	// WasmCacheDir is a directory where wazero keeps the wasm functions' compiled code across
	// platforms (compiling a Go module takes seconds, loading it tens of milliseconds); ""
	// keeps it in memory, for this platform alone.
	WasmCacheDir string
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (cfg Config) withDefaults() Config {
	fns := make([]Function, len(cfg.Functions))
	for i, f := range cfg.Functions {
		if f.Runtime == "" {
			f.Runtime = RuntimeProcess
		}
		if f.MemoryMB == 0 {
			f.MemoryMB = MemoryMBDefault
		}
		if f.Timeout == 0 {
			f.Timeout = TimeoutDefault
		}
		if f.Concurrency == 0 {
			f.Concurrency = ConcurrencyDefault
		}
		if f.IdleTimeout == 0 {
			f.IdleTimeout = IdleTimeoutDefault
		}
		if f.StartTimeout == 0 {
			f.StartTimeout = StartTimeoutDefault
		}
		if f.KeepWarm > 0 && f.KeepWarmEvery == 0 {
			f.KeepWarmEvery = max(f.IdleTimeout/2, time.Millisecond)
		}
		fns[i] = f
	}
	cfg.Functions = fns
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = noop.NewTracerProvider()
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// validate returns every problem of cfg (defaults already applied), each naming its field.
func (cfg Config) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fielderr.New(ErrConfig, field, format, args...))
	}
	if len(cfg.Functions) == 0 {
		bad("Functions", "none: want at least one function")
	}
	seen := map[string]bool{}
	for i, f := range cfg.Functions {
		field := func(name string) string { return fmt.Sprintf("Functions[%d].%s", i, name) }
		if !nameRE.MatchString(f.Name) {
			bad(field("Name"), "%q: want 1 to 64 letters, digits, - or _", f.Name)
		}
		if seen[f.Name] {
			bad(field("Name"), "%q: a function of that name comes earlier", f.Name)
		}
		seen[f.Name] = true
		memMax := MemoryMBMax
		switch f.Runtime {
		case RuntimeProcess:
			if len(f.Command) == 0 || f.Command[0] == "" {
				bad(field("Command"), "empty: want the program serving the function and its arguments")
			}
			if len(f.Module) > 0 {
				bad(field("Module"), "of %d bytes: the %q runtime runs Command; want no module", len(f.Module), RuntimeProcess)
			}
		case RuntimeWasm:
			if len(f.Module) == 0 {
				bad(field("Module"), "empty: want the WebAssembly module serving the function")
			}
			if len(f.Command) > 0 {
				bad(field("Command"), "%q: the %q runtime runs Module; want no command", f.Command, RuntimeWasm)
			}
			for j, kv := range f.Env {
				if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
					bad(field(fmt.Sprintf("Env[%d]", j)), "%q: want KEY=VALUE", kv)
				}
			}
			memMax = wasmMemoryMBMax
		default:
			bad(field("Runtime"), "%q: want one of %s", f.Runtime, strings.Join(Runtimes, ", "))
		}
		if f.MemoryMB < MemoryMBMin || f.MemoryMB > memMax {
			bad(field("MemoryMB"), "%d: want %d to %d", f.MemoryMB, MemoryMBMin, memMax)
		}
		if f.Timeout < time.Millisecond || f.Timeout > TimeoutMax {
			bad(field("Timeout"), "%v: want 1ms to %v", f.Timeout, TimeoutMax)
		}
		if f.Concurrency < 1 {
			bad(field("Concurrency"), "%d: want at least 1", f.Concurrency)
		}
		if f.IdleTimeout < time.Millisecond {
			bad(field("IdleTimeout"), "%v: want at least 1ms", f.IdleTimeout)
		}
		if f.StartTimeout < time.Millisecond {
			bad(field("StartTimeout"), "%v: want at least 1ms", f.StartTimeout)
		}
		if f.Provisioned < 0 || f.Provisioned > f.Concurrency {
			bad(field("Provisioned"), "%d: want 0 to Concurrency (%d)", f.Provisioned, f.Concurrency)
		}
		if f.KeepWarm < 0 || f.KeepWarm > f.Concurrency {
			bad(field("KeepWarm"), "%d: want 0 to Concurrency (%d)", f.KeepWarm, f.Concurrency)
		}
		switch {
		case f.KeepWarm == 0 && f.KeepWarmEvery != 0:
			bad(field("KeepWarmEvery"), "%v without KeepWarm: want KeepWarm > 0 or no KeepWarmEvery", f.KeepWarmEvery)
		case f.KeepWarm > 0 && f.KeepWarmEvery < time.Millisecond:
			bad(field("KeepWarmEvery"), "%v: want at least 1ms", f.KeepWarmEvery)
		}
	}
	return errors.Join(errs...)
}
