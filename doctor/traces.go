package doctor

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/collect"
	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/result"
)

// startCollector starts the embedded OTLP/HTTP receiver, unless traces are off.
func (r *run) startCollector(ctx context.Context) error {
	if r.cfg.OTLP == collect.Off {
		return nil
	}
	r.lines = collect.NewTraceLines()
	recv, err := r.listenOTLP(ctx, r.cfg.OTLP)
	if err != nil && r.cfg.otlpDefault && errors.Is(err, collect.ErrListen) {
		// Another collector (or a second doctor) holds the well-known port: any port will do,
		// and the progress line says which.
		recv, err = r.listenOTLP(ctx, "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("start the OTLP receiver: %w (give another address with --otlp, or --otlp off)", err)
	}
	r.recv = recv
	r.linesErr = make(chan error, 1)
	go func() { r.linesErr <- r.lines.WriteAll(&r.traces) }()
	r.rep.OTLP = "http://" + recv.HTTPAddr().String()
	return nil
}

func (r *run) listenOTLP(ctx context.Context, addr string) (*collect.Receiver, error) {
	recv, err := collect.New(collect.Config{HTTPAddr: addr, GRPCAddr: collect.Off, CompleteAfter: time.Second,
		OnTrace: func(t *collect.Trace) {
			if r.keep.Load() {
				r.lines.Add(t)
			}
		}})
	if err != nil {
		return nil, err
	}
	return recv, recv.Start(ctx)
}

func (r *run) stopCollector(ctx context.Context) {
	if r.recv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = r.recv.Shutdown(sctx)
		r.recv = nil
		r.lines.Close()
	}
}

// analysis collects the steady run's traces and diagnoses them, joined with the load results:
// the slowest requests' trace ids lead the evidence, and the slowest that shows the top finding
// becomes the report's waterfall.
func (r *run) analysis(ctx context.Context) error {
	r.progress("analysis: traces → findings")
	if r.lab != nil {
		r.stopLab() // flushes the exporter's last batch
	} else if r.recv != nil {
		// The service's exporter batches (every 5 s by default in the OTel SDKs): its last
		// batch of the steady run, or its first, may still be on its way.
		r.progress(fmt.Sprintf("analysis: waiting %v for the service's last spans", r.cfg.TraceWait))
		t := time.NewTimer(r.cfg.TraceWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	stats := collect.Stats{}
	if r.recv != nil {
		stats = r.recv.Stats()
	}
	r.stopCollector(ctx)
	r.rep.Findings = append(r.rep.Findings, r.hotspots...)
	if stats.SpansAccepted == 0 {
		if r.cfg.OTLP != collect.Off {
			r.note(fmt.Sprintf("traces: none received on %s, so no trace-based diagnosis: export the service's spans there (OTLP/HTTP)", r.rep.OTLP))
		}
		return nil
	}
	if err := <-r.linesErr; err != nil {
		return fmt.Errorf("write the collected traces: %w", err)
	}
	raw := r.traces.Bytes()
	if err := atomicfile.Write(filepath.Join(r.cfg.OutDir, "traces.jsonl"), func(w io.Writer) error { _, err := w.Write(raw); return err }); err != nil {
		return err
	}
	in, err := diagnose.Read(bytes.NewReader(raw), diagnose.ReadConfig{})
	if err != nil {
		return fmt.Errorf("read the collected traces: %w", err)
	}
	in.Traces = slices.DeleteFunc(in.Traces, func(t *diagnose.Trace) bool {
		s := traceStart(t)
		return s.Before(r.from) || !s.Before(r.to)
	})
	cfg := diagnoseConfig(slices.Collect(maps.Values(r.steady)))
	f := diagnose.Analyze(in, cfg)
	r.rep.Findings = append(f.Findings, r.hotspots...)
	slices.SortStableFunc(r.rep.Findings, func(a, b result.Finding) int { return cmp.Compare(b.ShareOfP99, a.ShareOfP99) })
	for _, ep := range f.Endpoints {
		b := result.EndpointBreakdown{Endpoint: ep.Endpoint, Traces: ep.Count, TotalMS: ep.MeanMS}
		for _, cat := range sortedByValue(ep.SelfTimeMS) {
			b.Parts = append(b.Parts, result.Part{Name: cat, SelfMS: ep.SelfTimeMS[cat]})
		}
		r.rep.Breakdown = append(r.rep.Breakdown, b)
	}
	r.rep.Exemplar = exemplarTrace(in.Traces, r.rep.Findings, cfg.PreferTraceIDs)
	r.progress(fmt.Sprintf("analysis: %d traces of the steady run, %d findings", len(in.Traces), len(r.rep.Findings)))
	return nil
}

// diagnoseConfig is the diagnosis doctor runs over the steady run's traces: diagnose --load's,
// joined with every steady load, with a lower N+1 threshold.
func diagnoseConfig(steady []*result.Load) diagnose.Config {
	cfg := diagnose.DefaultConfig()
	// The repeats make an N+1, whatever they cost here: on an in-process SQLite each of the 20
	// queries takes tens of microseconds, below diagnose's default 50 ms total (and on a quiet
	// machine below 1 ms all together), while over a network each is a round trip. doctor
	// reports it, ranked by its (small) share of P99.
	cfg.NPlusOneMinTotal = 100 * time.Microsecond
	cfg.PreferExemplars(steady...)
	return cfg
}

// traceStart is the earliest span start of t.
func traceStart(t *diagnose.Trace) time.Time {
	var s time.Time
	for _, sp := range t.Spans {
		if s.IsZero() || sp.Start.Before(s) {
			s = sp.Start
		}
	}
	return s
}

// exemplarTrace picks the waterfall: the top finding's first evidence trace when it was
// collected, else the slowest exemplar that was.
func exemplarTrace(traces []*diagnose.Trace, findings []result.Finding, slowest []string) *result.TraceView {
	byID := map[string]*diagnose.Trace{}
	for _, t := range traces {
		byID[t.ID] = t
	}
	var ids []string
	for _, f := range findings {
		ids = append(ids, f.Evidence.TraceIDs...)
	}
	for _, id := range append(ids, slowest...) {
		if t, ok := byID[id]; ok {
			if v := diagnose.Waterfall(t); v != nil {
				return v
			}
		}
	}
	return nil
}

// sortedByValue returns m's keys, largest value first (ties by key).
func sortedByValue(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b)) })
	return keys
}
