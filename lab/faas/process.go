package faas

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/lab/faas/guest"
)

// memoryPoll is how often the platform reads a running instance's resident memory. A function
// allocating faster than this can pass its memory size by what it allocates in one period
// before it is killed.
const memoryPoll = 5 * time.Millisecond

// process is one instance of the process runtime: a child serving guest.Serve's protocol.
type process struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stdout   *bufio.Reader
	exited   chan struct{} // closed when the child has been waited for
	limit    int64         // resident memory allowed, bytes
	pageSize int64
}

// coldStart is a cold start's phases: begin (fork/exec) → started (the child's first byte) →
// ready (its handler's init done).
type coldStart struct{ begin, started, ready time.Time }

// startProcess starts an instance of f and waits, within ctx, until it is ready. Its error
// wraps ErrInit when the child ran but did not become ready.
func startProcess(ctx context.Context, f Function, stderr io.Writer) (*process, coldStart, error) {
	var cs coldStart
	// Not bound to ctx: the instance outlives the invocation that started it (close kills it).
	cmd := exec.CommandContext(context.WithoutCancel(ctx), f.Command[0], f.Command[1:]...)
	cmd.Env = append(os.Environ(),
		"FAAS_FUNCTION_NAME="+f.Name,
		"FAAS_MEMORY_MB="+strconv.Itoa(f.MemoryMB),
		// A Go function's collector then works to stay under the size it is killed at.
		"GOMEMLIMIT="+strconv.Itoa(f.MemoryMB*9/10)+"MiB")
	cmd.Env = append(cmd.Env, f.Env...)
	cmd.Stderr = stderr
	dieWithPlatform(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, cs, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, cs, err
	}
	cs.begin = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, cs, fmt.Errorf("%w: start %s: %w", ErrInit, f.Command[0], err)
	}
	p := &process{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout), exited: make(chan struct{}),
		limit: int64(f.MemoryMB) << 20, pageSize: int64(os.Getpagesize())}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	done := make(chan startResult, 1)
	go func() {
		var r startResult
		b, err := p.stdout.ReadByte()
		r.started = time.Now()
		if err == nil && b != guest.Hello {
			err = fmt.Errorf("first byte %q", b)
		}
		if err != nil {
			r.err = fmt.Errorf("no hello from the instance (is %s a function serving guest.Serve?): %w", f.Command[0], err)
			done <- r
			return
		}
		msg, err := guest.ReadFrame(p.stdout)
		r.ready = time.Now()
		switch {
		case err != nil:
			r.err = fmt.Errorf("instance exited during init: %w", err)
		case len(msg) > 0:
			r.err = fmt.Errorf("init: %s", msg)
		}
		done <- r
	}()
	r, err := watch(ctx, p, done)
	if err == nil {
		err = r.err
	}
	cs.started, cs.ready = r.started, r.ready
	if err != nil {
		p.close()
		return nil, cs, fmt.Errorf("%w: %w", ErrInit, err)
	}
	return p, cs, nil
}

type startResult struct {
	started, ready time.Time
	err            error
}

type callResult struct {
	resp guest.Response
	err  error
}

// watch waits for one value of done, while killing the instance if ctx ends (ErrTimeout) or
// its resident memory passes the limit (ErrOutOfMemory).
func watch[T any](ctx context.Context, p *process, done <-chan T) (T, error) {
	tick := time.NewTicker(memoryPoll)
	defer tick.Stop()
	var zero T
	for {
		select {
		case v := <-done:
			return v, nil
		case <-ctx.Done():
			p.close()
			return zero, ErrTimeout
		case <-tick.C:
			if rss := p.rss(); rss > p.limit {
				p.close()
				return zero, fmt.Errorf("%w: %d MiB resident, the size is %d MiB", ErrOutOfMemory, rss>>20, p.limit>>20)
			}
		}
	}
}

// invoke sends req and waits for the answer within ctx (the function's time limit). Any error
// leaves the instance dead: ErrTimeout, ErrOutOfMemory, or ErrCrashed.
func (p *process) invoke(ctx context.Context, req guest.Request) (guest.Response, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return guest.Response{}, err
	}
	done := make(chan callResult, 1)
	go func() {
		var r callResult
		if err := guest.WriteFrame(p.stdin, b); err != nil {
			r.err = err
			done <- r
			return
		}
		out, err := guest.ReadFrame(p.stdout)
		if err != nil {
			r.err = err
		} else {
			r.err = json.Unmarshal(out, &r.resp)
		}
		done <- r
	}()
	r, err := watch(ctx, p, done)
	if err == nil && r.err != nil {
		p.close()
		err = fmt.Errorf("%w: %w", ErrCrashed, p.exitReason(r.err))
	}
	return r.resp, err
}

// exitReason says how the instance ended when its stream broke: its exit status if it exited.
func (p *process) exitReason(streamErr error) error {
	<-p.exited
	if st := p.cmd.ProcessState; st != nil {
		return fmt.Errorf("%s (%w)", st, streamErr)
	}
	return streamErr
}

// rss returns the instance's resident memory in bytes (0 once it is gone).
func (p *process) rss() int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * p.pageSize
}

// close kills the instance and waits for it to exit. Lambda gives no grace either: an
// environment is frozen between calls and discarded without notice.
func (p *process) close() {
	_ = p.stdin.Close()
	_ = p.cmd.Process.Kill()
	<-p.exited
}
