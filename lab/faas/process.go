package faas

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// processRuntime starts each instance of a function as a process (Function.Command).
type processRuntime struct {
	f      Function
	stderr io.Writer
}

// process is a running instance of the process runtime.
type process struct {
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the child has been waited for
	pageSize int64
}

var _ fnRuntime = (*processRuntime)(nil)
var _ body = (*process)(nil)

func (rt *processRuntime) launch(ctx context.Context) (*instance, error) {
	f := rt.f
	// Not bound to ctx: the instance outlives the invocation that started it (close kills it).
	cmd := exec.CommandContext(context.WithoutCancel(ctx), f.Command[0], f.Command[1:]...)
	cmd.Env = append(os.Environ(),
		"FAAS_FUNCTION_NAME="+f.Name,
		"FAAS_MEMORY_MB="+strconv.Itoa(f.MemoryMB),
		// A Go function's collector then works to stay under the size it is killed at.
		"GOMEMLIMIT="+strconv.Itoa(f.MemoryMB*9/10)+"MiB")
	cmd.Env = append(cmd.Env, f.Env...)
	cmd.Stderr = rt.stderr
	dieWithPlatform(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", f.Command[0], err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), pageSize: int64(os.Getpagesize())}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return &instance{body: p, program: f.Command[0], stdin: stdin, stdout: bufio.NewReader(stdout),
		pollLimit: int64(f.MemoryMB) << 20}, nil
}

func (*processRuntime) close(context.Context) error { return nil }

// explain gives the process's exit status.
func (p *process) explain(streamErr error) error {
	<-p.exited
	if st := p.cmd.ProcessState; st != nil {
		return fmt.Errorf("%w: %s (%w)", ErrCrashed, st, streamErr)
	}
	return fmt.Errorf("%w: %w", ErrCrashed, streamErr)
}

// memory returns the process's resident set in bytes (0 once it is gone), read from /proc.
func (p *process) memory() int64 {
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

func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}
