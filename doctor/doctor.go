// Package doctor runs headroom's loop in one command, against a URL or against the lab, which it
// starts as a child process (headroom-lab): a warm-up, a capacity sweep per endpoint (or a fixed
// rate), a steady run of every endpoint at its recommended rate, and on the lab the same steady
// run with the anti-patterns switched off, so the cost of every classic mistake is a measured
// difference. It writes report.json, report.html and every load and sweep result into one
// directory.
//
// doctor is the only package besides the CLIs that touches both halves: it drives the
// measurement packages and starts the lab, which it reaches over the wire like any target. Of
// the lab it imports only the light domain packages (switch names, the seeded data's words).
package doctor

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/headroom/headroom/capacity"
	"github.com/headroom/headroom/collect"
	"github.com/headroom/headroom/cpusample"
	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/flame"
	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/internal/loadstep"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

// Config says what doctor measures. Validate fills the defaults.
type Config struct {
	// URL is the target's base URL. Empty: start the lab (headroom-lab, found as labbin.Find
	// says) on a free loopback port, with SQLite and its embedded services.
	URL string
	// Endpoints are requests relative to URL, as "PATH" or "METHOD PATH [JSON-BODY]".
	// Default for the lab: LabEndpoints; required with a URL.
	Endpoints []string
	// Antipatterns are the lab's switches at start: "all", "none" or a list (see lab.Antipatterns).
	// Default "all". With any on, doctor measures again with all off. Ignored with a URL.
	Antipatterns string
	// SLO is the objective of the sweeps. Default "p99<1s,errors<1%": the lab's synchronous
	// logging alone costs 500 ms a request.
	SLO string
	// Rate, when positive, replaces the sweeps: every endpoint runs steadily at Rate requests per
	// second. Default 0 (sweep).
	Rate float64
	// Duration is the steady run's measured length; Warmup comes before each run. Defaults 10s
	// and 2s, or 3s and 1s when Quick.
	Duration, Warmup time.Duration
	// Step is each sweep step's measured length, after a warm-up of a third of it. Default 3s,
	// or 1s when Quick.
	Step time.Duration
	// MaxSteps bounds each sweep. Default 8, or 2 when Quick.
	MaxSteps int
	// Start is each sweep's first rate, in requests per second. Default 10.
	Start float64
	// Quick shortens everything: about 30 s on the lab.
	Quick bool
	// Connections per load run. Default 64.
	Connections int
	// NoProfiles skips the CPU and wall-clock profiles of the steady run (their sampling costs
	// the target some CPU).
	NoProfiles bool
	// Metrics, with a URL, is the target's Prometheus endpoint: each sweep step's CPU utilization
	// comes from its process_cpu_seconds_total, over Cores cores (default this machine's).
	// The lab's utilization is always known (doctor reads its process's CPU time).
	Metrics string
	Cores   float64
	// OTLP is where the embedded collector listens for the target's traces (OTLP/HTTP).
	// Default 127.0.0.1:4318 for a URL, so the service's exporter can be pointed at a known
	// address; a free port for the lab, whose exporter doctor points at it. "off": no traces.
	OTLP string
	// TraceWait is how long doctor waits, after the load, for an outside service's last traces
	// (its exporter batches them). Default 6s, or 3s when Quick. The lab is flushed instead.
	TraceWait time.Duration
	// OutDir receives report.json, report.html and the load and sweep results.
	// Default ./headroom-report.
	OutDir string
	// Watch, when set, is called before each load run with its name and total length; it returns
	// the run's loadgen progress callback and a func called after it (a progress bar).
	Watch func(name string, total time.Duration) (update func(loadgen.Progress), done func())

	objective   slo.Objective
	otlpDefault bool // OTLP was not given: a busy default port falls back to a free one
}

// LabEndpoints are the lab requests doctor measures by default: the N+1 query, the unindexed
// search, the uncached feed (all slowed further by synchronous logging), and the checkout behind
// a heavy-tailed payment provider, where the average hides the P99.
var LabEndpoints = []string{
	"GET /api/posts?limit=20",
	"GET /api/search?q=" + seed.RareWord,
	"GET /api/feed",
	`POST /api/checkout {"user_id":1,"amount_cents":1999}`,
}

// Validate fills defaults and checks c.
func (c *Config) Validate() error {
	if c.OTLP != "" && c.OTLP != collect.Off {
		if _, _, err := net.SplitHostPort(c.OTLP); err != nil {
			return fmt.Errorf("otlp %q: want host:port, such as 127.0.0.1:4318, or off", c.OTLP)
		}
	}
	if c.Rate < 0 {
		return fmt.Errorf("rate %v: want a positive number of requests per second, or 0 to sweep", c.Rate)
	}
	pick := func(d *time.Duration, normal, quick time.Duration) {
		if *d == 0 {
			*d = normal
			if c.Quick {
				*d = quick
			}
		}
	}
	pick(&c.Duration, 10*time.Second, 3*time.Second)
	pick(&c.Warmup, 2*time.Second, time.Second)
	pick(&c.Step, 3*time.Second, time.Second)
	for name, d := range map[string]time.Duration{"duration": c.Duration, "warmup": c.Warmup, "step": c.Step} {
		if d < 0 {
			return fmt.Errorf("%s %v: want a positive duration", name, d)
		}
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = 8
		if c.Quick {
			c.MaxSteps = 2
		}
	}
	if c.MaxSteps < 1 {
		return fmt.Errorf("max steps %d: want at least 1", c.MaxSteps)
	}
	if c.Start == 0 {
		c.Start = 10
	}
	if c.Start < 0 {
		return fmt.Errorf("start rate %v: want a positive number of requests per second", c.Start)
	}
	if c.Connections == 0 {
		c.Connections = 64
	}
	pick(&c.TraceWait, 6*time.Second, 3*time.Second)
	if c.Cores == 0 {
		c.Cores = float64(runtime.NumCPU())
	}
	if !(c.Cores > 0) {
		return fmt.Errorf("cores %v: want a positive number of cores", c.Cores)
	}
	if c.Metrics != "" {
		if _, err := loadgen.ValidateURL(c.Metrics); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	if c.TraceWait < 0 {
		return fmt.Errorf("trace wait %v: want a positive duration", c.TraceWait)
	}
	if c.OTLP == "" {
		c.otlpDefault = true
		c.OTLP = collect.DefaultHTTPAddr
		if c.URL == "" {
			c.OTLP = "127.0.0.1:0"
		}
	}
	if c.OutDir == "" {
		c.OutDir = "headroom-report"
	}
	if c.SLO == "" {
		c.SLO = "p99<1s,errors<1%"
	}
	o, err := slo.Parse(c.SLO)
	if err != nil {
		return fmt.Errorf("slo: %w", err)
	}
	c.objective = o
	if c.URL != "" {
		if _, err := loadgen.ValidateURL(c.URL); err != nil {
			return err
		}
		if len(c.Endpoints) == 0 {
			return errors.New("no endpoints: give the paths to measure, such as --endpoints /api/a,/api/b")
		}
	} else {
		if len(c.Endpoints) == 0 {
			c.Endpoints = LabEndpoints
		}
		if c.Antipatterns == "" {
			c.Antipatterns = "all"
		}
		if _, err := lab.ParseAntipatterns(c.Antipatterns); err != nil {
			return err
		}
	}
	for _, e := range c.Endpoints {
		if _, err := parseEndpoint("http://127.0.0.1", e); err != nil {
			return err
		}
	}
	return nil
}

// parseEndpoint turns "METHOD PATH [BODY]" or "PATH" into a target on base.
func parseEndpoint(base, e string) (loadgen.Target, error) {
	t := loadgen.Target{Method: http.MethodGet}
	fields := strings.SplitN(strings.TrimSpace(e), " ", 3)
	path := fields[0]
	if len(fields) > 1 {
		t.Method, path = strings.ToUpper(fields[0]), fields[1]
	}
	if len(fields) == 3 {
		t.Body = fields[2]
		if !json.Valid([]byte(t.Body)) {
			return t, fmt.Errorf("endpoint %q: body %q is not JSON", e, t.Body)
		}
		t.Headers = map[string]string{"Content-Type": "application/json"}
	}
	if !strings.HasPrefix(path, "/") {
		return t, fmt.Errorf("endpoint %q: want a path starting with /, optionally after a method, such as /api/posts or \"POST /api/x {}\"", e)
	}
	t.URL = strings.TrimRight(base, "/") + path
	return t, nil
}

// run is one doctor run's state.
type run struct {
	cfg      Config
	base     string
	rep      *result.Doctor
	progress func(string)
	steady   map[string]*result.Load
	lab      *labProcess

	recv *collect.Receiver
	// keep is set from the steady run on: only then are the collector's traces kept, and the
	// analysis keeps those that started inside [from, to), the steady run's measured window.
	keep     atomic.Bool
	lines    *collect.TraceLines // the kept traces, written as `headroom collect --out` writes them
	traces   bytes.Buffer        // lines' output, read once linesErr has answered
	linesErr chan error
	from, to time.Time
	notesMu  sync.Mutex // guards rep.Notes: the profiles note from their own goroutine
	flames   []report.Flame
	hotspots []result.Finding
}

// Run measures what cfg describes, writes report.json, report.html and the load and sweep
// results into cfg.OutDir, and returns the report. progress receives a line per step. When ctx
// ends, Run returns what it measured so far with ctx's error and writes no report.
func Run(ctx context.Context, cfg Config, progress func(string)) (*result.Doctor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	r := &run{cfg: cfg, base: cfg.URL, progress: progress, steady: map[string]*result.Load{},
		rep: &result.Doctor{Schema: result.DoctorSchema, Target: cfg.URL, Measurements: []result.Measurement{}}}
	if cfg.Rate == 0 {
		r.rep.SLO = cfg.objective.Expr
	}
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
		r.progress(fmt.Sprintf("traces: point the service's OTLP/HTTP exporter at %s (OTEL_EXPORTER_OTLP_ENDPOINT=%s)", r.rep.OTLP, r.rep.OTLP))
	}
	phases := []struct {
		name string
		do   func(context.Context) error
	}{
		{"warm-up", r.warmup},
		{"sweep", r.sweep},
		{"steady", r.steadyPhase},
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
	return r.rep, r.write()
}

func roundS(d time.Duration) float64 {
	return float64(d.Round(100*time.Millisecond)) / float64(time.Second)
}

// startLab starts the lab on a free loopback port with the configured anti-patterns, on a
// SQLite file in a temporary directory that the lab removes when it stops.
func (r *run) startLab(ctx context.Context) error {
	args := []string{"--addr", "127.0.0.1:0", "--antipatterns", r.cfg.Antipatterns, "--log-level", "error"}
	if r.rep.OTLP != "" {
		args = append(args, "--otlp", r.rep.OTLP)
	}
	p, err := startLabProcess(ctx, args)
	if err != nil {
		return fmt.Errorf("start the lab: %w", err)
	}
	r.lab = p
	info := p.info
	r.base, r.rep.Target = info.URL, info.URL
	r.rep.Lab = &result.DoctorLab{URL: info.URL, DB: info.DB, Antipatterns: info.Antipatterns, Users: info.Data.Users, Posts: info.Data.Posts}
	r.progress(fmt.Sprintf("lab started at %s (%s; %d users, %d posts; anti-patterns: %s)", info.URL, info.DB, info.Data.Users, info.Data.Posts, info.Antipatterns))
	return nil
}

// loadConfig is the template of every load run on endpoint e.
func (r *run) loadConfig(e string, rate float64, d, warmup time.Duration) (loadgen.Config, error) {
	t, err := parseEndpoint(r.base, e)
	if err != nil {
		return loadgen.Config{}, err
	}
	return loadgen.Config{Targets: []loadgen.Target{t}, Model: "open", Arrival: loadgen.Arrival{Kind: "constant", Rate: rate},
		Duration: d, Warmup: warmup, Connections: r.cfg.Connections, Timeout: 10 * time.Second}, nil
}

func (r *run) watch(name string, total time.Duration) (func(loadgen.Progress), func()) {
	if r.cfg.Watch == nil {
		return nil, func() {}
	}
	return r.cfg.Watch(name, total)
}

// warmup sends a little of every endpoint at once: connections, caches and the target's lazy
// paths are warm before anything is measured, and a target that answers only errors stops the
// run here rather than after a sweep of failures.
func (r *run) warmup(ctx context.Context) error {
	r.progress(fmt.Sprintf("warm-up: %d endpoints for %v", len(r.cfg.Endpoints), r.cfg.Warmup))
	loads, err := r.concurrently(ctx, "warm-up", func(e string) (loadgen.Config, error) { return r.loadConfig(e, 5, r.cfg.Warmup, 0) })
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
func (r *run) concurrently(ctx context.Context, name string, cfg func(e string) (loadgen.Config, error)) ([]*result.Load, error) {
	type out struct {
		l   *result.Load
		err error
	}
	outs := make([]out, len(r.cfg.Endpoints))
	var wg sync.WaitGroup
	for i, e := range r.cfg.Endpoints {
		c, err := cfg(e)
		if err != nil {
			return nil, err
		}
		var update func(loadgen.Progress)
		done := func() {}
		if i == 0 {
			update, done = r.watch(name, c.Warmup+c.Duration)
		}
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

// sweep finds each endpoint's capacity under the SLO, or takes the fixed rate.
func (r *run) sweep(ctx context.Context) error {
	for i, e := range r.cfg.Endpoints {
		de := result.DoctorEndpoint{Endpoint: e, SteadyRPS: r.cfg.Rate}
		if r.cfg.Rate == 0 {
			sw, err := r.sweepOne(ctx, i, e)
			if err != nil {
				return err
			}
			de.Sweep = sw
			de.SteadyRPS = steadyRate(sw)
			switch {
			case sw.MaxRPSUnderSLO == 0:
				r.note(fmt.Sprintf("%s: no rate met the SLO %s; the steady run uses the lowest rate tried, %s req/s", report.EndpointLabel(e), r.cfg.objective.Expr, fmtRate(de.SteadyRPS)))
			case sw.MaxIsLowerBound:
				r.note(fmt.Sprintf("%s: the maximum %s req/s is a lower bound: %s", report.EndpointLabel(e), fmtRate(sw.MaxRPSUnderSLO), lowerBoundWhy(sw)))
			}
			r.progress(fmt.Sprintf("sweep %-30s max %s req/s under %s, knee %s, recommended %s req/s", report.EndpointLabel(e),
				fmtRate(sw.MaxRPSUnderSLO), r.cfg.objective.Expr, fmtRate(sw.KneeRPS), fmtRate(sw.RecommendedRPS)))
		}
		r.rep.Endpoints = append(r.rep.Endpoints, de)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if n := len(r.rep.Endpoints); r.cfg.Rate == 0 && n > 1 {
		// The steady run sends every endpoint at once. Each at its own recommended rate would
		// ask N times the headroom of a bottleneck they share (one CPU, one pool): each gets
		// its share instead, 1/N of its recommended rate, so that the mix keeps the headroom
		// even then.
		for i := range r.rep.Endpoints {
			de := &r.rep.Endpoints[i]
			de.SteadyRPS = math.Round(100*de.SteadyRPS/float64(n)) / 100
		}
		r.note(fmt.Sprintf("the steady run sends the %d endpoints at once, each at 1/%d of its recommended rate: the mix keeps the headroom even when they share one bottleneck", n, n))
	}
	return nil
}

// lowerBoundWhy says why a sweep's maximum may be below the target's.
func lowerBoundWhy(sw *result.Sweep) string {
	for _, st := range sw.Steps {
		if st.OfferedRPS > sw.MaxRPSUnderSLO && !st.Verdict.Valid {
			return "a step above it was invalid — the load generator, not the target, was the limit (" + strings.Join(st.Verdict.Reasons, "; ") +
				"); on a busy machine, or with the lab in the generator's process, measure again on a quieter one"
		}
	}
	return "the sweep ran out of steps before a rate failed; raise --max-steps (or drop --quick)"
}

// steadyRate is the recommended rate, or the lowest rate tried when none met the SLO.
func steadyRate(sw *result.Sweep) float64 {
	if sw.RecommendedRPS > 0 {
		return sw.RecommendedRPS
	}
	low := 0.0
	for _, st := range sw.Steps {
		if low == 0 || st.OfferedRPS < low {
			low = st.OfferedRPS
		}
	}
	return low
}

func (r *run) sweepOne(ctx context.Context, i int, e string) (*result.Sweep, error) {
	base, err := r.loadConfig(e, 1, r.cfg.Step, r.cfg.Step/3)
	if err != nil {
		return nil, err
	}
	st := &loadstep.Stepper{Base: base, Cores: r.cfg.Cores}
	switch {
	case r.lab != nil:
		st.CPU = cpusample.Proc{PID: r.lab.pid()}
	case r.cfg.Metrics != "":
		st.CPU = cpusample.Metrics{URL: r.cfg.Metrics}
	}
	label := report.EndpointLabel(e)
	if r.cfg.Watch != nil {
		st.Watch = func(total time.Duration) (func(loadgen.Progress), func()) { return r.cfg.Watch("sweep "+label, total) }
	}
	n := 0
	cc := capacity.Config{Objective: r.cfg.objective, Start: r.cfg.Start, MaxSteps: r.cfg.MaxSteps, NoVerify: r.cfg.Quick, ErrorBudget: 1}
	sw, err := capacity.Run(ctx, cc, st, func(s result.SweepStep) {
		n++
		verdict := "pass"
		if !s.Pass {
			verdict = "FAIL: " + strings.Join(s.FailReasons, "; ")
		}
		r.progress(fmt.Sprintf("sweep %-30s step %d %7.1f req/s  p99 %8.2f ms  %s", label, n, s.OfferedRPS, s.LatencyMS.P99, verdict))
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", e, err)
	}
	sw.Target = base.Targets[0].URL
	if ctx.Err() != nil {
		return sw, ctx.Err()
	}
	return sw, writeJSON(filepath.Join(r.cfg.OutDir, fmt.Sprintf("sweep-%d.json", i+1)), sw)
}

// condition names the target's state for the steady run.
func (r *run) condition() result.Condition {
	if r.rep.Lab != nil && r.rep.Lab.Antipatterns != "none" && r.rep.Lab.Antipatterns != "" {
		return result.ConditionAntipatternsOn
	}
	return result.ConditionAsIs
}

// steadyPhase runs every endpoint at once at its steady rate: the traffic mix the diagnosis and
// the profiles see.
func (r *run) steadyPhase(ctx context.Context) error {
	r.progress(fmt.Sprintf("steady: every endpoint at its rate for %v, with traces and CPU and wall-clock profiles", r.cfg.Duration))
	r.keep.Store(true)
	r.from = time.Now().Add(r.cfg.Warmup)
	var err error
	load := func(ctx context.Context) {
		err = r.runAll(ctx, r.condition(), true)
		r.to = time.Now()
	}
	secs := r.cfg.Duration.Truncate(time.Second)
	switch {
	case r.cfg.NoProfiles:
		load(ctx)
	case secs < time.Second:
		r.note("profiles: the steady run is shorter than a second, too short to profile")
		load(ctx)
	default:
		cfg := flame.UnderLoadConfig{Fetch: flame.FetchConfig{Duration: secs}, Delay: r.cfg.Warmup, Dir: r.cfg.OutDir}
		p, perr := flame.UnderLoad(ctx, cfg, r.base, load)
		r.keepProfiles(ctx, p, perr)
	}
	return err
}

// keepProfiles takes the steady run's profiles into the report. A target without pprof is a
// note, not a failure.
func (r *run) keepProfiles(ctx context.Context, p *flame.Profiled, err error) {
	if p == nil {
		if ctx.Err() == nil {
			r.note(fmt.Sprintf("profiles: none fetched (%v): a Go service serves them with net/http/pprof and fgprof", err))
		}
		return
	}
	for _, e := range []error{p.Set.CPUErr, p.Set.WallErr} {
		if e != nil {
			r.note("profiles: " + e.Error())
		}
	}
	if err != nil {
		r.note("profiles: " + err.Error())
		return
	}
	for _, g := range p.Graphs {
		if g.Route != "" {
			continue // per-route graphs are files next to the report; the page shows the process
		}
		r.flames = append(r.flames, report.Flame{Title: g.Kind.Title(), SVG: g.SVG})
		r.rep.Profiles = append(r.rep.Profiles, result.Profile{Kind: string(g.Kind), File: g.Name + ".svg", Seconds: p.Set.Duration.Seconds()})
	}
	r.hotspots = p.Hotspots
}

// comparison measures the lab again with every anti-pattern off, at the same rates.
func (r *run) comparison(ctx context.Context) error {
	if r.condition() != result.ConditionAntipatternsOn {
		return nil
	}
	if err := setAntipatterns(ctx, r.base, "none"); err != nil {
		return err
	}
	r.progress("comparison: the same rates with every anti-pattern off")
	return r.runAll(ctx, result.ConditionAntipatternsOff, false)
}

// runAll runs each endpoint's steady load concurrently and records one measurement each.
func (r *run) runAll(ctx context.Context, cond result.Condition, steady bool) error {
	rates := map[string]float64{}
	for _, de := range r.rep.Endpoints {
		rates[de.Endpoint] = de.SteadyRPS
	}
	loads, err := r.concurrently(ctx, string(cond), func(e string) (loadgen.Config, error) {
		return r.loadConfig(e, rates[e], r.cfg.Duration, r.cfg.Warmup)
	})
	if err != nil {
		return err
	}
	for i, l := range loads {
		de := &r.rep.Endpoints[i]
		file := fmt.Sprintf("load-%d-%s.json", i+1, strings.ReplaceAll(string(cond), " ", "-"))
		if err := writeJSON(filepath.Join(r.cfg.OutDir, file), l); err != nil {
			return err
		}
		if steady {
			de.SteadyFile = file
			r.steady[de.Endpoint] = l
		}
		m := result.Measurement{Endpoint: de.Endpoint, Condition: cond, File: file, OfferedRPS: l.OfferedRPS, AchievedRPS: l.AchievedRPS,
			Requests: l.Requests, Errors: l.Errors, LatencyMS: l.LatencyMS, Valid: l.Verdict.Valid}
		r.rep.Measurements = append(r.rep.Measurements, m)
		r.progress(fmt.Sprintf("%-30s %-17s p50 %8.2f ms  p99 %8.2f ms  %6.1f req/s  errors %d",
			report.EndpointLabel(m.Endpoint), cond, m.LatencyMS.P50, m.LatencyMS.P99, m.AchievedRPS, m.Errors))
	}
	return nil
}

func (r *run) note(s string) {
	r.notesMu.Lock()
	defer r.notesMu.Unlock()
	r.rep.Notes = append(r.rep.Notes, s)
}

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

// stopLab shuts the lab down, which flushes its last spans to the collector.
func (r *run) stopLab() {
	if r.lab != nil {
		r.lab.stop()
		r.lab = nil
	}
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
	// queries takes tens of microseconds, below diagnose's default 50 ms total, while over a
	// network each is a round trip. doctor reports it, ranked by its (small) share of P99.
	cfg.NPlusOneMinTotal = time.Millisecond
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

// write writes report.json and report.html, each whole or not at all.
func (r *run) write() error {
	if err := writeJSON(filepath.Join(r.cfg.OutDir, "report.json"), r.rep); err != nil {
		return err
	}
	page := report.DoctorPage{Doctor: r.rep, Steady: r.steady, Flames: r.flames}
	return atomicfile.Write(filepath.Join(r.cfg.OutDir, "report.html"), func(w io.Writer) error { return report.WriteDoctorHTML(w, page) })
}

func fmtRate(v float64) string {
	if v == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}

// setAntipatterns flips the lab's switches over its admin API, as an experimenter would.
func setAntipatterns(ctx context.Context, base, list string) error {
	body := fmt.Sprintf(`{"antipatterns":%q}`, list)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/admin/antipatterns", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("switch the lab's anti-patterns: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("switch the lab's anti-patterns: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// writeJSON writes v to path whole or not at all, with SLOs such as p99<1s left readable.
func writeJSON(path string, v any) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	})
}
