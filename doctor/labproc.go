package doctor

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
	"github.com/headroom/headroom/result"
)

// labProcess is the lab running as a child process (headroom-lab). Measured over the wire like
// any target, its CPU time and profiles are its own, apart from the load generator's and the
// collector's, and this binary carries none of its dependencies.
type labProcess struct {
	cmd     *exec.Cmd
	info    labInfo
	exited  chan struct{} // closed when the process has ended; then waitErr is set
	waitErr error
	stderr  tail
}

// labInfo is what doctor reads of the lab's GET /admin/info.
type labInfo struct {
	URL          string `json:"url"`
	DB           string `json:"db"`
	Antipatterns string `json:"antipatterns"`
	Data         struct {
		Users int64 `json:"users"`
		Posts int64 `json:"posts"`
	} `json:"data"`
	// Edge is the edge tier's part, present when the lab runs with --edge: its keys are the
	// report's (result.DoctorEdge).
	Edge *result.DoctorEdge `json:"edge"`
}

// labStartTimeout bounds the lab's start: seeding its SQLite database and starting the
// embedded broker take a few seconds on a slow machine.
const labStartTimeout = 2 * time.Minute

// labStopTimeout bounds the lab's graceful stop before it is killed.
const labStopTimeout = 20 * time.Second

const bannerPrefix = "headroom lab listening on "

// startLabProcess starts headroom-lab with args and waits until it serves: it prints its URL
// on the banner's first line, then answers GET /admin/info.
func startLabProcess(ctx context.Context, args []string) (*labProcess, error) {
	bin, err := labbin.Find()
	if err != nil {
		return nil, err
	}
	// Not tied to ctx: an interrupted run still flushes the lab's traces, then stop ends it
	// gracefully (SIGTERM), where the context would kill it.
	p := &labProcess{cmd: exec.CommandContext(context.WithoutCancel(ctx), bin, args...), exited: make(chan struct{})}
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
	t := time.NewTimer(labStartTimeout)
	defer t.Stop()
	select {
	case u := <-urls:
		p.info.URL = u
	case <-p.exited:
		return nil, p.exitError()
	case <-t.C:
		p.stop()
		return nil, fmt.Errorf("the lab did not start within %v: %s", labStartTimeout, p.stderr.last())
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	if err := p.readInfo(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *labProcess) readInfo(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.info.URL+"/admin/info", nil)
	if err != nil {
		return fmt.Errorf("the lab's URL %q: %w", p.info.URL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the lab's info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the lab's info: %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&p.info); err != nil {
		return fmt.Errorf("the lab's info: %w", err)
	}
	return nil
}

// pid is the lab's process id, for its CPU time.
func (p *labProcess) pid() int { return p.cmd.Process.Pid }

// stop ends the lab as SIGTERM asks it to: in-flight requests finish and its last spans are
// exported. A lab that has not ended after labStopTimeout (its own shutdown timeout is 10 s) is
// killed. It does not depend on the run's context: an interrupted run still stops its lab.
func (p *labProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(labStopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// exitError says why the lab ended before it served.
func (p *labProcess) exitError() error {
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
