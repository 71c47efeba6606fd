package faas

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/headroom/headroom/internal/fielderr"
)

const (
	// wasmPage is WebAssembly's memory page.
	wasmPage = 64 << 10
	// wasmMemoryMBMax is a wasm32 memory's largest size, 4 GiB.
	wasmMemoryMBMax = 4096
	// goArena is the Go runtime's heap growth step on wasm (heapArenaBytes, 4 MiB): a module
	// whose memory is within it of the size has run into the size.
	goArena = 4 << 20
	// stderrTail is how much of an instance's last standard error is kept to explain its exit.
	stderrTail = 8 << 10
)

// errInstanceEnded breaks the pipes of a module instance that has returned from _start or
// been killed.
var errInstanceEnded = errors.New("wasm instance ended")

// wasmEngine is what the wasm functions of a platform share: the compilation cache.
type wasmEngine struct {
	cache wazero.CompilationCache
}

func newWasmEngine(dir string) (*wasmEngine, error) {
	if dir == "" {
		return &wasmEngine{cache: wazero.NewCompilationCache()}, nil
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fielderr.New(ErrConfig, "WasmCacheDir", "%q: %v", dir, err)
	}
	return &wasmEngine{cache: cache}, nil
}

func (e *wasmEngine) close(ctx context.Context) error { return e.cache.Close(ctx) }

// wasmRuntime runs each instance of a function as an instance of its compiled module, in a
// wazero runtime of its own: the memory size is a runtime's setting.
type wasmRuntime struct {
	f        Function
	wz       wazero.Runtime
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig
	stderr   io.Writer
}

var _ fnRuntime = (*wasmRuntime)(nil)

// compile compiles fc's module (the function i of the Config) for its memory size, or takes
// it from the compilation cache. A module that is not a WASI command importing wasi_snapshot_preview1 alone
// is an error about Functions[i].Module.
func (e *wasmEngine) compile(i int, fc Function, stderr io.Writer) (*wasmRuntime, error) {
	ctx := context.Background()
	wz := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithMemoryLimitPages(uint32(fc.MemoryMB*(1<<20/wasmPage))). // 4096 MB: 65,536 pages, not 2^32 bytes in a uint32
		// The time limit: compiled code checks for a closed module at loop headers and
		// function entries, so cancelling an instance's context stops even a `for {}`.
		WithCloseOnContextDone(true).
		WithCompilationCache(e.cache))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, wz); err != nil {
		_ = wz.Close(ctx)
		return nil, fmt.Errorf("wasi for function %s: %w", fc.Name, err)
	}
	bad := func(format string, args ...any) error {
		_ = wz.Close(ctx)
		return fielderr.New(ErrConfig, fmt.Sprintf("Functions[%d].Module", i), format, args...)
	}
	compiled, err := wz.CompileModule(ctx, fc.Module)
	if err != nil {
		return nil, bad("of %d bytes: does not compile as a WebAssembly module of at most %d MB: %v", len(fc.Module), fc.MemoryMB, err)
	}
	if start, ok := compiled.ExportedFunctions()["_start"]; !ok || len(start.ParamTypes())+len(start.ResultTypes()) > 0 {
		return nil, bad("exports no _start(): want a WASI command (GOOS=wasip1 go build, not -buildmode=c-shared) whose main calls guest.Serve")
	}
	for _, imp := range compiled.ImportedFunctions() {
		if mod, name, _ := imp.Import(); mod != wasi_snapshot_preview1.ModuleName {
			return nil, bad("imports %s.%s: want wasi_snapshot_preview1 alone", mod, name)
		}
	}
	// No WithFS: no directory is preopened, so every open fails; no sockets: wasip1 has none.
	// Not the platform's environment either: the function's own variables alone.
	modCfg := wazero.NewModuleConfig().
		WithName("").         // anonymous: a function has many instances
		WithStartFunctions(). // _start runs in the instance's goroutine (launch)
		WithArgs(fc.Name).
		WithSysWalltime().WithSysNanotime().
		WithRandSource(rand.Reader)
	for _, kv := range wasmEnv(fc) {
		k, v, _ := strings.Cut(kv, "=")
		modCfg = modCfg.WithEnv(k, v)
	}
	return &wasmRuntime{f: fc, wz: wz, compiled: compiled, modCfg: modCfg, stderr: stderr}, nil
}

// wasmEnv is a wasm instance's environment: the FAAS_* variables and GOMEMLIMIT as a process
// gets them, then Function.Env.
func wasmEnv(f Function) []string {
	return append([]string{
		"FAAS_FUNCTION_NAME=" + f.Name,
		"FAAS_MEMORY_MB=" + strconv.Itoa(f.MemoryMB),
		// A Go function's collector then works to stay under the size wazero refuses to grow past.
		"GOMEMLIMIT=" + strconv.Itoa(f.MemoryMB*9/10) + "MiB",
	}, f.Env...)
}

func (rt *wasmRuntime) close(ctx context.Context) error { return rt.wz.Close(ctx) }

// wasmInstance is a running instance of a module: its _start runs in a goroutine of its own,
// with stdin and stdout as pipes to the platform.
type wasmInstance struct {
	cancel  context.CancelFunc
	stdinR  *io.PipeReader // the guest's ends
	stdoutW *io.PipeWriter
	stdoutR *io.PipeReader // the platform's
	stderr  *tail
	limit   int64

	done chan struct{} // closed when _start has returned; then:
	err  error         // _start's error
	mem  int64         // the memory's size at the end, bytes
}

var _ body = (*wasmInstance)(nil)

// launch instantiates the module (its memory, its data) and runs _start, the Go runtime's
// start and then main, in a goroutine: the start phase of a cold start ends at its hello.
func (rt *wasmRuntime) launch(ctx context.Context) (*instance, error) {
	// Not bound to ctx: the instance outlives the invocation that started it. Cancelling it
	// (kill) closes the module wherever its code is.
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	w := &wasmInstance{cancel: cancel, stdinR: stdinR, stdoutW: stdoutW, stdoutR: stdoutR,
		stderr: &tail{}, limit: int64(rt.f.MemoryMB) << 20, done: make(chan struct{})}
	cfg := rt.modCfg.WithStdin(stdinR).WithStdout(stdoutW).
		WithStderr(io.MultiWriter(w.stderr, rt.stderr)).
		WithNanosleep(func(ns int64) { sleep(ictx, time.Duration(ns)) })
	mod, err := rt.wz.InstantiateModule(ictx, rt.compiled, cfg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	start := mod.ExportedFunction("_start")
	go w.run(ictx, mod, start)
	return &instance{body: w, program: "the module", stdin: stdinW, stdout: bufio.NewReader(stdoutR)}, nil
}

// run runs _start to its end (main returned, proc_exit, a trap, or the module closed by kill)
// and then breaks the pipes, so that the platform's read or write fails.
func (w *wasmInstance) run(ctx context.Context, mod api.Module, start api.Function) {
	_, err := start.Call(ctx)
	w.err = err
	if m := mod.Memory(); m != nil {
		w.mem = int64(m.Size())
	}
	_ = mod.Close(context.Background())
	_ = w.stdoutW.Close() // EOF, as a process's stdout at its exit
	_ = w.stdinR.CloseWithError(errInstanceEnded)
	w.cancel()
	close(w.done)
}

// sleep is a guest's nanosleep: a time.Sleep in the function that the instance's end
// interrupts (wazero's own sleeps until the time has passed, whatever the context).
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// memory is not read: wazero enforces the size itself, refusing memory.grow past it.
func (w *wasmInstance) memory() int64 { return 0 }

// kill closes the module (at its next loop header or function entry, or at once if it waits
// on a pipe or a sleep) and waits for _start to return.
func (w *wasmInstance) kill() {
	w.cancel()
	_ = w.stdinR.CloseWithError(errInstanceEnded)
	_ = w.stdoutR.CloseWithError(errInstanceEnded)
	<-w.done
}

// explain names the instance's end: out of memory if the Go runtime died of it or the memory had
// grown to within a heap arena of the size (wazero refuses the growth, and the guest then
// aborts its own way), else its exit code or trap, with the panic or fatal error it printed.
func (w *wasmInstance) explain(streamErr error) error {
	<-w.done
	stderr := w.stderr.String()
	var exit *sys.ExitError
	var how string
	switch {
	case errors.As(w.err, &exit) && (exit.ExitCode() == sys.ExitCodeContextCanceled || exit.ExitCode() == sys.ExitCodeDeadlineExceeded):
		how = "killed"
	case errors.As(w.err, &exit):
		how = "exit status " + strconv.FormatUint(uint64(exit.ExitCode()), 10)
	case w.err != nil:
		how, _, _ = strings.Cut(w.err.Error(), "\n") // wazero's trap message, then the guest's stack
	default:
		how = "_start returned"
	}
	if last := lastFatal(stderr); last != "" {
		how += ": " + last
	}
	if strings.Contains(stderr, "fatal error: out of memory") || w.mem+goArena > w.limit {
		return fmt.Errorf("%w: wasm memory %d MiB, the size is %d MiB (%s)", ErrOutOfMemory, w.mem>>20, w.limit>>20, how)
	}
	return fmt.Errorf("%w: %s (%w)", ErrCrashed, how, streamErr)
}

// lastFatal returns the last line of a Go guest's stderr that says why it died ("panic: …",
// "fatal error: …"), or "".
func lastFatal(stderr string) string {
	lines := strings.Split(stderr, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return l
		}
	}
	return ""
}

// tail keeps the last stderrTail bytes written to it; safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - stderrTail; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
