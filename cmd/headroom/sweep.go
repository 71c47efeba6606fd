package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/capacity"
	"github.com/headroom/headroom/cpusample"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/internal/loadstep"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/metricsout"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

type sweepFlags struct {
	cfg  capacity.Config
	load loadgen.Config
	targetFlags
	sloExpr  string
	headroom string
	pid      int
	metrics  string // the target's Prometheus endpoint, from --metrics
	outputs  []metricsout.Output
	mflags   metricsFlags
	cores    float64
	out      string
	html     string
	samples  samplesFlags
	quiet    bool
}

// sweepConfigFlags names sweep's flag for each field of the steps' loadgen.Config it sets (see
// configUsage).
var sweepConfigFlags = map[string]string{
	"Duration": "step", "Warmup": "warmup", "Connections": "connections", "Timeout": "timeout", "SamplesFormat": "samples-format",
	"Arrival.Kind": "arrival", "Arrival.Seed": "seed",
	"Arrival.Factor": "burst-factor", "Arrival.Length": "burst-length", "Arrival.Period": "burst-every",
}

// sweepCapacityFlags names sweep's flag for each capacity.Config field it sets.
var sweepCapacityFlags = map[string]string{
	"Objective": "--slo", "Steps": "--steps", "Start": "--start", "Factor": "--factor", "MaxRate": "--max-rate",
	"MinRate": "--min-rate", "Precision": "--precision", "MaxSteps": "--max-steps", "Headroom": "--headroom",
	"ErrorBudget": "--error-budget", "CurrentRPS": "--current",
}

func newSweepCmd() *cobra.Command {
	f := &sweepFlags{}
	cmd := &cobra.Command{
		Use:   "sweep URL --slo EXPR",
		Short: "Find the maximum throughput under an SLO, the knee and the headroom to keep",
		Long: `sweep runs open-model load steps against URL at rising rates and judges each against the SLO:
a step fails when the SLO fails, achieved falls below 99 % of offered, errors exceed the budget
(the SLO's errors clause, or --error-budget), or the generator itself was the limit (invalid).

The search grows the rate by --factor from --start until a step fails, bisects between the
highest passing and the lowest failing rate until they are within --precision, and runs the rate
found once more to verify it (Nighthawk's search). --steps runs a fixed list of rates instead.

It reports the maximum throughput under the SLO (a lower bound when an invalid step or --max-rate
stopped it), the knee (Kneedle elbow of P99 over the offered rate) and where achieved stopped
tracking offered, the recommended operating rate (max less --headroom), M/M/1, M/M/c and USL
fits with their R², and with --current the P99 at multiples of today's traffic.
Utilization per step comes from --pid (/proc) or --metrics (process_cpu_seconds_total);
without either it is reported as unknown. With --arrival bursts the rate is the mean rate.

Exit codes: 0 a maximum was found; 1 no rate meets the SLO; 2 bad usage or input (nothing sent);
3 the target is unreachable (checked before any step), the sweep failed, or it was interrupted
(the steps done are still written to --out, --html and --samples).`,
		Example: `  headroom sweep http://127.0.0.1:8080/api/posts --slo 'p99<50ms,errors<0.1%' --out sweep.json
  headroom sweep http://127.0.0.1:8080/ --slo 'p99<20ms' --steps 500,1000,2000,4000 --step 3s
  headroom sweep http://127.0.0.1:8080/ --slo 'p99<50ms' --current 400 --html sweep.html
  headroom sweep http://127.0.0.1:8080/ --slo 'p99<50ms' --arrival bursts --burst-factor 3 --step 10s
  headroom sweep http://127.0.0.1:8080/ --slo 'p99<50ms' --pid $(pgrep -n myservice)`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSweep(cmd, f, args) },
	}
	fl := cmd.Flags()
	c, l := &f.cfg, &f.load
	fl.StringVar(&f.sloExpr, "slo", "", "service level objective every step must meet, such as 'p99<50ms,errors<0.1%' (required)")
	fl.DurationVar(&l.Duration, "step", 5*time.Second, "measured length of each step, after its warm-up")
	fl.DurationVar(&l.Warmup, "warmup", time.Second, "load sent at the step's rate before each step and excluded from it")
	fl.Float64Var(&c.Start, "start", capacity.StartDefault, "first rate of the search, requests per second")
	fl.Float64Var(&c.Factor, "factor", capacity.FactorDefault, "rate multiplier between exploring steps")
	fl.Float64Var(&c.MaxRate, "max-rate", capacity.MaxRateDefault, "highest rate the search tries")
	fl.Float64Var(&c.MinRate, "min-rate", 0, "rate tried once when the first step fails (default start/10, at least 1)")
	fl.Float64Var(&c.Precision, "precision", capacity.PrecisionDefault, "bisection stops when the bracket is within this share of the rate")
	fl.IntVar(&c.MaxSteps, "max-steps", capacity.MaxStepsDefault, "most steps to run, verification included")
	fl.BoolVar(&c.NoVerify, "no-verify", false, "skip the verification run at the rate found")
	f.register(cmd, "run these rates instead of searching, such as 100,200,400")
	fl.StringVar(&f.headroom, "headroom", fmt.Sprintf("%g%%", 100*capacity.HeadroomDefault), "share of the maximum to keep free; the recommended rate is the rest")
	fl.Float64Var(&c.ErrorBudget, "error-budget", capacity.ErrorBudgetDefault, "largest error rate in percent of a passing step, when the SLO has no errors clause")
	fl.Float64Var(&c.CurrentRPS, "current", 0, "today's traffic in req/s: project P99 at multiples of it")
	fl.StringVar((*string)(&l.Arrival.Kind), "arrival", string(loadgen.ArrivalKindDefault), "arrival process of every step: "+kindList(sweepArrivals))
	fl.Uint64Var(&l.Arrival.Seed, "seed", loadgen.SeedDefault, "seed of Poisson arrivals")
	fl.Float64Var(&l.Arrival.Factor, "burst-factor", loadgen.BurstFactorDefault, "bursts: rate multiplier during a burst")
	fl.DurationVar(&l.Arrival.Length, "burst-length", loadgen.BurstLengthDefault, "bursts: length of a burst")
	fl.DurationVar(&l.Arrival.Period, "burst-every", loadgen.PeriodDefault, "bursts: period of bursts")
	fl.IntVar(&l.Connections, "connections", loadgen.ConnectionsDefault, "connections in the pool; a due request waits for a free one and the wait counts")
	fl.DurationVar(&l.Timeout, "timeout", 5*time.Second, "per-request timeout, connecting included")
	fl.BoolVar(&l.HTTP2, "http2", false, "use HTTP/2 (h2c for http:// URLs)")
	fl.BoolVar(&l.Insecure, "insecure", false, "skip TLS certificate verification")
	fl.IntVar(&f.pid, "pid", 0, "local process id of the target: report its CPU utilization per step (from /proc)")
	f.mflags.register(cmd, "Prometheus endpoint of the target: report utilization from process_cpu_seconds_total")
	fl.Float64Var(&f.cores, "cores", float64(runtime.NumCPU()), "cores available to the target, to turn CPU seconds into utilization")
	fl.StringVarP(&f.out, "out", "o", "", "write the sweep (JSON, headroom.sweep/v1) to this file (- for standard output)")
	fl.StringVar(&f.html, "html", "", "write a self-contained HTML page with the charts to this file (- for standard output)")
	f.samples.register(cmd, &l.SamplesFormat, "every request of every step's measured period (load --samples's fields, then step, its index in steps[], and offered_rps)")
	complete.Flags(cmd, complete.Values(sweepArrivals, nil), "arrival")
	complete.Flags(cmd, complete.Files("json"), "out")
	complete.Flags(cmd, complete.Files("html"), "html")
	complete.Flags(cmd, complete.None, "slo", "headroom")
	cmd.ValidArgsFunction = complete.None // a URL
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	return cmd
}

// config turns the flags into the sweep's and the steps' configurations.
func (f *sweepFlags) config(args []string) (capacity.Config, loadgen.Config, error) {
	c, l := f.cfg, f.load
	if len(args) == 0 {
		return c, l, cliexit.Usagef("no target: give a URL, such as headroom sweep http://127.0.0.1:8080/ --slo 'p99<50ms'")
	}
	if f.sloExpr == "" {
		return c, l, cliexit.Usagef("--slo is required: the objective every step must meet, such as --slo 'p99<50ms,errors<0.1%%'")
	}
	o, err := slo.Parse(f.sloExpr)
	if err != nil {
		return c, l, cliexit.Usagef("--slo: %w", err)
	}
	c.Objective = o
	if c.Steps, err = f.rates(); err != nil {
		return c, l, err
	}
	h, err := parseShare(f.headroom)
	if err != nil {
		return c, l, cliexit.Usagef("--headroom %q: %v", f.headroom, err)
	}
	c.Headroom = h
	if f.metrics, f.outputs, err = f.mflags.split(true); err != nil {
		return c, l, err
	}
	if f.pid != 0 && f.metrics != "" {
		return c, l, cliexit.Usagef("give --pid or --metrics, not both")
	}
	if f.pid < 0 {
		return c, l, cliexit.Usagef("--pid %d: want a process id", f.pid)
	}
	if !(f.cores > 0) {
		return c, l, cliexit.Usagef("--cores %v: want a positive number of cores", f.cores)
	}
	if !slices.Contains(sweepArrivals, l.Arrival.Kind) {
		return c, l, cliexit.Usagef("--arrival %q: want one of %s", l.Arrival.Kind, kindList(sweepArrivals))
	}
	if l.Arrival.Kind != loadgen.ArrivalBursts {
		l.Arrival.Factor, l.Arrival.Length, l.Arrival.Period = 0, 0, 0
	}
	c.Poisson = l.Arrival.Kind == loadgen.ArrivalPoisson
	t, err := f.target(args[0])
	if err != nil {
		return c, l, err
	}
	l.Targets = []loadgen.Target{t.WithJSONContentType()}
	l.KeepSecrets = f.keepSecrets
	l.Model = loadgen.ModelOpen
	// Validate the step template with a placeholder rate: every step only changes the rate.
	probe := l
	probe.Arrival.Rate = 1
	if err := probe.Validate(); err != nil {
		return c, l, configUsage(err, func(field string) string { return sweepConfigFlags[field] })
	}
	c = c.WithDefaults() // the result echoes the sweep as it ran, defaults included
	if err := c.Validate(); err != nil {
		return c, l, cliexit.Usagef("%w", fielderr.Rename(err, sweepCapacityFlags))
	}
	return c, l, nil
}

// sweepArrivals are the arrivals a sweep runs its steps with (loadstep.BaseRate turns the
// search's mean rate into each step's Arrival.Rate).
var sweepArrivals = []loadgen.ArrivalKind{loadgen.ArrivalConstant, loadgen.ArrivalPoisson, loadgen.ArrivalBursts}

// parseShare reads "30%" or "0.3" as 0.3.
func parseShare(s string) (float64, error) {
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, errors.New("want a share such as 30% or 0.3")
	}
	if pct || v >= 1 {
		v /= 100
	}
	if !(v > 0) || v >= 1 {
		return 0, errors.New("want a share between 0% and 100%, such as 30%")
	}
	return v, nil
}

func runSweep(cmd *cobra.Command, f *sweepFlags, args []string) error {
	cfg, load, err := f.config(args)
	if err != nil {
		return err
	}
	sio := stdioOf(cmd)
	out, err := sio.createOut(f.out)
	if err != nil {
		return err
	}
	defer out.abort()
	page, err := sio.create("--html", f.html)
	if err != nil {
		return err
	}
	defer page.abort()
	samples, err := f.samples.open(cmd.Flags(), sio, &load)
	if err != nil {
		return err
	}
	defer samples.abort()
	ctx := cmd.Context()
	stdout, stderr := sio.text(), cmd.ErrOrStderr()

	var cpu cpusample.Source
	switch {
	case f.pid != 0:
		cpu = cpusample.Proc{PID: f.pid}
	case f.metrics != "":
		cpu = cpusample.Metrics{URL: f.metrics}
	}
	if cpu != nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := cpu.CPUSeconds(pctx)
		cancel()
		if err != nil {
			return cliexit.Usagef("utilization from %s: %v", cpu, err)
		}
	}
	if err := reachable(ctx, load.Targets[0].URL, 3*time.Second); err != nil {
		return cliexit.RunFailed(fmt.Errorf("target unreachable, no step was run: %w", err))
	}

	exp, err := f.mflags.start(f.outputs, stderr, f.quiet)
	if err != nil {
		return err
	}
	st := &loadstep.Stepper{Base: load, CPU: cpu, Cores: f.cores}
	steps := 0
	if w := watcher(isTerminal(stderr) && !f.quiet, stderr, exp, metricsTarget(load.Targets), func(string) string {
		steps++
		return fmt.Sprintf("step %d", steps)
	}); w != nil {
		st.Watch = func(total time.Duration) (func(loadgen.Progress), func()) { return w("", total) }
	}
	n := 0
	progress := func(s result.SweepStep) {
		n++
		if !f.quiet {
			fmt.Fprintln(stderr, stepLine(n, s))
		}
	}
	sw, err := capacity.Run(ctx, cfg, st, progress, nil)
	finishMetrics(exp, stderr)
	if err != nil {
		return cliexit.RunFailed(err)
	}
	cj, err := sweepConfigJSON(cfg, load)
	if err != nil {
		return cliexit.RunFailed(err)
	}
	sw.Config = cj
	if sw.Target == "" {
		sw.Target = load.Redacted().Targets[0].URL
	}
	if err := out.commit(sw.Write); err != nil {
		return err
	}
	if err := page.commit(func(w io.Writer) error { return report.WriteSweepHTML(w, sw) }); err != nil {
		return err
	}
	if err := samples.commit(nothingMore); err != nil {
		return err
	}
	if err := report.WriteSweep(stdout, sw, report.Options{Color: isTerminal(stdout)}); err != nil {
		return cliexit.RunFailed(err)
	}
	switch {
	case sw.Partial:
		where := ""
		if f.out != "" {
			where = "; the steps done were written to " + f.out
		}
		return cliexit.RunFailed(fmt.Errorf("interrupted%s", where))
	case sw.MaxRPSUnderSLO == 0:
		return cliexit.CheckFailed(fmt.Errorf("no rate meets the SLO %s: %s", cfg.SLO, firstFailure(sw)))
	}
	return nil
}

// firstFailure says why the lowest rate tried failed.
func firstFailure(sw *result.Sweep) string {
	var low *result.SweepStep
	for i := range sw.Steps {
		if low == nil || sw.Steps[i].OfferedRPS < low.OfferedRPS {
			low = &sw.Steps[i]
		}
	}
	if low == nil {
		return "no step ran"
	}
	return fmt.Sprintf("even %s req/s fails: %s", strconv.FormatFloat(low.OfferedRPS, 'f', -1, 64), strings.Join(low.FailReasons, "; "))
}

// stepLine is the live line printed after each step.
func stepLine(n int, s result.SweepStep) string {
	util := "util ?"
	if s.Utilization != nil {
		util = fmt.Sprintf("util %3.0f%%", 100**s.Utilization)
	} else if s.CPUCores != nil {
		util = fmt.Sprintf("cpu %.2f cores", *s.CPUCores)
	}
	verdict := "pass"
	if !s.Pass {
		verdict = "FAIL: " + strings.Join(s.FailReasons, "; ")
	}
	return fmt.Sprintf("step %2d %-7s %9.1f req/s  achieved %9.1f  p50 %7.2f ms  p99 %8.2f ms  errors %5.2f%%  %s  %s",
		n, s.Phase, s.OfferedRPS, s.AchievedRPS, s.LatencyMS.P50, s.LatencyMS.P99, s.ErrorsPct, util, verdict)
}

// sweepConfigJSON echoes both what the search did and what each step sent.
func sweepConfigJSON(cfg capacity.Config, load loadgen.Config) ([]byte, error) {
	var b strings.Builder
	type echo struct {
		Sweep capacity.Config `json:"sweep"`
		Step  loadgen.Config  `json:"step"`
	}
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep p99<50ms readable
	if err := enc.Encode(echo{cfg, load.Redacted()}); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return []byte(strings.TrimSpace(b.String())), nil
}

// reachable dials the URL's host once, so a target that is down fails before any step.
func reachable(ctx context.Context, raw string, timeout time.Duration) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return err
	}
	return conn.Close()
}
