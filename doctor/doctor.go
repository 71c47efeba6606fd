// Package doctor runs headroom's loop in one command, against a URL or against the lab, which it
// starts as a child process (headroom-lab): a warm-up, a capacity sweep per endpoint (or a fixed
// rate), a steady run of every endpoint at its recommended rate, and on the lab the same steady
// run with the anti-patterns switched off, so the cost of every classic mistake is a measured
// difference. With Config.Edge the lab runs its edge tier: every phase goes through the edge,
// and the steady run is measured again straight to the origin, so the edge's gain or cost is a
// measured difference too. It writes report.json, report.html and every load and sweep result into one
// directory.
//
// doctor is the only package besides the CLIs that touches both halves: it drives the
// measurement packages and starts the lab, which it reaches over the wire like any target. Of
// the lab it imports only the light domain packages (switch names, the seeded data's words).
package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/headroom/headroom/collect"
	"github.com/headroom/headroom/flame"
	"github.com/headroom/headroom/internal/labproc"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// run is one doctor run's state.
type run struct {
	cfg  Config
	base string
	rep  *result.Doctor
	// admin is the target's own URL, for its profiles and the lab's switches: the lab's, even
	// when base is its edge.
	admin    string
	progress func(string)
	steady   map[string]*result.Load
	lab      *labproc.Process

	recv *collect.Receiver
	// keep is set from the steady run on: only then are the collector's traces kept, and the
	// analysis keeps those that started inside [from, to), the steady run's measured window.
	keep     atomic.Bool
	traces   *keptTraces // where the kept traces go, nil without the collector
	from, to time.Time
	notesMu  sync.Mutex // guards rep.Notes: the profiles note from their own goroutine
	// profiled is how the steady run's profiles were fetched; zero when it took none.
	profiled flame.FetchConfig
	flames   []report.Flame
	hotspots []result.Finding
}

// Run measures what cfg describes, writes report.json, report.html and the load and sweep
// results into cfg.OutDir, and returns the report. progress receives a line per step. When ctx
// ends, Run returns what it measured so far with ctx's error and writes no report.
func Run(ctx context.Context, cfg Config, progress func(string)) (*result.Doctor, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	r := &run{cfg: cfg, base: cfg.URL, admin: cfg.URL, progress: progress, steady: map[string]*result.Load{},
		rep: &result.Doctor{Schema: result.DoctorSchema, Target: cfg.shownURL(cfg.URL), Measurements: []result.Measurement{}, InvalidMeasurements: []result.InvalidMeasurement{}}}
	if cfg.Rate == 0 {
		r.rep.SLO = cfg.objective.Expr
	}
	// Every way out removes the kept traces' file, after the collector stopped, unless the
	// analysis committed it as traces.jsonl.
	defer func() { r.traces.discard() }()
	if err := r.startCollector(ctx); err != nil {
		return nil, err
	}
	defer r.stopCollector(ctx)
	if cfg.URL == "" {
		if err := r.startLab(ctx); err != nil {
			return nil, err
		}
		defer r.stopLab()
	} else if r.recv != nil {
		r.progress(r.exportHint())
	}
	phases := []struct {
		name string
		do   func(context.Context) error
	}{
		{"warm-up", r.warmup},
		{"sweep", r.sweep},
		{"steady", r.steadyPhase},
		{"direct", r.direct},
		{"comparison", r.comparison},
		{"analysis", r.analysis},
	}
	for _, p := range phases {
		t0 := time.Now()
		err := p.do(ctx)
		if d := time.Since(t0); d > time.Millisecond {
			r.rep.Phases = append(r.rep.Phases, result.Phase{Name: p.name, DurationS: roundS(d)})
		}
		if err != nil {
			return r.rep, err
		}
		if ctx.Err() != nil {
			return r.rep, ctx.Err()
		}
	}
	if err := r.write(); err != nil {
		return r.rep, err
	}
	if n := len(r.rep.InvalidMeasurements); n > 0 {
		m := r.rep.InvalidMeasurements[0]
		return r.rep, fmt.Errorf("%w: %d of %d, such as %s (%s): %s", ErrInvalidMeasurement, n, len(r.rep.Measurements),
			report.EndpointLabel(m.Endpoint), m.Condition, strings.Join(m.Reasons, "; "))
	}
	return r.rep, nil
}

// ErrInvalidMeasurement is wrapped by Run's error when a measurement the report's conclusions
// rest on was still invalid after one retry: the load generator, not the target, was the limit.
// The report is written, every such measurement marked INVALID.
var ErrInvalidMeasurement = errors.New("invalid after one retry: the load generator, not the target, was the limit")

func roundS(d time.Duration) float64 {
	return float64(d.Round(100*time.Millisecond)) / float64(time.Second)
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

// startLab starts the lab on a free loopback port with the configured anti-patterns, on a
// SQLite file in a temporary directory that the lab removes when it stops.
func (r *run) startLab(ctx context.Context) error {
	args := []string{"--addr", "127.0.0.1:0", "--antipatterns", r.cfg.Antipatterns, "--log-level", "error"}
	if r.cfg.Edge {
		args = append(args, edgeArgs...)
	}
	if r.rep.OTLP != "" {
		args = append(args, "--otlp", r.rep.OTLP)
	}
	args = append(args, r.cfg.LabArgs...)
	p, err := labproc.Start(ctx, args)
	if err != nil {
		return fmt.Errorf("start the lab: %w", err)
	}
	r.lab = p
	var info labInfo
	if err := p.Info(&info); err != nil {
		return err
	}
	r.base, r.admin, r.rep.Target = info.URL, info.URL, info.URL
	r.rep.Lab = &result.DoctorLab{URL: info.URL, DB: info.DB, Antipatterns: info.Antipatterns, Users: info.Data.Users, Posts: info.Data.Posts}
	r.progress(fmt.Sprintf("lab started at %s (%s; %d users, %d posts; anti-patterns: %s)", info.URL, info.DB, info.Data.Users, info.Data.Posts, info.Antipatterns))
	if r.cfg.Edge {
		return r.useEdge(ctx, info)
	}
	return nil
}

// loadConfig is the template of every load run on endpoint e of base.
func (r *run) loadConfig(base, e string, rate float64, d, warmup time.Duration) (loadgen.Config, error) {
	t, err := parseEndpoint(base, e)
	if err != nil {
		return loadgen.Config{}, err
	}
	if len(r.cfg.Headers) > 0 {
		t.Headers = maps.Clone(t.Headers)
		if t.Headers == nil {
			t.Headers = map[string]string{}
		}
		for k, v := range r.cfg.Headers {
			for old := range t.Headers {
				if strings.EqualFold(old, k) {
					delete(t.Headers, old)
				}
			}
			t.Headers[k] = v
		}
	}
	return loadgen.Config{Targets: []loadgen.Target{t}, Model: loadgen.ModelOpen, Arrival: loadgen.Arrival{Kind: loadgen.ArrivalConstant, Rate: rate},
		Duration: d, Warmup: warmup, Connections: r.cfg.Connections, Timeout: 10 * time.Second, KeepSecrets: r.cfg.KeepSecrets}, nil
}

func (r *run) watch(name string, total time.Duration) (func(loadgen.Progress), func()) {
	if r.cfg.Watch == nil {
		return nil, func() {}
	}
	return r.cfg.Watch(name, total)
}

// observe adds Config.Observe's callback for a run of c in phase to update.
func (r *run) observe(update func(loadgen.Progress), phase string, c loadgen.Config) func(loadgen.Progress) {
	if r.cfg.Observe == nil {
		return update
	}
	o := r.cfg.Observe(phase, c)
	if update == nil {
		return o
	}
	return func(p loadgen.Progress) { update(p); o(p) }
}

// warmup sends a little of every endpoint at once: connections, caches and the target's lazy
// paths are warm before anything is measured, and a target that answers only errors stops the
// run here rather than after a sweep of failures.
func (r *run) warmup(ctx context.Context) error {
	r.progress(fmt.Sprintf("warm-up: %d endpoints for %v", len(r.cfg.Endpoints), r.cfg.Warmup))
	loads, err := r.concurrently(ctx, "warm-up", r.cfg.Endpoints, func(e string) (loadgen.Config, error) { return r.loadConfig(r.base, e, 5, r.cfg.Warmup, 0) })
	if err != nil {
		return err
	}
	for i, l := range loads {
		if l.Requests > 0 && l.Errors == l.Requests {
			return fmt.Errorf("warm-up of %s: all %d requests failed (%s): is the target up and the path right?", r.cfg.Endpoints[i], l.Requests, errorKinds(l))
		}
	}
	return nil
}

// concurrently runs one load per endpoint at once, configured by cfg, and returns the results in
// endpoint order. One progress bar follows the first: the runs share their clock.
func (r *run) concurrently(ctx context.Context, name string, endpoints []string, cfg func(e string) (loadgen.Config, error)) ([]*result.Load, error) {
	type out struct {
		l   *result.Load
		err error
	}
	outs := make([]out, len(endpoints))
	var wg sync.WaitGroup
	for i, e := range endpoints {
		c, err := cfg(e)
		if err != nil {
			return nil, err
		}
		var update func(loadgen.Progress)
		done := func() {}
		if i == 0 {
			update, done = r.watch(name, c.Warmup+c.Duration)
		}
		update = r.observe(update, name, c)
		wg.Go(func() {
			defer done()
			l, err := loadgen.Run(ctx, c, update)
			outs[i] = out{l, err}
		})
	}
	wg.Wait()
	loads := make([]*result.Load, len(outs))
	for i, o := range outs {
		if o.err != nil {
			return nil, o.err
		}
		loads[i] = o.l
	}
	return loads, nil
}

func errorKinds(l *result.Load) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l.ErrorsByKind)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, l.ErrorsByKind[k]))
	}
	return strings.Join(parts, ", ")
}

func (r *run) note(s string) {
	r.notesMu.Lock()
	defer r.notesMu.Unlock()
	r.rep.Notes = append(r.rep.Notes, s)
}

// stopLab shuts the lab down, which flushes its last spans to the collector.
func (r *run) stopLab() {
	if r.lab != nil {
		r.lab.Stop()
		r.lab = nil
	}
}
