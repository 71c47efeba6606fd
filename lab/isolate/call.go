package isolate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/headroom/headroom/lab/isolate/abi"
)

// CallStats describes one call.
type CallStats struct {
	// Cold: the call started a new instance.
	Cold bool
	// Instantiate is the time the new instance took to start (0 when warm).
	Instantiate time.Duration
	// Call is the time in the guest, host calls included, from writing the request to reading
	// the decision.
	Call time.Duration
}

// maxEdits bounds the header edits a guest may hand back.
const maxEdits = 256

// minBuffer is the smallest request buffer asked of a guest: room for any request's headers.
const minBuffer = 16 << 10

// goArena is the Go runtime's heap growth step on wasm (heapArenaBytes, 4 MiB): a guest whose
// memory is within it of the cap has run into the cap.
const goArena = 4 << 20

// instance is one wazero module instance of a function, used by one call at a time.
type instance struct {
	f              *Function
	mod            api.Module
	buffer, handle api.Function
	stderr         *head
	enc            []byte // the request's encoding, reused
	// bufAddr and bufCap are the guest's request buffer (hr_buffer), kept across calls: Go's
	// heap does not move, and the guest replaces the buffer only in hr_buffer. One export call
	// a request instead of two: each costs the Go guest runtime microseconds.
	bufAddr, bufCap uint32

	// Of the call in progress (or of the start):
	pending []byte // the last host call's result, for the guest's result call
	meter   *meter
}

type instanceKey struct{}

// instanceOf returns the instance whose call (or start) ctx belongs to.
func instanceOf(ctx context.Context) *instance {
	in, _ := ctx.Value(instanceKey{}).(*instance)
	return in
}

func (f *Function) instantiate(ctx context.Context) (*instance, error) {
	r := f.r
	in := &instance{f: f, stderr: &head{}}
	ctx, cancel := context.WithTimeoutCause(ctx, r.cfg.StartLimit, errStartLimit)
	defer cancel()
	mod, err := r.wz.InstantiateModule(context.WithValue(ctx, instanceKey{}, in), f.compiled, r.modCfg.WithStderr(in.stderr))
	if err != nil {
		if errors.Is(context.Cause(ctx), errStartLimit) {
			return nil, fmt.Errorf("%w: instance start past StartLimit %v", ErrCPULimit, r.cfg.StartLimit)
		}
		return nil, in.failure(err, "start")
	}
	in.mod = mod
	in.buffer = mod.ExportedFunction(abi.ExportBuffer)
	in.handle = mod.ExportedFunction(abi.ExportHandle)
	return in, nil
}

var (
	errCPULimit   = errors.New("cpu limit")
	errStartLimit = errors.New("start limit")
)

// Call runs the function on req in phase (req.Phase is ignored) and returns its decision.
// It takes an idle instance of the function, or starts one (CallStats.Cold), and gives it back
// after a clean call; an instance that failed in any way is discarded, and the next call
// starts a fresh one. The context bounds the whole call: wait, start and guest (a cancelled
// context stops the guest and discards its instance).
//
// Errors wrap ErrCPULimit, ErrMemoryLimit, ErrBusy, ErrGuest (trap, exit, bad decision),
// ErrBodyTooLarge, ErrClosed, or are the context's.
func (f *Function) Call(ctx context.Context, phase Phase, req *Request) (Decision, CallStats, error) {
	var st CallStats
	r := f.r
	if phase == PhaseResponse && len(req.Body) > r.cfg.MaxBodyBytes {
		return Decision{}, st, fmt.Errorf("%w: %d bytes, at most %d", ErrBodyTooLarge, len(req.Body), r.cfg.MaxBodyBytes)
	}
	in, cold, took, err := r.acquire(ctx, f)
	st.Cold, st.Instantiate = cold, took
	if err != nil {
		return Decision{}, st, err
	}
	start := time.Now()
	d, err := in.call(ctx, phase, req)
	st.Call = time.Since(start)
	if err != nil {
		r.release(nil, f)
		in.close()
		return Decision{}, st, err
	}
	r.release(in, f)
	return d, st, nil
}

func (in *instance) call(ctx context.Context, phase Phase, req *Request) (Decision, error) {
	r := in.f.r
	rq := *req
	rq.Phase = phase
	in.stderr.reset()
	in.enc = abi.AppendRequest(in.enc[:0], &rq)

	m, cctx := startMeter(ctx, r.cfg.CPULimit)
	in.meter = m
	defer m.stop()
	cctx = context.WithValue(cctx, instanceKey{}, in)

	if n := uint32(len(in.enc)); n > in.bufCap {
		size := max(n, minBuffer)
		res, err := in.buffer.Call(cctx, uint64(size))
		if err != nil {
			return Decision{}, in.classify(ctx, cctx, err)
		}
		in.bufAddr, in.bufCap = uint32(res[0]), size
	}
	if !in.mod.Memory().Write(in.bufAddr, in.enc) {
		return Decision{}, fmt.Errorf("%w: hr_buffer(%d) returned %#x, outside memory", ErrGuest, in.bufCap, in.bufAddr)
	}
	res, err := in.handle.Call(cctx, uint64(len(in.enc)))
	if err != nil {
		return Decision{}, in.classify(ctx, cctx, err)
	}
	addr, n := uint32(res[0]>>32), uint32(res[0])
	out, ok := in.mod.Memory().Read(addr, n)
	if !ok {
		return Decision{}, fmt.Errorf("%w: decision at %#x+%d, outside memory", ErrGuest, addr, n)
	}
	d, err := abi.DecodeDecision(out, abi.Limits{MaxBody: r.cfg.MaxBodyBytes, MaxEdits: maxEdits})
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %w", ErrGuest, err)
	}
	if phase == PhaseRequest && d.Action == ActionContinue && (d.Status != 0 || d.BodySet || len(d.ResponseHeaders) > 0) {
		return Decision{}, fmt.Errorf("%w: response edits in a request-phase continue", ErrGuest)
	}
	return d, nil
}

// classify turns a failed guest call into the error Call returns. parent is the caller's
// context, cctx the call's (parent plus the CPU meter).
func (in *instance) classify(parent, cctx context.Context, err error) error {
	if errors.Is(context.Cause(cctx), errCPULimit) {
		return fmt.Errorf("%w: stopped after %v of guest time", ErrCPULimit, in.f.r.cfg.CPULimit)
	}
	if parent.Err() != nil {
		return fmt.Errorf("edge function %s abandoned: %w", in.f.name, context.Cause(parent))
	}
	return in.failure(err, "call")
}

// failure names a trap or exit: the memory cap if the guest ran into it, else a guest error.
// wazero refuses a memory.grow past the cap by returning -1 to the guest, which then aborts
// in its own way: the Go runtime prints "out of memory" and exits, another guest may trap. So
// the cap is recognised by that message or by memory grown to within a Go heap arena of it.
func (in *instance) failure(err error, what string) error {
	stderr := in.stderr.String()
	near := false
	if in.mod != nil {
		near = int64(in.mod.Memory().Size())+goArena > in.f.r.cfg.MemoryLimit
	}
	// wazero's message goes on with the guest's stack: its first line says what trapped.
	msg := firstLines(err.Error(), 1)
	if s := firstLines(stderr, 2); s != "" {
		msg += " (stderr: " + s + ")"
	}
	if near || strings.Contains(stderr, "out of memory") {
		return fmt.Errorf("%w (%d MiB): %s %s: %s", ErrMemoryLimit, in.f.r.cfg.MemoryLimit>>20, in.f.name, what, msg)
	}
	return fmt.Errorf("%w: %s %s: %s", ErrGuest, in.f.name, what, msg)
}

func (in *instance) close() {
	if in.mod != nil {
		_ = in.mod.Close(context.Background())
	}
}

// meter stops a call once its guest time passes the limit: a timer cancels the call's context
// (wazero then closes the module), and host calls that wait (fetch) pause it.
type meter struct {
	mu     sync.Mutex
	timer  *time.Timer
	left   time.Duration
	since  time.Time
	paused bool
	cancel context.CancelCauseFunc
}

func startMeter(ctx context.Context, limit time.Duration) (*meter, context.Context) {
	cctx, cancel := context.WithCancelCause(ctx)
	m := &meter{left: limit, since: time.Now(), cancel: cancel}
	m.timer = time.AfterFunc(limit, func() { cancel(errCPULimit) })
	return m, cctx
}

// pause stops the clock while the guest waits on the host; it reports whether the clock was
// still running (false: the limit has already passed).
func (m *meter) pause() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.timer.Stop() {
		return false
	}
	m.left -= time.Since(m.since)
	m.paused = true
	return true
}

func (m *meter) resume() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.paused {
		m.paused = false
		m.since = time.Now()
		m.timer.Reset(m.left)
	}
}

func (m *meter) stop() {
	m.timer.Stop()
	m.cancel(nil)
}

// head keeps the first bytes a guest writes to stderr in a call: a Go panic or fatal error
// says what happened in its first lines, then dumps every goroutine.
type head struct {
	mu  sync.Mutex
	buf []byte
}

const headSize = 2048

func (h *head) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := headSize - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (h *head) reset() {
	h.mu.Lock()
	h.buf = h.buf[:0]
	h.mu.Unlock()
}

func (h *head) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.buf)
}

// firstLines returns the first n non-empty lines of s, joined by " | ".
func firstLines(s string, n int) string {
	var out []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			if out = append(out, line); len(out) == n {
				break
			}
		}
	}
	return strings.Join(out, " | ")
}

// Outcome names how a call ended, as the edge's span attribute edge.function.outcome and the
// reason label of its error counter: "continue", "respond", "cpu_limit", "memory_limit",
// "busy" or "error".
func Outcome(d Decision, err error) string {
	switch {
	case err == nil:
		return d.Action.String()
	case errors.Is(err, ErrCPULimit):
		return "cpu_limit"
	case errors.Is(err, ErrMemoryLimit):
		return "memory_limit"
	case errors.Is(err, ErrBusy):
		return "busy"
	}
	return "error"
}
