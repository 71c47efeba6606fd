package faas

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/headroom/headroom/lab/faas/guest"
)

// memoryPoll is how often the platform reads a running instance's memory when its runtime
// does not enforce the size itself. A function allocating faster than this can pass its memory
// size by what it allocates in one period before it is killed.
const memoryPoll = 5 * time.Millisecond

// fnRuntime starts the instances of one function: the runtime-specific half of a cold start.
type fnRuntime interface {
	// launch starts an instance (a process, a module instance) serving guest.Serve's protocol on
	// the pipes it returns in the instance; it does not wait for the instance's hello. ctx
	// bounds the launch, not the instance.
	launch(ctx context.Context) (*instance, error)
	// close frees what the runtime holds for the function (a compiled module), once its
	// instances are gone.
	close(ctx context.Context) error
}

// body is the runtime-specific part of a running instance.
type body interface {
	// memory returns the instance's memory in use, bytes (0 once it is gone); read only when
	// instance.pollLimit is set.
	memory() int64
	// kill stops the instance at once and returns once it has exited; killing a dead instance
	// only waits.
	kill()
	// explain says why the instance's stream broke (streamErr), once it has exited (killed if
	// need be): an error wrapping ErrCrashed (with the exit status) or ErrOutOfMemory.
	explain(streamErr error) error
}

// instance is one instance of a function, whatever its runtime: the platform's side of
// guest.Serve's protocol over the instance's stdin and stdout, and the watch on its limits.
type instance struct {
	body    body
	program string // what the instance runs, for errors: a command, "the module"
	stdin   io.WriteCloser
	stdout  *bufio.Reader
	// pollLimit is the memory allowed, bytes, when the watch enforces it by polling
	// body.memory; 0 when the runtime enforces the size itself.
	pollLimit int64
}

// coldStart is a cold start's phases: begin (the runtime's launch) → started (the instance's
// first byte) → ready (its handler's init done).
type coldStart struct{ begin, started, ready time.Time }

// startInstance launches an instance with rt and waits, within ctx, until it is ready. Its
// error wraps ErrInit when the instance did not start or did not become ready.
func startInstance(ctx context.Context, rt fnRuntime) (*instance, coldStart, error) {
	var cs coldStart
	cs.begin = time.Now()
	in, err := rt.launch(ctx)
	if err != nil {
		return nil, cs, fmt.Errorf("%w: %w", ErrInit, err)
	}
	done := make(chan startResult, 1)
	go func() {
		var r startResult
		b, err := in.stdout.ReadByte()
		r.started = time.Now()
		if err == nil && b != guest.Hello {
			err = fmt.Errorf("first byte %q", b)
		}
		if err != nil {
			r.err = fmt.Errorf("no hello from the instance (is %s a function serving guest.Serve?): %w", in.program, err)
			done <- r
			return
		}
		msg, err := guest.ReadFrame(in.stdout)
		r.ready = time.Now()
		switch {
		case err != nil:
			r.err, r.broke = fmt.Errorf("instance exited during init: %w", err), true
		case len(msg) > 0:
			r.err = fmt.Errorf("init: %s", msg)
		}
		done <- r
	}()
	r, err := watch(ctx, in, done)
	if err == nil && r.err != nil {
		in.close()
		err = r.err
		if r.broke {
			// Said, not wrapped: the outcome is init_error, whatever ended the instance.
			err = errors.New(in.body.explain(r.err).Error())
		}
	}
	cs.started, cs.ready = r.started, r.ready
	if err != nil {
		return nil, cs, fmt.Errorf("%w: %w", ErrInit, err)
	}
	return in, cs, nil
}

type startResult struct {
	started, ready time.Time
	err            error
	broke          bool // the stream broke (the instance exited), rather than init failing
}

type callResult struct {
	resp guest.Response
	err  error
}

// watch waits for one value of done, while killing the instance if ctx ends (ErrTimeout) or,
// when the watch enforces its memory size, its memory passes it (ErrOutOfMemory).
func watch[T any](ctx context.Context, in *instance, done <-chan T) (T, error) {
	var poll <-chan time.Time
	if in.pollLimit > 0 {
		tick := time.NewTicker(memoryPoll)
		defer tick.Stop()
		poll = tick.C
	}
	var zero T
	for {
		select {
		case v := <-done:
			return v, nil
		case <-ctx.Done():
			in.close()
			return zero, ErrTimeout
		case <-poll:
			if used := in.body.memory(); used > in.pollLimit {
				in.close()
				return zero, fmt.Errorf("%w: %d MiB resident, the size is %d MiB", ErrOutOfMemory, used>>20, in.pollLimit>>20)
			}
		}
	}
}

// invoke sends req and waits for the answer within ctx (the function's time limit). Any error
// leaves the instance dead: ErrTimeout, ErrOutOfMemory, or ErrCrashed.
func (in *instance) invoke(ctx context.Context, req guest.Request) (guest.Response, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return guest.Response{}, err
	}
	done := make(chan callResult, 1)
	go func() {
		var r callResult
		if err := guest.WriteFrame(in.stdin, b); err != nil {
			r.err = err
			done <- r
			return
		}
		out, err := guest.ReadFrame(in.stdout)
		if err != nil {
			r.err = err
		} else {
			r.err = json.Unmarshal(out, &r.resp)
		}
		done <- r
	}()
	r, err := watch(ctx, in, done)
	if err == nil && r.err != nil {
		in.close()
		err = in.body.explain(r.err)
	}
	return r.resp, err
}

// close kills the instance and waits for it to exit. Lambda gives no grace either: an
// environment is frozen between calls and discarded without notice.
func (in *instance) close() {
	_ = in.stdin.Close()
	in.body.kill()
}
