// Package cpusample reads how much CPU time a target process has used, so a sweep can report
// latency against the target's utilization: from /proc/PID/stat for a local process, or from the
// process_cpu_seconds_total counter of a Prometheus text endpoint. It measures nothing itself and
// imports nothing of headroom.
package cpusample

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// Source reports the cumulative CPU seconds (user + system) a target has used.
type Source interface {
	CPUSeconds(ctx context.Context) (float64, error)
	// String names the source for people, such as "pid 1234".
	String() string
}

// ErrNotFound is returned (wrapped) when the process or the metric does not exist.
var ErrNotFound = errors.New("not found")

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux architecture Go
// supports (the kernel exports it as a fixed ABI value, whatever CONFIG_HZ is).
const clockTicks = 100

// Proc reads a local process's CPU time from /proc.
type Proc struct {
	PID int
	// Root is the proc file system's mount point. Default "/proc".
	Root string
}

var _ Source = Proc{}

func (p Proc) String() string { return fmt.Sprintf("pid %d", p.PID) }

// CPUSeconds reads utime + stime of the process.
func (p Proc) CPUSeconds(context.Context) (float64, error) {
	root := p.Root
	if root == "" {
		root = "/proc"
	}
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", root, p.PID))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("process %d: %w", p.PID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", p.PID, err)
	}
	return ParseStat(string(b))
}

// ParseStat reads utime + stime, in seconds, from the text of /proc/PID/stat.
func ParseStat(stat string) (float64, error) {
	// The command name (field 2) is in parentheses and may hold spaces and parentheses: the
	// fields after it start after the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat %.40q: no command name", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat %.40q: %d fields after the command, want at least 13", stat, len(f))
	}
	var ticks float64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: cpu time %q: %w", s, err)
		}
		ticks += float64(v)
	}
	return ticks / clockTicks, nil
}

// Metrics reads process_cpu_seconds_total from a Prometheus text-format endpoint.
type Metrics struct {
	URL string
	// Client defaults to http.DefaultClient; set a timeout on it or on ctx.
	Client *http.Client
}

var _ Source = Metrics{}

func (m Metrics) String() string { return "metrics " + m.URL }

// CPUSeconds scrapes the endpoint and returns the counter (summed over its series).
func (m Metrics) CPUSeconds(ctx context.Context) (float64, error) {
	c := m.Client
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return 0, fmt.Errorf("metrics %q: %w", m.URL, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics %s: status %s", m.URL, resp.Status)
	}
	v, err := ParseCPUCounter(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return 0, fmt.Errorf("metrics %s: %w", m.URL, err)
	}
	return v, nil
}

// ParseCPUCounter reads process_cpu_seconds_total from Prometheus text exposition format,
// summing its series.
func ParseCPUCounter(r io.Reader) (float64, error) {
	const name = "process_cpu_seconds_total"
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var sum float64
	found := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '{') {
			continue // a comment, another metric, or a longer name
		}
		if rest[0] == '{' {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				return 0, fmt.Errorf("%s: unterminated labels in %q", name, line)
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest) // value [timestamp]
		if len(f) == 0 {
			return 0, fmt.Errorf("%s: no value in %q", name, line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: value %q: %w", name, f[0], err)
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return sum, nil
}
