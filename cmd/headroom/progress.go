package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/headroom/headroom/loadgen"
)

// progressPrinter shows a run's progress: a bar on a terminal, a plain line per interval
// otherwise, nothing when quiet.
type progressPrinter struct {
	w        io.Writer
	interval time.Duration
	last     time.Duration
	pool     *mpb.Progress
	bar      *mpb.Bar
	mu       sync.Mutex // guards latest: the bar's decorators read it from another goroutine
	latest   loadgen.Progress
}

func newProgress(w io.Writer, quiet, terminal bool, interval time.Duration, total time.Duration) *progressPrinter {
	if quiet {
		return nil
	}
	p := &progressPrinter{w: w, interval: interval}
	if terminal {
		p.pool = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
		p.bar = p.pool.AddBar(int64(total/time.Millisecond),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
				p.mu.Lock()
				defer p.mu.Unlock()
				return fmt.Sprintf("%5.1fs/%.0fs", p.latest.Elapsed.Seconds(), total.Seconds())
			})),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				p.mu.Lock()
				defer p.mu.Unlock()
				return p.line()
			})),
		)
	}
	return p
}

// line describes the latest second. The caller holds mu.
func (p *progressPrinter) line() string {
	pr := p.latest
	if pr.Warmup {
		return "warming up"
	}
	s := pr.Second
	return fmt.Sprintf("%7.0f req/s  p50 %7.2f ms  p99 %8.2f ms  errors %d/%d", s.AchievedRPS, s.P50, s.P99, pr.Errors, pr.Requests)
}

// update is the loadgen progress callback.
func (p *progressPrinter) update(pr loadgen.Progress) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.latest = pr
	line := p.line()
	p.mu.Unlock()
	if p.bar != nil {
		p.bar.SetCurrent(int64(pr.Elapsed / time.Millisecond))
		return
	}
	// A little slack: reports come about once a second, not exactly.
	if pr.Warmup || !pr.Final && pr.Elapsed-p.last < p.interval-100*time.Millisecond {
		return
	}
	p.last = pr.Elapsed
	fmt.Fprintf(p.w, "%6.1fs  %s\n", pr.Elapsed.Seconds(), line)
}

// done removes the bar before the final table.
func (p *progressPrinter) done() {
	if p == nil || p.bar == nil {
		return
	}
	p.bar.Abort(true)
	p.pool.Wait()
}
