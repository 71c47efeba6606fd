package doctor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/collect"
	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/flame"
	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/jaegersrc"
	"github.com/headroom/headroom/result"
)

// startCollector starts the embedded OTLP receiver, on HTTP and gRPC, unless traces are off.
func (r *run) startCollector(ctx context.Context) error {
	if r.cfg.OTLP == collect.Off || r.cfg.Jaeger.URL != "" {
		return nil
	}
	traces, err := newKeptTraces(filepath.Join(r.cfg.OutDir, tracesFile))
	if err != nil {
		return err
	}
	r.traces = traces
	httpAddr, grpcAddr := r.cfg.OTLP, r.cfg.OTLPGRPC
	recv, err := r.listenOTLP(ctx, httpAddr, grpcAddr)
	if err != nil && (r.cfg.otlpDefault || r.cfg.grpcDefault) && errors.Is(err, collect.ErrListen) {
		// Another collector (or a second doctor) holds a well-known port: any port will do for
		// the addresses not given, and the progress line says which.
		if r.cfg.otlpDefault {
			httpAddr = "127.0.0.1:0"
		}
		if r.cfg.grpcDefault && grpcAddr != collect.Off {
			grpcAddr = "127.0.0.1:0"
		}
		recv, err = r.listenOTLP(ctx, httpAddr, grpcAddr)
	}
	if err != nil {
		return fmt.Errorf("start the OTLP receiver: %w (give other addresses with --otlp and --otlp-grpc, or --otlp off)", err)
	}
	r.recv = recv
	r.rep.OTLP = "http://" + recv.HTTPAddr().String()
	if a := recv.GRPCAddr(); a != nil {
		r.rep.OTLPGRPC = "http://" + a.String()
	}
	return nil
}

// exportHint tells a service's operator how to point its OTLP exporter at doctor: the
// environment variables of the OpenTelemetry SDKs, for each protocol doctor listens on.
func (r *run) exportHint() string {
	s := fmt.Sprintf("traces: point the service's OTLP exporter here: OTLP/HTTP OTEL_EXPORTER_OTLP_ENDPOINT=%s OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", r.rep.OTLP)
	if r.rep.OTLPGRPC != "" {
		s += fmt.Sprintf(", or OTLP/gRPC OTEL_EXPORTER_OTLP_ENDPOINT=%s OTEL_EXPORTER_OTLP_PROTOCOL=grpc", r.rep.OTLPGRPC)
	}
	return s
}

func (r *run) listenOTLP(ctx context.Context, httpAddr, grpcAddr string) (*collect.Receiver, error) {
	recv, err := collect.New(collect.Config{HTTPAddr: httpAddr, GRPCAddr: grpcAddr, CompleteAfter: time.Second,
		OnTrace: func(t *collect.Trace) {
			if r.keep.Load() {
				r.traces.lines.Add(t)
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
	}
}

// tracesFile is where the report directory keeps the steady run's traces, as `headroom collect
// --out` writes them.
const tracesFile = "traces.jsonl"

// keptTraces is the steady run's traces as the collector completes them, written as they come
// to a temporary file in the report directory (a long run holds none of them in memory): the
// analysis renames it to traces.jsonl and reads it back; every other way out removes it.
type keptTraces struct {
	lines   *collect.TraceLines
	file    *atomicfile.File
	path    string
	written chan struct{} // closed when the writer is done; err is then its error
	err     error
}

func newKeptTraces(path string) (*keptTraces, error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, fmt.Errorf("the collected traces: %w", err)
	}
	k := &keptTraces{lines: collect.NewTraceLines(), file: f, path: path, written: make(chan struct{})}
	go func() {
		k.err = k.lines.WriteAll(f.Writer())
		close(k.written)
	}()
	return k, nil
}

// finish ends the stream and waits for the writer, whose error it returns. Traces added
// later are dropped.
func (k *keptTraces) finish() error {
	k.lines.Close()
	<-k.written
	return k.err
}

// commit finishes and renames the file into place, or removes it.
func (k *keptTraces) commit() error {
	if err := k.finish(); err != nil {
		k.file.Abort()
		return err
	}
	return k.file.Commit(func(io.Writer) error { return nil })
}

// discard finishes and removes the file unless commit renamed it. A nil k does nothing.
func (k *keptTraces) discard() {
	if k != nil {
		_ = k.finish()
		k.file.Abort()
	}
}

// analysis collects the steady run's traces and diagnoses them, joined with the load results:
// the slowest requests' trace ids lead the evidence, and the slowest that shows the top finding
// becomes the report's waterfall.
func (r *run) analysis(ctx context.Context) error {
	r.progress("analysis: traces → findings")
	if r.lab != nil {
		r.stopLab() // flushes the exporter's last batch
	} else if r.recv != nil || r.cfg.Jaeger.URL != "" {
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
	if r.cfg.Jaeger.URL != "" {
		return r.analyse(ctx, r.readJaeger)
	}
	if r.traces == nil {
		return nil // --otlp off: no traces were asked for
	}
	if stats.SpansAccepted == 0 {
		r.noTraces("no span arrived")
		return nil // the deferred discard removes the empty file
	}
	if err := r.traces.commit(); err != nil {
		return fmt.Errorf("write the collected traces: %w", err)
	}
	path := r.traces.path
	return r.analyse(ctx, func(_ context.Context, s *diagnose.Stream, keep func(*diagnose.Trace) bool, ids []string, each func(*diagnose.Trace)) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if s == nil {
			_, err := diagnose.ReadEach(f, diagnose.ReadConfig{}, func(t *diagnose.Trace) {
				if slices.Contains(ids, t.ID) {
					each(t)
				}
			})
			return err
		}
		if _, err := s.ReadTraces(f, diagnose.ReadConfig{}, keep); err != nil {
			return err
		}
		if r.rep.TracesAnalyzed == 0 {
			r.noTraces(fmt.Sprintf("%d spans arrived, but none of a request of the steady run", stats.SpansAccepted))
		}
		return nil
	})
}

// traceSource reads traces for the analysis. With s, it adds to s those keep keeps (keep counts
// them); without, it hands each trace of ids it finds to each (the waterfall's candidates).
type traceSource func(ctx context.Context, s *diagnose.Stream, keep func(*diagnose.Trace) bool, ids []string, each func(*diagnose.Trace)) error

// analyse diagnoses the steady run's traces that read gives: the analysis streams, one trace at
// a time, reduced into aggregates, then dropped.
func (r *run) analyse(ctx context.Context, read traceSource) error {
	probes := r.probePaths()
	cfg := diagnoseConfig(slices.Collect(maps.Values(r.steady)))
	s := diagnose.NewStream(cfg)
	keep := func(t *diagnose.Trace) bool {
		st := traceStart(t)
		keep := !st.Before(r.from) && st.Before(r.to) && !isProbe(t, probes)
		if keep {
			r.rep.TracesAnalyzed++
		}
		return keep
	}
	if err := read(ctx, s, keep, cfg.PreferTraceIDs, nil); err != nil {
		return fmt.Errorf("read the collected traces: %w", err)
	}
	if r.rep.TracesAnalyzed == 0 {
		return nil // read said why
	}
	f := s.Findings()
	r.rep.Findings = append(f.Findings, r.hotspots...)
	slices.SortStableFunc(r.rep.Findings, func(a, b result.Finding) int { return cmp.Compare(b.ShareOfP99, a.ShareOfP99) })
	takeBreakdowns(r.rep, f)
	var err error
	if r.rep.Exemplar, err = exemplarTrace(ctx, read, r.rep.Findings, cfg.PreferTraceIDs); err != nil {
		return fmt.Errorf("read the collected traces: %w", err)
	}
	r.progress(fmt.Sprintf("analysis: %d traces of the steady run, %d findings", r.rep.TracesAnalyzed, len(r.rep.Findings)))
	return nil
}

// readJaeger is the traceSource of Config.Jaeger: the steady loads' exemplars by id, then a
// search over the steady runs' window.
func (r *run) readJaeger(ctx context.Context, s *diagnose.Stream, keep func(*diagnose.Trace) bool, ids []string, each func(*diagnose.Trace)) error {
	jc := r.cfg.Jaeger
	jc.TraceIDs = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == "" })
	if s == nil {
		if len(jc.TraceIDs) == 0 {
			return nil
		}
		jc.Service = "" // the ids alone
		_, err := jaegersrc.Read(ctx, jc, each)
		return err
	}
	jc.End, jc.Lookback = r.to, r.to.Sub(r.from)
	st, err := jaegersrc.Read(ctx, jc, func(t *diagnose.Trace) {
		if keep(t) {
			s.Add(t)
		}
	})
	if err != nil {
		return err
	}
	s.Tolerate(st.Tolerated)
	r.progress(fmt.Sprintf("analysis: jaeger: %d traces by id (%d not found), %d searched", st.ByID, len(st.Missing), st.Searched))
	if r.rep.TracesAnalyzed == 0 {
		r.rep.NoTraces = fmt.Sprintf("no trace of a request of the steady run in Jaeger (%s, service %q) after %v, so no trace-based diagnosis: "+
			"check the service name (Jaeger's UI lists them), that the service exports its spans to that Jaeger and that its sampler keeps requests whose traceparent says sampled",
			jc.URL, jc.Service, r.cfg.TraceWait)
		r.progress("NO TRACES: " + r.rep.NoTraces)
	}
	return nil
}

// takeBreakdowns copies diagnose's per-endpoint breakdowns into rep: the self time by
// operation, the edge tier's and the one across services.
func takeBreakdowns(rep *result.Doctor, f *result.Findings) {
	for _, ep := range f.Endpoints {
		b := result.EndpointBreakdown{Endpoint: ep.Endpoint, Traces: ep.Count, TotalMS: ep.MeanMS}
		for _, cat := range sortedByValue(ep.SelfTimeMS) {
			b.Parts = append(b.Parts, result.Part{Name: cat, SelfMS: ep.SelfTimeMS[cat]})
		}
		rep.Breakdown = append(rep.Breakdown, b)
	}
	rep.Edge = f.Edge
	rep.Services = f.Services
	rep.Functions = f.Functions
}

// noTraces records, and says at once, that the diagnosis has no traces to read, and what to
// check: without them doctor's findings are the profiles' only.
func (r *run) noTraces(what string) {
	where := r.rep.OTLP
	if r.rep.OTLPGRPC != "" {
		where += " (OTLP/HTTP) or " + r.rep.OTLPGRPC + " (OTLP/gRPC)"
	}
	r.rep.NoTraces = fmt.Sprintf("%s on %s, so no trace-based diagnosis: check that the service exports its spans there (OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL), "+
		"that its sampler keeps requests whose traceparent says sampled (parentbased_always_on), and that its exporter flushes within --trace-wait (%v)", what, where, r.cfg.TraceWait)
	r.progress("NO TRACES: " + r.rep.NoTraces)
}

// probePaths are the paths doctor itself requests from the target besides the endpoints it
// measures: the profiles, the lab's switches, the metrics. A traced service records these
// requests too; they are doctor's, not the service's endpoints.
func (r *run) probePaths() []string {
	paths := []string{flame.CPUPathDefault, flame.WallPathDefault, "/debug/pprof/"}
	if r.rep.Lab != nil {
		paths = append(paths, "/admin/")
	}
	if u, err := url.Parse(r.cfg.Metrics); err == nil && u.Path != "" {
		paths = append(paths, u.Path)
	}
	for _, e := range r.cfg.Endpoints {
		if t, err := parseEndpoint("", e); err == nil {
			measured := strings.SplitN(t.URL, "?", 2)[0]
			paths = slices.DeleteFunc(paths, func(p string) bool { return strings.HasPrefix(measured, p) })
		}
	}
	return paths
}

// isProbe reports whether t is one of doctor's own requests: a span without a parent in t served
// a path under one of probes.
func isProbe(t *diagnose.Trace, probes []string) bool {
	ids := make(map[string]bool, len(t.Spans))
	for _, s := range t.Spans {
		ids[s.SpanID] = true
	}
	for _, s := range t.Spans {
		if s.ParentID != "" && ids[s.ParentID] {
			continue
		}
		p := s.Path()
		if p != "" && slices.ContainsFunc(probes, func(pr string) bool { return strings.HasPrefix(p, pr) }) {
			return true
		}
	}
	return false
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
// collected, else the slowest exemplar that was. It reads the traces again, keeping only those.
func exemplarTrace(ctx context.Context, read traceSource, findings []result.Finding, slowest []string) (*result.TraceView, error) {
	var ids []string
	for _, f := range findings {
		for _, id := range f.Evidence.TraceIDs {
			if id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	for _, id := range slowest {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	byID := map[string]*diagnose.Trace{}
	if err := read(ctx, nil, nil, ids, func(t *diagnose.Trace) { byID[t.ID] = t }); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if t, ok := byID[id]; ok {
			if v := diagnose.Waterfall(t); v != nil {
				return v, nil
			}
		}
	}
	return nil, nil
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
