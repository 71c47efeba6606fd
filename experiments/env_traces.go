package experiments

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/headroom/headroom/collect"
	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/result"
)

// The traces of an experiment: an embedded collect receiver (as doctor's) that the labs export
// to (StartLab(ctx, "--otlp", url, …) with the url OTLP returns), and the traces it completed,
// kept as diagnose's spans so that a load run's traces can be diagnosed when the experiment asks.

// Bounds of the trace store and of the wait for a run's traces.
const (
	// traceSpansMax bounds the spans kept over an experiment: an experiment's runs at a few to
	// tens of requests a second make tens of thousands; more are dropped and show as a lower
	// coverage.
	traceSpansMax = 2_000_000
	// traceWaitMax is how long Diagnose waits for a run's traces: the lab's exporter sends a
	// batch every 5 s (the OTel SDK's default), the receiver hands on a trace a second after
	// its root span arrives, and a little slack.
	traceWaitMax = 9 * time.Second
	// traceCoverageMin is the share of a run's requests whose traces must have arrived for the
	// figures read from them to be a measurement.
	traceCoverageMin = 0.8
)

// traceStore is the receiver and what it completed.
type traceStore struct {
	recv *collect.Receiver
	url  string
	wait time.Duration // how long Diagnose waits for a run's traces: traceWaitMax

	mu      sync.Mutex
	traces  []storedTrace
	byID    map[string]int
	spans   int
	dropped int
}

// storedTrace is a trace with what selects it for a run: when its root started and the path the
// root served ("" for a trace no request started).
type storedTrace struct {
	start time.Time
	path  string
	t     *diagnose.Trace
}

// window is a load run's measured interval, for selecting its traces.
type window struct {
	path     string
	from, to time.Time
	requests int64
}

// OTLP returns the URL of the experiment's OTLP receiver, starting it on first use: give it to
// the lab (`--otlp URL`) whose traces Diagnose reads. It listens on a free loopback port,
// OTLP/HTTP only, until the experiment ends.
func (e *Env) OTLP(ctx context.Context) (string, error) {
	if e.traces != nil {
		return e.traces.url, nil
	}
	s := &traceStore{byID: map[string]int{}, wait: traceWaitMax}
	recv, err := collect.New(collect.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: collect.Off, CompleteAfter: time.Second, OnTrace: s.add})
	if err != nil {
		return "", err
	}
	if err := recv.Start(ctx); err != nil {
		return "", fmt.Errorf("start the OTLP receiver: %w", err)
	}
	s.recv, s.url = recv, "http://"+recv.HTTPAddr().String()
	e.traces = s
	return s.url, nil
}

// stopTraces shuts the receiver down; its traces stay readable.
func (e *Env) stopTraces() {
	if e.traces == nil || e.traces.recv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.traces.recv.Shutdown(ctx)
	e.traces.recv = nil
}

// add keeps a completed trace (collect's OnTrace): decoded as diagnose reads `collect --out`'s
// lines, merged with an earlier part of the same trace (late spans), dropped past traceSpansMax.
func (s *traceStore) add(ct *collect.Trace) {
	line, err := ct.AppendJSON(nil)
	if err != nil {
		return
	}
	_, _ = diagnose.ReadEach(bytes.NewReader(line), diagnose.ReadConfig{}, func(t *diagnose.Trace) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.spans+len(t.Spans) > traceSpansMax {
			s.dropped++
			return
		}
		s.spans += len(t.Spans)
		if i, ok := s.byID[t.ID]; ok {
			s.traces[i].t.Spans = append(s.traces[i].t.Spans, t.Spans...)
			s.traces[i].start, s.traces[i].path = rootOf(s.traces[i].t)
			return
		}
		start, path := rootOf(t)
		s.byID[t.ID] = len(s.traces)
		s.traces = append(s.traces, storedTrace{start: start, path: path, t: t})
	})
}

// rootOf returns when t's request began and the path it served: the earliest span without a
// parent in t (a server span under the load generator's traceparent has a remote parent).
func rootOf(t *diagnose.Trace) (time.Time, string) {
	ids := make(map[string]bool, len(t.Spans))
	for _, sp := range t.Spans {
		ids[sp.SpanID] = true
	}
	var root *diagnose.Span
	for _, sp := range t.Spans {
		if (sp.ParentID == "" || !ids[sp.ParentID]) && (root == nil || sp.Start.Before(root.Start)) {
			root = sp
		}
	}
	if root == nil {
		return time.Time{}, ""
	}
	return root.Start, root.Path()
}

// noteLoad remembers the measured window of a load run that just returned, for Diagnose. The
// window ends at the earlier of its nominal end and now: a run returns once its last request is
// answered, which can be before its nominal end, and the next run may start at once.
func (e *Env) noteLoad(l Load, r *result.Load) {
	if e.windows == nil {
		e.windows = map[string]window{}
	}
	path := l.Path
	if u, err := url.Parse(l.Path); err == nil {
		path = u.Path
	}
	from := r.StartedAt.Add(l.Warmup)
	e.windows[l.Name] = window{path: path, from: from, to: minTime(from.Add(l.Duration), time.Now()), requests: r.Requests}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// matching returns the traces of w: requests to its path whose root began in its window.
func (s *traceStore) matching(w window) []*diagnose.Trace {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*diagnose.Trace
	for _, st := range s.traces {
		if st.path == w.path && !st.start.Before(w.from) && st.start.Before(w.to) {
			out = append(out, st.t)
		}
	}
	return out
}

// Traced is what the traces of one load run say.
type Traced struct {
	// Traces is how many of the run's requests' traces were read, of Requests.
	Traces   int
	Requests int64
	// Endpoint is the profile of the run's endpoint: latency, self time by category.
	Endpoint result.EndpointProfile
	// Findings are diagnose's, ranked.
	Findings []result.Finding
	// QueriesPerRequest is the mean number of database spans per request, QueriesMax the most.
	QueriesPerRequest float64
	QueriesMax        int
	// Hops are the endpoint's calls between services, when its traces cross services.
	Hops []result.HopTime
}

// Diagnose waits for the traces of the load run named load (the requests to its path that began
// in its measured window) and diagnoses them with cfg; it records the figures as the measurement
// "LOAD/traces" (see tracedValues). It waits until a trace per request has arrived, or at most
// traceWaitMax (ctx bounds it too); fewer than traceCoverageMin of them make the measurement
// invalid. Call it after the experiment's last load: the earlier runs' traces have arrived by
// then, so the experiment waits once.
func (e *Env) Diagnose(ctx context.Context, load string, cfg diagnose.Config) (*Traced, error) {
	w, ok := e.windows[load]
	if !ok {
		return nil, fmt.Errorf("diagnose %s: no such load run", load)
	}
	if e.traces == nil {
		return nil, fmt.Errorf("diagnose %s: no traces collected (start the lab with --otlp e.OTLP())", load)
	}
	e.Progress("%s: waiting for its traces", load)
	traces := e.traces.matching(w)
	deadline := time.NewTimer(e.traces.wait)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for wait := true; wait && int64(len(traces)) < w.requests; traces = e.traces.matching(w) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			wait = false
		case <-tick.C:
		}
	}
	tr := diagnoseTraces(traces, cfg)
	tr.Requests = w.requests
	m := result.ExperimentMeasurement{Name: load + "/traces", Setup: "the traces of " + load, Values: tracedValues(tr)}
	if cov := coverage(tr); cov < traceCoverageMin {
		e.traces.mu.Lock()
		dropped := e.traces.dropped
		e.traces.mu.Unlock()
		m.InvalidReasons = []string{fmt.Sprintf("the traces of only %d of %d requests arrived (%.0f %%, %d traces dropped over the store's bound): too few to read figures from",
			tr.Traces, tr.Requests, 100*cov, dropped)}
	}
	e.Record(m)
	return tr, nil
}

func coverage(t *Traced) float64 {
	if t.Requests <= 0 {
		return 1
	}
	return float64(t.Traces) / float64(t.Requests)
}

// diagnoseTraces streams traces through diagnose and counts their database spans.
func diagnoseTraces(traces []*diagnose.Trace, cfg diagnose.Config) *Traced {
	out := &Traced{Traces: len(traces)}
	s := diagnose.NewStream(cfg)
	queries := 0
	for _, t := range traces {
		n := 0
		for _, sp := range t.Spans {
			if sp.IsDatabase() {
				n++
			}
		}
		queries += n
		out.QueriesMax = max(out.QueriesMax, n)
		s.Add(t)
	}
	if len(traces) > 0 {
		out.QueriesPerRequest = float64(queries) / float64(len(traces))
	}
	f := s.Findings()
	out.Findings = f.Findings
	for _, ep := range f.Endpoints {
		if ep.Count > out.Endpoint.Count {
			out.Endpoint = ep
		}
	}
	for _, sb := range f.Services {
		if sb.Endpoint == out.Endpoint.Endpoint {
			out.Hops = sb.Hops
		}
	}
	return out
}

// tracedValues are the figures of a Traced as a measurement's Values:
//   - traces, requests, coverage (their ratio);
//   - queries_per_request, queries_max: database spans per request;
//   - mean_ms: the endpoint's mean latency in its traces; self_ms.CATEGORY: its mean self time
//     per request by category (db, logging, http, internal…);
//   - finding.KIND: the rank (1 = first) of diagnose's first finding of that kind, absent when
//     there is none; share_of_p99.KIND: that finding's share of P99;
//   - hop_ms.PEER, hop_network_ms.PEER: the P50 of a call to the peer service, and of its
//     network part, when the traces cross services.
func tracedValues(t *Traced) map[string]float64 {
	v := map[string]float64{"traces": float64(t.Traces), "requests": float64(t.Requests), "coverage": coverage(t),
		"queries_per_request": t.QueriesPerRequest, "queries_max": float64(t.QueriesMax), "mean_ms": t.Endpoint.MeanMS}
	for cat, ms := range t.Endpoint.SelfTimeMS {
		v["self_ms."+cat] = ms
	}
	for _, h := range t.Hops {
		v["hop_ms."+h.Peer] = h.Call.P50MS
		v["hop_network_ms."+h.Peer] = h.Network.P50MS
	}
	for i, f := range t.Findings {
		k := "finding." + string(f.Kind)
		if _, seen := v[k]; !seen {
			v[k] = float64(i + 1)
			v["share_of_p99."+string(f.Kind)] = f.ShareOfP99
		}
	}
	return v
}

// kindsByRank lists the finding kinds of a "…/traces" measurement's Values, first rank first.
func kindsByRank(values map[string]float64) []string {
	var kinds []string
	for k := range values {
		if kind, ok := strings.CutPrefix(k, "finding."); ok {
			kinds = append(kinds, kind)
		}
	}
	slices.SortFunc(kinds, func(a, b string) int { return cmp.Compare(values["finding."+a], values["finding."+b]) })
	return kinds
}
