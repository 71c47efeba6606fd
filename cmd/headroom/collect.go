package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/headroom/headroom/collect"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/internal/fielderr"
)

func newCollectCmd() *cobra.Command {
	var (
		cfg                      collect.Config
		out                      string
		quiet                    bool
		interval, shutdownWithin time.Duration
		syncEvery                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "collect [--http 127.0.0.1:4318] [--grpc 127.0.0.1:4317] [--out traces.jsonl] [--forward URL] [--quiet]",
		Short: "Receive OTLP traces (HTTP and gRPC) and write them assembled, one trace per line",
		Long: `collect is an OTLP trace receiver: OTLP/HTTP (POST /v1/traces, protobuf or JSON, gzip) and
OTLP/gRPC. It groups spans into traces; a trace is complete --complete-after after its root
span arrives, or --max-idle after its last span when the root never comes (an orphan). With
--out, each trace becomes one line of OTLP JSON (an ExportTraceServiceRequest), the input of
headroom diagnose --traces, appended to the file as the trace completes: the file holds whole
lines only and is synced to disk every --sync-every, so it can be read while collect runs, and
after a crash (SIGKILL, power loss) it keeps every trace completed up to the last sync; traces
still being assembled then are lost. On SIGINT/SIGTERM every open trace is written first.

Bad requests are answered as OTLP specifies (400, 413, 415; 429/503 with Retry-After when
overloaded; partial success for invalid spans); every refusal is counted with its reason and
the counts are printed at the end. Use "off" as an address to disable that listener.

OTLP metrics and logs (/v1/metrics, /v1/logs and their gRPC services) are answered with success
and not analysed, so that SDKs exporting every signal to collect do not log errors. With
--forward URL (an OTLP/HTTP receiver's base URL: a team's collector, Jaeger), every request of
every signal is also sent on there, from a bounded queue: when it is full, requests are dropped
and counted, never slowing the receiver.

Exit codes: 0 stopped by a signal, all traces written; 2 bad flags or --out path; 3 a port
could not be listened on, or writing failed.`,
		Example: `  headroom collect --out traces.jsonl &
  headroom lab --otlp http://127.0.0.1:4318 &
  headroom load http://127.0.0.1:8080/api/posts --rate 200 --duration 20s --out run.json
  kill -INT %1; headroom diagnose --traces traces.jsonl --load run.json
  headroom collect --out traces.jsonl --http 127.0.0.1:14318 --grpc off --forward http://collector:4318`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCollect(cmd.Context(), stdioOf(cmd), cfg, out, quiet, interval, shutdownWithin, syncEvery)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.HTTPAddr, "http", collect.HTTPAddrDefault, `OTLP/HTTP listen address ("off" disables it)`)
	f.StringVar(&cfg.GRPCAddr, "grpc", collect.GRPCAddrDefault, `OTLP/gRPC listen address ("off" disables it)`)
	f.StringVarP(&out, "out", "o", "", "file to write assembled traces to, one OTLP JSON request per line (- for standard output)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress, no listening line")
	f.DurationVar(&interval, "interval", 5*time.Second, "progress line interval when not on a terminal")
	f.DurationVar(&cfg.CompleteAfter, "complete-after", collect.CompleteAfterDefault, "a trace is complete this long after its root span arrives")
	f.DurationVar(&cfg.MaxIdle, "max-idle", collect.MaxIdleDefault, "a trace without a root is written this long after its last span (an orphan)")
	f.IntVar(&cfg.MaxOpenTraces, "max-open-traces", collect.MaxOpenTracesDefault, "traces assembled at once; the oldest is written early beyond it")
	f.IntVar(&cfg.MaxBufferedSpans, "max-buffered-spans", collect.MaxBufferedSpansDefault, "spans held in traces being assembled; the oldest trace is written early beyond it")
	f.Int64Var(&cfg.MaxBufferedBytes, "max-buffered-bytes", collect.MaxBufferedBytesDefault, "bytes of the spans held in traces being assembled, as OTLP protobuf; the oldest trace is written early beyond it (completed traces wait for the output within a quarter of it)")
	f.IntVar(&cfg.MaxSpansPerTrace, "max-spans-per-trace", collect.MaxSpansPerTraceDefault, "spans kept per trace; more are dropped and counted")
	f.IntVar(&cfg.MaxAttrValueLen, "max-attr-len", collect.MaxAttrValueLenDefault, "attribute values longer than this many bytes are truncated and counted")
	f.Int64Var(&cfg.MaxRequestBytes, "max-request-bytes", collect.MaxRequestBytesDefault, "largest export request after decompression (413 beyond)")
	f.DurationVar(&cfg.HeaderTimeout, "header-timeout", collect.HeaderTimeoutDefault, "longest an OTLP/HTTP request's headers may take to arrive")
	f.DurationVar(&cfg.BodyTimeout, "body-timeout", collect.BodyTimeoutDefault, "longest a request's body may take to arrive after its headers (408 beyond), so slow uploads cannot hold the ingest queue")
	f.DurationVar(&syncEvery, "sync-every", time.Second, "how often the traces written to --out are synced to disk: a crash loses at most this much of them")
	f.StringVar(&cfg.Forward, "forward", "", "also send every request on to this OTLP/HTTP receiver (base URL, e.g. http://127.0.0.1:4318)")
	f.IntVar(&cfg.ForwardQueue, "forward-queue", collect.ForwardQueueDefault, "--forward: requests waiting to be sent at most; more are dropped and counted")
	f.Int64Var(&cfg.ForwardQueueBytes, "forward-queue-bytes", collect.ForwardQueueBytesDefault, "--forward: bytes of the requests waiting to be sent at most")
	f.DurationVar(&cfg.ForwardTimeout, "forward-timeout", collect.ForwardTimeoutDefault, "--forward: longest one attempt to send a request may take")
	f.DurationVar(&shutdownWithin, "shutdown-timeout", 10*time.Second, "how long to let in-flight requests and the last traces finish on shutdown")
	complete.Flags(cmd, complete.Values([]string{collect.Off}, nil), "http", "grpc")
	complete.Flags(cmd, complete.Files("jsonl"), "out")
	complete.Flags(cmd, complete.None, "forward")
	return cmd
}

// collectFlags is the flag of each collect.Config field, for collect's errors.
var collectFlags = map[string]string{
	"HTTPAddr": "--http", "GRPCAddr": "--grpc", "CompleteAfter": "--complete-after", "MaxIdle": "--max-idle",
	"MaxOpenTraces": "--max-open-traces", "MaxBufferedSpans": "--max-buffered-spans", "MaxBufferedBytes": "--max-buffered-bytes", "MaxSpansPerTrace": "--max-spans-per-trace", "MaxAttrValueLen": "--max-attr-len",
	"MaxRequestBytes": "--max-request-bytes", "HeaderTimeout": "--header-timeout", "BodyTimeout": "--body-timeout",
	"Forward": "--forward", "ForwardQueue": "--forward-queue", "ForwardQueueBytes": "--forward-queue-bytes", "ForwardTimeout": "--forward-timeout",
}

func runCollect(ctx context.Context, sio *stdio, cfg collect.Config, out string, quiet bool, interval, shutdownWithin, syncEvery time.Duration) error {
	if interval <= 0 {
		return cliexit.Usagef("--interval %s: want a positive duration", interval)
	}
	if shutdownWithin <= 0 {
		return cliexit.Usagef("--shutdown-timeout %s: want a positive duration", shutdownWithin)
	}
	// Flags spell the limits with their defaults filled in; 0 or less is a user's mistake here,
	// not "the default".
	for _, l := range []struct {
		flag string
		v    int64
	}{{"--max-open-traces", int64(cfg.MaxOpenTraces)}, {"--max-buffered-spans", int64(cfg.MaxBufferedSpans)},
		{"--max-buffered-bytes", cfg.MaxBufferedBytes}, {"--max-spans-per-trace", int64(cfg.MaxSpansPerTrace)},
		{"--max-attr-len", int64(cfg.MaxAttrValueLen)}, {"--max-request-bytes", cfg.MaxRequestBytes},
		{"--complete-after", int64(cfg.CompleteAfter)}, {"--max-idle", int64(cfg.MaxIdle)},
		{"--header-timeout", int64(cfg.HeaderTimeout)}, {"--body-timeout", int64(cfg.BodyTimeout)}, {"--sync-every", int64(syncEvery)},
		{"--forward-queue", int64(cfg.ForwardQueue)}, {"--forward-queue-bytes", cfg.ForwardQueueBytes}, {"--forward-timeout", int64(cfg.ForwardTimeout)}} {
		if l.v <= 0 {
			return cliexit.Usagef("%s must be positive", l.flag)
		}
	}
	// Probe --out before listening: a path that cannot be written is bad usage, and a port in
	// use must not have truncated the file of an earlier run.
	probe, err := sio.createOut(out)
	if err != nil {
		return err
	}
	probe.abort()
	stdout, stderr := sio.text(), sio.err
	var lines *collect.TraceLines
	if out != "" {
		lines = collect.NewTraceLines()
		cfg.OnTrace = lines.Add
	}
	rcv, err := collect.New(cfg)
	if err != nil {
		return cliexit.Usagef("%w", fielderr.Rename(err, collectFlags))
	}
	if err := rcv.Start(ctx); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return cliexit.RunFailed(fmt.Errorf("%w: is another collector running? choose a free port with --http/--grpc", err))
		}
		return cliexit.RunFailed(err)
	}
	writeErr := make(chan error, 1)
	if out == dash {
		// Standard output streams the lines; a pipe cannot be synced.
		go func() { writeErr <- lines.WriteStream(sio.out, syncEvery) }()
	} else if lines != nil {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownWithin)
			defer cancel()
			_ = rcv.Shutdown(sctx)
			return cliexit.RunFailed(err)
		}
		go func() {
			err := lines.WriteFile(f, syncEvery)
			writeErr <- cmp.Or(err, f.Close())
		}()
	}
	if !quiet {
		fmt.Fprintln(stderr, listening(rcv, out))
	}
	prog := newCollectProgress(stderr, quiet, isTerminal(stderr), interval, rcv)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownWithin)
	defer cancel()
	shutErr := rcv.Shutdown(sctx)
	prog.stop()
	if lines != nil {
		lines.Close()
		if err := <-writeErr; err != nil {
			return cliexit.RunFailed(fmt.Errorf("write %s: %w", out, err))
		}
	}
	writeCollectStats(stdout, rcv.Stats(), outName(out))
	if shutErr != nil {
		return cliexit.RunFailed(shutErr)
	}
	return nil
}

func listening(rcv *collect.Receiver, out string) string {
	var parts []string
	if a := rcv.HTTPAddr(); a != nil {
		parts = append(parts, fmt.Sprintf("OTLP/HTTP on http://%s/v1/traces", a))
	}
	if a := rcv.GRPCAddr(); a != nil {
		parts = append(parts, fmt.Sprintf("OTLP/gRPC on %s", a))
	}
	s := "collect: " + strings.Join(parts, ", ")
	if out != "" {
		s += "; traces are appended to " + outName(out) + " as they complete"
	}
	return s
}

// collectProgress shows spans/s, traces written and refusals: a line refreshed in place on a
// terminal, a plain line per interval otherwise, nothing when quiet.
type collectProgress struct {
	rcv      *collect.Receiver
	start    time.Time
	pool     *mpb.Progress
	bar      *mpb.Bar
	done     chan struct{}
	finished sync.WaitGroup
	mu       sync.Mutex // guards the rate state below, read by the bar's decorator too
	lastAt   time.Time
	lastN    int64
	rate     float64
}

func newCollectProgress(w io.Writer, quiet, terminal bool, interval time.Duration, rcv *collect.Receiver) *collectProgress {
	if quiet {
		return nil
	}
	now := time.Now()
	p := &collectProgress{rcv: rcv, start: now, lastAt: now, done: make(chan struct{})}
	every := interval
	if terminal {
		every = time.Second
		p.pool = mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(250*time.Millisecond))
		p.bar = p.pool.New(0, mpb.NopStyle(), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return p.line() })))
	}
	p.finished.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.tick()
				if p.bar == nil {
					fmt.Fprintln(w, p.line())
				}
			}
		}
	})
	return p
}

// tick updates the span rate over the last interval.
func (p *collectProgress) tick() {
	now, n := time.Now(), p.rcv.Stats().SpansAccepted
	p.mu.Lock()
	defer p.mu.Unlock()
	if dt := now.Sub(p.lastAt).Seconds(); dt > 0 {
		p.rate = float64(n-p.lastN) / dt
	}
	p.lastAt, p.lastN = now, n
}

func (p *collectProgress) line() string {
	s := p.rcv.Stats()
	p.mu.Lock()
	rate := p.rate
	p.mu.Unlock()
	reqs, spans := s.Refused()
	l := fmt.Sprintf("%6.0fs  %8.0f spans/s  %d spans  %d traces written (%d open, %.1f MB held)  rejected %d spans, %d requests",
		time.Since(p.start).Seconds(), rate, s.SpansAccepted, s.TracesWritten(), s.OpenTraces, float64(s.BufferedBytes)/1e6, spans, reqs)
	if s.Forwarded+s.ForwardDropped+s.ForwardFailed > 0 {
		l += fmt.Sprintf("  forwarded %d, dropped %d, failed %d", s.Forwarded, s.ForwardDropped, s.ForwardFailed)
	}
	return l
}

func (p *collectProgress) stop() {
	if p == nil {
		return
	}
	close(p.done)
	p.finished.Wait()
	if p.bar != nil {
		p.bar.Abort(true)
		p.pool.Wait()
	}
}

// writeCollectStats prints the final counts, every refusal and tolerance with its reason.
func writeCollectStats(w io.Writer, s collect.Stats, out string) {
	fmt.Fprintf(w, "collect: %d requests, %d spans accepted, %d traces written", s.Requests, s.SpansAccepted, s.TracesWritten())
	if out != "" {
		fmt.Fprintf(w, " to %s", out)
	}
	fmt.Fprintln(w)
	if s.MetricsRequests+s.LogsRequests > 0 {
		fmt.Fprintf(w, "  %-17s metrics %d, logs %d (answered, not analysed)\n", "other signals:", s.MetricsRequests, s.LogsRequests)
	}
	if s.Forwarded+s.ForwardDropped+s.ForwardFailed > 0 {
		fmt.Fprintf(w, "  %-17s %d requests sent, %d dropped (queue full), %d failed\n", "forwarded:", s.Forwarded, s.ForwardDropped, s.ForwardFailed)
	}
	for _, g := range []struct {
		title string
		m     map[string]int64
	}{
		{"traces", s.Traces},
		{"requests refused", s.RequestsRefused},
		{"spans rejected", s.SpansRejected},
		{"spans dropped", s.SpansDropped},
		{"tolerated", s.Tolerated},
	} {
		if len(g.m) == 0 {
			continue
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(g.m)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, g.m[k]))
		}
		fmt.Fprintf(w, "  %-17s %s\n", g.title+":", strings.Join(parts, ", "))
	}
}
