// Package labproc runs the lab as a child process (headroom-lab, found by internal/labbin) for
// the toolkit's commands that start their own lab (doctor, experiments): it waits until the lab
// serves, reads its /admin/info, and stops it gracefully. Measured over the wire like any target,
// the lab's CPU time and profiles are its own, apart from the load generator's and the
// collector's, and the toolkit's binary carries none of the lab's dependencies.
package labproc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/headroom/headroom/internal/labbin"
)

// Process is the lab running as a child process.
type Process struct {
	cmd     *exec.Cmd
	url     string
	info    []byte        // GET /admin/info's body
	exited  chan struct{} // closed when the process has ended; then waitErr is set
	waitErr error
	stderr  tail
}

// startTimeout bounds the lab's start: seeding its SQLite database and starting the
// embedded broker take a few seconds on a slow machine.
const startTimeout = 2 * time.Minute

// stopTimeout bounds the lab's graceful stop before it is killed.
const stopTimeout = 20 * time.Second

const bannerPrefix = "headroom lab listening on "

// Start starts headroom-lab with args and waits until it serves: it prints its URL on the
// banner's first line, then answers GET /admin/info.
func Start(ctx context.Context, args []string) (*Process, error) {
	bin, err := labbin.Find()
	if err != nil {
		return nil, err
	}
	// Not tied to ctx: an interrupted run still flushes the lab's traces, then stop ends it
	// gracefully (SIGTERM), where the context would kill it.
	p := &Process{cmd: exec.CommandContext(context.WithoutCancel(ctx), bin, args...), exited: make(chan struct{})}
	p.cmd.Stderr = &p.stderr
	setDeathSignal(p.cmd)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), bannerPrefix); ok {
				select {
				case urls <- strings.TrimSpace(u):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case u := <-urls:
		p.url = u
	case <-p.exited:
		return nil, p.exitError()
	case <-t.C:
		p.Stop()
		return nil, fmt.Errorf("the lab did not start within %v: %s", startTimeout, p.stderr.last())
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	}
	if err := p.readInfo(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// URL is the lab's base URL, from its banner.
func (p *Process) URL() string { return p.url }

// Info decodes the lab's GET /admin/info, read when it started, into v.
func (p *Process) Info(v any) error {
	if err := json.Unmarshal(p.info, v); err != nil {
		return fmt.Errorf("the lab's info: %w", err)
	}
	return nil
}

func (p *Process) readInfo(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/admin/info", nil)
	if err != nil {
		return fmt.Errorf("the lab's URL %q: %w", p.url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the lab's info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the lab's info: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("the lab's info: %w", err)
	}
	if !json.Valid(b) {
		return fmt.Errorf("the lab's info is not JSON: %.100q", b)
	}
	p.info = b
	return nil
}

// PID is the lab's process id, for its CPU time.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop ends the lab as SIGTERM asks it to: in-flight requests finish and its last spans are
// exported. A lab that has not ended after stopTimeout (its own shutdown timeout is 10 s) is
// killed. It does not depend on the run's context: an interrupted run still stops its lab.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// exitError says why the lab ended before it served.
func (p *Process) exitError() error {
	msg := p.stderr.last()
	if msg == "" {
		msg = "no message"
	}
	if ee, ok := errors.AsType[*exec.ExitError](p.waitErr); ok {
		return fmt.Errorf("the lab exited with code %d before serving: %s", ee.ExitCode(), msg)
	}
	return fmt.Errorf("the lab ended before serving: %w: %s", p.waitErr, msg)
}

// tail keeps the last few KiB written to it: the lab's stderr, for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 4 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - tailMax; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

// last returns the last non-empty line written.
func (t *tail) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
