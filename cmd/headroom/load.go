package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

type loadFlags struct {
	cfg loadgen.Config
	targetFlags
	shardFlags
	bodyFile    string
	targetsFile string
	targetsFmt  string
	harAssets   bool
	samples     samplesFlags
	sloExpr     string
	errorBudget float64
	out         string
	quiet       bool
	interval    time.Duration
	metrics     metricsFlags
	burstEvery  time.Duration
	sinePeriod  time.Duration
}

// arrivalFlags names the flags that belong to one arrival kind only.
var arrivalFlags = map[loadgen.ArrivalKind][]string{
	loadgen.ArrivalRamp:   {"from", "to", "ramp-over"},
	loadgen.ArrivalSteps:  {"steps", "step-every"},
	loadgen.ArrivalBursts: {"burst-factor", "burst-length", "burst-every"},
	loadgen.ArrivalSine:   {"period", "amplitude"},
}

// requestsMaxDuration bounds a run that -n ends when --duration is not given.
const requestsMaxDuration = time.Hour

// loadConfigFlags names load's flag for each loadgen.Config field it sets (see configUsage).
var loadConfigFlags = map[string]string{
	"Duration": "duration", "Requests": "requests", "SamplesFormat": "samples-format", "Warmup": "warmup", "Connections": "connections", "Users": "users", "Think": "think",
	"Timeout": "timeout", "MaxBody": "max-body", "Model": "model",
	"Arrival.Kind": "arrival", "Arrival.Rate": "rate", "Arrival.Seed": "seed",
	"Arrival.From": "from", "Arrival.To": "to", "Arrival.Over": "ramp-over",
	"Arrival.Steps": "steps", "Arrival.Every": "step-every",
	"Arrival.Factor": "burst-factor", "Arrival.Length": "burst-length", "Arrival.Period": "burst-every",
	"Arrival.Amplitude": "amplitude", "Shard": "shard",
}

// loadConfigFlag is load's flag for a loadgen.Config field: Arrival.Period is set by --period
// for a sine, by --burst-every for bursts.
func loadConfigFlag(field string, kind loadgen.ArrivalKind) string {
	if field == "Arrival.Period" && kind == loadgen.ArrivalSine {
		return "period"
	}
	return loadConfigFlags[field]
}

func newLoadCmd() *cobra.Command {
	f := &loadFlags{}
	cmd := &cobra.Command{
		Use:   "load URL",
		Short: "Generate load and measure latency honestly (open model, no coordinated omission)",
		Long: `load sends requests to URL on a schedule (the open model: arrivals do not wait for answers)
through a bounded pool of connections, and measures each request's latency from the time it was
due, so a stall that holds back later requests is charged to them — the honest number wrk2
introduced. The latency from the actual send (what closed-loop tools report) and the generator's
own send lag are shown beside it, and the verdict says whether the generator was the limit.

Latency percentiles count every request, failed ones with the time they took to fail; so an
--slo without an errors clause gets an implicit one, errors<=--error-budget (0.1% by default),
printed with the checks. An SLO never passes on an invalid run or one in which no request
succeeded.

Exit codes: 0 done; 1 the --slo failed; 2 bad usage or input (nothing sent); 3 the run failed:
it was interrupted, or its verdict is invalid (the generator was the limit, or the target
answered no request); the result is still written.`,
		Example: `  headroom load http://127.0.0.1:8080/api/posts --rate 2000 --duration 30s --out run.json
  headroom load http://127.0.0.1:8080/ --rate 500 --arrival poisson --slo 'p99<200ms,errors<0.1%'
  headroom load http://127.0.0.1:8080/ --arrival ramp --from 100 --to 2000 --duration 60s
  headroom load http://127.0.0.1:8080/ --arrival bursts --rate 200 --burst-factor 5 --burst-length 2s --burst-every 10s
  headroom load http://127.0.0.1:8080/ --arrival steps --steps 100,200,400 --step-every 10s
  headroom load http://127.0.0.1:8080/ --model closed --users 50 --think 100ms --duration 20s
  headroom load --targets mix.jsonl --rate 1000 --duration 30s    # JSONL: method, url, headers, body, weight
  headroom load http://10.0.0.5:8080/ --rate 8000 --shard 0/4 --start-at 2026-12-07T10:00:00Z --out shard-0.json
  headroom load http://svc:8080/ --rate 8000 --duration 60s --k8s-job 4 --k8s-image registry.example.com/headroom:v1 --start-at 2026-12-07T10:00:00Z > job.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runLoad(cmd, f, args) },
	}
	fl := cmd.Flags()
	c := &f.cfg
	fl.Float64Var(&c.Arrival.Rate, "rate", 0, "requests per second (constant, poisson; base of bursts; mean of sine)")
	fl.DurationVar(&c.Duration, "duration", 10*time.Second, "measured duration, after the warm-up (with -n: the longest it may last, default 1h)")
	fl.Int64VarP(&c.Requests, "requests", "n", 0, "end after this many requests of the measured period instead of at --duration (as hey and ab's -n): open model once they are due and answered, closed model once answered")
	fl.DurationVar(&c.Warmup, "warmup", 0, "load sent first and excluded from every statistic")
	fl.IntVar(&c.Connections, "connections", loadgen.ConnectionsDefault, "open model: connections in the pool; a due request waits for a free one and the wait counts")
	fl.StringVar((*string)(&c.Arrival.Kind), "arrival", string(loadgen.ArrivalKindDefault), "arrival process: "+loadgen.ArrivalKindList())
	fl.BoolVar(&c.Arrival.Poisson, "poisson", false, "space arrivals as a Poisson process around any arrival shape")
	fl.Uint64Var(&c.Arrival.Seed, "seed", loadgen.SeedDefault, "seed of Poisson arrivals")
	fl.Float64Var(&c.Arrival.From, "from", 0, "ramp: start rate")
	fl.Float64Var(&c.Arrival.To, "to", 0, "ramp: end rate")
	fl.DurationVar(&c.Arrival.Over, "ramp-over", 0, "ramp: how long the ramp takes (default: the whole run)")
	fl.DurationVar(&c.Arrival.Every, "step-every", 0, "steps: how long each rate holds (default: the run divided evenly)")
	fl.Float64Var(&c.Arrival.Factor, "burst-factor", loadgen.BurstFactorDefault, "bursts: rate multiplier during a burst")
	fl.DurationVar(&c.Arrival.Length, "burst-length", loadgen.BurstLengthDefault, "bursts: length of a burst")
	fl.DurationVar(&f.burstEvery, "burst-every", loadgen.PeriodDefault, "bursts: a burst starts every this long")
	fl.DurationVar(&f.sinePeriod, "period", loadgen.PeriodDefault, "sine: period of the wave")
	fl.Float64Var(&c.Arrival.Amplitude, "amplitude", 0, "sine: swing around --rate (default rate/2)")
	fl.StringVar((*string)(&c.Model), "model", string(loadgen.ModelDefault), "open (arrivals on a schedule) or closed (users wait for each answer)")
	fl.IntVar(&c.Users, "users", loadgen.UsersDefault, "closed model: concurrent users")
	fl.DurationVar(&c.Think, "think", 0, "closed model: pause between an answer and a user's next request")
	f.targetFlags.register(cmd, "steps: comma-separated rates, such as 100,200,400")
	fl.StringVar(&f.bodyFile, "body-file", "", "read the request body from a file (- for standard input)")
	fl.StringVar(&f.targetsFile, "targets", "", "file of targets (- for standard input): headroom's JSON lines (method, url, headers, body or body_file, weight), vegeta's targets or a HAR")
	fl.StringVar(&f.targetsFmt, "targets-format", string(loadgen.TargetsAuto), "format of --targets: "+loadgen.TargetsFormatNames()+" (auto tells them apart by content)")
	f.samples.register(cmd, &c.SamplesFormat, "every request of the measured period (intended and send time, latency, status, bytes, error, trace id, target)")
	fl.BoolVar(&f.harAssets, "har-assets", false, "keep a HAR's static assets (images, fonts, CSS, scripts, media) as targets")
	fl.DurationVar(&c.Timeout, "timeout", loadgen.TimeoutDefault, "per-request timeout, connecting included")
	fl.BoolVar(&c.HTTP2, "http2", false, "use HTTP/2 (h2c for http:// URLs)")
	fl.BoolVar(&c.Insecure, "insecure", false, "skip TLS certificate verification")
	fl.Int64Var(&c.MaxBody, "max-body", loadgen.MaxBodyDefault, "largest response body accepted, in bytes")
	fl.StringVar(&f.sloExpr, "slo", "", "service level objective, such as 'p99<200ms,p99.9<1s,errors<0.1%'; exit 1 when it fails")
	fl.Float64Var(&f.errorBudget, "error-budget", slo.ErrorBudgetDefault, "largest error rate, in percent, that an --slo without an errors clause allows")
	fl.StringVarP(&f.out, "out", "o", "", "write the full result (JSON, with histograms) to this file (- for standard output)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	fl.DurationVar(&f.interval, "interval", 5*time.Second, "progress line interval when not on a terminal")
	f.shardFlags.register(cmd) // targetFlags has a register too
	f.metrics.register(cmd, "")
	complete.Flags(cmd, complete.Values(loadgen.ArrivalKinds, nil), "arrival")
	complete.Flags(cmd, complete.Values(loadgen.Models, nil), "model")
	complete.Flags(cmd, complete.Values(loadgen.TargetsFormats, nil), "targets-format")
	complete.Flags(cmd, complete.AnyFile, "targets", "body-file") // targets: told apart by content
	complete.Flags(cmd, complete.Files("json"), "out")
	complete.Flags(cmd, complete.None, "slo")
	cmd.ValidArgsFunction = complete.None // a URL
	return cmd
}

// config turns the flags into a loadgen.Config, reading the targets and body files.
func (f *loadFlags) config(cmd *cobra.Command, sio *stdio, args []string) (loadgen.Config, error) {
	c := f.cfg
	c.KeepSecrets = f.keepSecrets
	fl := cmd.Flags()
	steps, err := f.rates()
	if err != nil {
		return c, err
	}
	c.Arrival.Steps = steps
	if fl.Changed("requests") && !fl.Changed("duration") {
		// A ramp or steps spread over the run's duration: without one they have no shape.
		if c.Arrival.Kind == loadgen.ArrivalRamp && c.Arrival.Over == 0 || c.Arrival.Kind == loadgen.ArrivalSteps && c.Arrival.Every == 0 {
			return c, cliexit.Usagef("-n with --arrival %s: give --duration (or --ramp-over / --step-every), over which the arrival is spread", c.Arrival.Kind)
		}
		c.Duration = requestsMaxDuration
	}
	for kind, names := range arrivalFlags {
		for _, n := range names {
			if fl.Changed(n) && c.Arrival.Kind != kind {
				return c, cliexit.Usagef("--%s belongs to --arrival %s, not %s", n, kind, c.Arrival.Kind)
			}
		}
	}
	switch c.Arrival.Kind {
	case loadgen.ArrivalBursts:
		c.Arrival.Period = f.burstEvery
	case loadgen.ArrivalSine:
		c.Arrival.Period = f.sinePeriod
	}
	if c.Arrival.Kind != loadgen.ArrivalBursts {
		c.Arrival.Factor, c.Arrival.Length = 0, 0
	}
	if c.Model == loadgen.ModelClosed && fl.Changed("rate") {
		return c, cliexit.Usagef("--rate %g: the closed model has no rate; its users send as fast as the answers come (use --users and --think)", c.Arrival.Rate)
	}
	if c.Model == loadgen.ModelClosed && fl.Changed("connections") {
		return c, cliexit.Usagef("--connections: the closed model uses one connection per user: set --users")
	}
	if c.Model == loadgen.ModelOpen && (fl.Changed("users") || fl.Changed("think")) {
		return c, cliexit.Usagef("--users and --think belong to the closed model: add --model closed, or set --rate and --connections")
	}
	switch {
	case f.targetsFile != "" && len(args) > 0:
		return c, cliexit.Usagef("give a URL or --targets, not both")
	case f.targetsFile != "":
		fh, err := sio.open("--targets", f.targetsFile)
		if err != nil {
			return c, err
		}
		defer fh.Close()
		// Body files are relative to the targets file, or to the working directory for stdin.
		dir := filepath.Dir(f.targetsFile)
		if f.targetsFile == dash {
			dir = "."
		}
		ts, format, err := loadgen.ReadTargetsAs(fh, loadgen.TargetsOptions{Format: loadgen.TargetsFormat(f.targetsFmt), Dir: dir, HARAssets: f.harAssets})
		if err != nil {
			return c, cliexit.Usagef("--targets %s: %w", displayName(f.targetsFile), err)
		}
		if f.harAssets && format != loadgen.TargetsHAR {
			return c, cliexit.Usagef("--har-assets belongs to a HAR; --targets %s is %s", displayName(f.targetsFile), format)
		}
		c.Targets = ts
	case fl.Changed("targets-format") || f.harAssets:
		return c, cliexit.Usagef("--targets-format and --har-assets belong to --targets FILE")
	case len(args) == 1:
		t, err := f.target(args[0])
		if err != nil {
			return c, err
		}
		if f.bodyFile != "" {
			if t.Body != "" {
				return c, cliexit.Usagef("give --body or --body-file, not both")
			}
			fh, err := sio.open("--body-file", f.bodyFile)
			if err != nil {
				return c, err
			}
			b, err := io.ReadAll(fh)
			fh.Close()
			if err != nil {
				return c, cliexit.Usagef("--body-file %s: %v", displayName(f.bodyFile), err)
			}
			t.Body = string(b)
		}
		c.Targets = []loadgen.Target{t.WithJSONContentType()}
	default:
		return c, cliexit.Usagef("no target: give a URL, such as headroom load http://127.0.0.1:8080/ --rate 100, or --targets FILE")
	}
	if err := f.apply(fl, &c); err != nil {
		return c, err
	}
	if c.Model == loadgen.ModelOpen && c.Arrival.Rate == 0 && !fl.Changed("rate") && c.Arrival.Kind != loadgen.ArrivalRamp && c.Arrival.Kind != loadgen.ArrivalSteps {
		return c, cliexit.Usagef("--rate is required for the %s arrival: requests per second, such as --rate 1000 (or use --model closed)", c.Arrival.Kind)
	}
	if err := c.Validate(); err != nil {
		return c, configUsage(err, func(field string) string {
			if field == "Shard" && f.k8sJob != 0 {
				return "k8s-job"
			}
			return loadConfigFlag(field, c.Arrival.Kind)
		})
	}
	return c, nil
}

func runLoad(cmd *cobra.Command, f *loadFlags, args []string) error {
	sio := stdioOf(cmd)
	cfg, err := f.config(cmd, sio, args)
	if err != nil {
		return err
	}
	if f.k8sJob != 0 {
		return f.k8sJobCmd(cmd, args)
	}
	var obj *slo.Objective
	if f.sloExpr != "" {
		o, err := slo.Parse(f.sloExpr)
		if err != nil {
			return cliexit.Usagef("--slo: %w", err)
		}
		if !(f.errorBudget >= 0 && f.errorBudget <= 100) {
			return cliexit.Usagef("--error-budget %v: want a percentage from 0 to 100, such as 0.1", f.errorBudget)
		}
		o = o.WithErrorBudget(f.errorBudget)
		obj = &o
	} else if cmd.Flags().Changed("error-budget") {
		return cliexit.Usagef("--error-budget belongs to --slo: give an SLO, such as --slo 'p99<200ms'")
	}
	_, outputs, err := f.metrics.split(false)
	if err != nil {
		return err
	}
	out, err := sio.createOut(f.out)
	if err != nil {
		return err
	}
	defer out.abort()
	samples, err := f.samples.open(cmd.Flags(), sio, &cfg)
	if err != nil {
		return err
	}
	defer samples.abort()

	stdout, stderr := sio.text(), cmd.ErrOrStderr()
	lowerGCTarget()
	total := cfg.Warmup + cfg.Duration
	if cfg.Requests > 0 && cfg.Model != loadgen.ModelClosed && cfg.Arrival.Kind == loadgen.ArrivalConstant && cfg.Arrival.Rate > 0 {
		// The progress bar's length: -n requests at a constant rate take N/rate.
		total = min(total, cfg.Warmup+time.Duration(float64(cfg.Requests)/cfg.Arrival.Rate*float64(time.Second)))
	}
	exp, err := f.metrics.start(outputs, stderr, f.quiet)
	if err != nil {
		return err
	}
	prog := newProgress(stderr, f.quiet, isTerminal(stderr), f.interval, total)
	update := prog.update
	if exp != nil {
		update = tee(update, exp.Watch(metricsTarget(cfg.Targets), "load"))
	}
	l, err := loadgen.Run(cmd.Context(), cfg, update)
	prog.done()
	finishMetrics(exp, stderr)
	if err != nil {
		return cliexit.RunFailed(err)
	}
	if obj != nil {
		l.SLO = obj.Check(l)
	}
	write := l.Write
	if f.outMarkers {
		write = l.WriteMarked
	}
	if err := out.commit(write); err != nil {
		return err
	}
	if err := samples.commit(nothingMore); err != nil {
		return err
	}
	if err := report.WriteLoad(stdout, l, report.Options{Color: isTerminal(stdout)}); err != nil {
		return cliexit.RunFailed(err)
	}
	return loadOutcome(l, f.out)
}

// loadGCPercent is the load command's GC target. Its live heap is a few MiB (histograms and
// connection buffers) and its garbage is about one compressed histogram a second, so collecting
// at +25 % instead of Go's default +100 % keeps about 3 MiB off its peak RSS for a
// millisecond or two of GC a second (measured: bench/load-vs-wrk.sh's RSS run).
const loadGCPercent = 25

// lowerGCTarget sets loadGCPercent, unless the user chose a GC target with GOGC.
func lowerGCTarget() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(loadGCPercent)
	}
}

// loadOutcome maps a finished run to its exit code: an interrupted or invalid run failed (3),
// whatever its SLO says (which never passes on such a run); then a failed SLO is 1.
func loadOutcome(l *result.Load, out string) error {
	written := ""
	if out != "" {
		written = "; the result is written to " + outName(out)
	}
	if l.Partial {
		return cliexit.RunFailed(fmt.Errorf("interrupted%s", written))
	}
	if !l.Verdict.Valid {
		return cliexit.RunFailed(fmt.Errorf("the run is invalid: %s%s", strings.Join(l.Verdict.Reasons, "; "), written))
	}
	if l.SLO != nil && !l.SLO.Pass {
		var failed []string
		if l.SLO.Reason != "" {
			failed = append(failed, l.SLO.Reason)
		}
		for _, c := range l.SLO.Checks {
			if !c.Pass {
				failed = append(failed, fmt.Sprintf("%s (actual %.4g %s)", c.Expr, c.Actual, c.Unit))
			}
		}
		return cliexit.CheckFailed(errors.New("SLO failed: " + strings.Join(failed, ", ")))
	}
	return nil
}
