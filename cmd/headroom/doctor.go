package main

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/collect"
	"github.com/headroom/headroom/doctor"
	"github.com/headroom/headroom/flame"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/metricsout"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

func newDoctorCmd() *cobra.Command {
	var cfg doctor.Config
	var quiet bool
	var traceURL string
	var headers []string
	var mflags metricsFlags
	cmd := &cobra.Command{
		Use:   "doctor [URL]",
		Short: "Measure a service, or the built-in lab, in one command: capacity, diagnosis, report",
		Long: `doctor measures a service end to end and writes a report people want to look at.

Phases: a warm-up of every endpoint; a capacity sweep per endpoint against --slo (or, with
--rate, a fixed rate); a steady run of every endpoint at once, each at 1/N of its recommended
rate so the mix keeps the headroom, while an embedded OTLP receiver collects the traces and the
target's CPU and wall-clock profiles are taken (/debug/pprof, /debug/fgprof); on the lab the
same steady run with every anti-pattern switched off, so the cost of each mistake is a measured
difference, not a claim; then the diagnosis of the steady run's traces.

For a URL, point the service's OTLP exporter at an address doctor prints: OTLP/gRPC on
127.0.0.1:4317 (OTEL_EXPORTER_OTLP_PROTOCOL=grpc, most SDKs' default) and OTLP/HTTP on
127.0.0.1:4318 (http/protobuf), unless busy or --otlp-grpc / --otlp say otherwise. When no
trace arrives, doctor says so in one line and what to check. Its own requests (profile
fetches, the lab's switches) are never diagnosed as endpoints. A service that already exports to
Jaeger needs no change: with --jaeger (its query URL) and --jaeger-service, doctor starts no
receiver and reads the steady run's traces from Jaeger after --trace-wait, its exemplars by id
first, then a search over the steady run's window (at most --jaeger-limit traces).

With no URL it starts the lab (headroom-lab, found next to headroom, on PATH or at $HEADROOM_LAB)
as a child process (SQLite, embedded mail, log and payment services) with --antipatterns on
(default all: N+1 queries, an unindexed search, an uncached feed, synchronous remote logging).

With --edge (the lab only) it starts the lab with its edge tier (headroom lab --edge: an edge
node with a 2 ms user link and an 80 ms link to the origin, and a direct user → origin link with
both distances) and measures every phase through the edge, then, right after the steady run,
the same endpoints at the same rates straight to the origin ("direct"): each endpoint is
reported per path, with what the edge saves or costs, and the traces' breakdown of time at the
edge, on the edge → origin link and at the origin. The default endpoints gain the lab's edge
showcase (/page/home and its script) when the lab serves it.

It prints the measurements and the top findings, and writes report.json (headroom.doctor/v1),
report.html (self-contained: opens offline), traces.jsonl, the flame graphs and every load and
sweep result to --out.

A measurement the load generator judges invalid (it, not the target, was the limit) is
measured once more; one still invalid is marked INVALID with its reason in the terminal,
report.html and report.json (invalid_measurements), and doctor exits 3 after writing them.

Exit codes: 0 done; 2 bad usage; 3 the run failed, was interrupted, or a measurement stayed
invalid.`,
		Example: `  headroom doctor --quick
  headroom doctor --quick --antipatterns none
  headroom doctor --quick --edge
  headroom doctor http://127.0.0.1:9000 --endpoints /api/a,/api/b --slo 'p99<100ms'
  headroom doctor http://127.0.0.1:9000 --endpoints /api/a --rate 100
  headroom doctor http://127.0.0.1:9000 --endpoints /api/a --jaeger http://127.0.0.1:16686 --jaeger-service api
  headroom doctor https://api.example.com --endpoints /v1/me -H "Authorization: Bearer $TOKEN"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				cfg.URL = args[0]
			}
			var err error
			if cfg.Headers, err = parseHeaders(headers); err != nil {
				return err
			}
			if cfg.TraceURL, err = report.ParseTraceURL(traceURL); err != nil {
				return cliexit.Usagef("--trace-url %w", err)
			}
			if cfg.OutDir == dash {
				return cliexit.Usagef("--out -: doctor writes a directory (report.html, report.json, the results), which standard output cannot hold")
			}
			var outputs []metricsout.Output
			if cfg.Metrics, outputs, err = mflags.split(true); err != nil {
				return err
			}
			stderr, stdout := cmd.ErrOrStderr(), cmd.OutOrStdout()
			exp, err := mflags.start(outputs, stderr, quiet)
			if err != nil {
				return err
			}
			if exp != nil {
				cfg.Observe = func(phase string, c loadgen.Config) func(loadgen.Progress) {
					return exp.Watch(metricsTarget(c.Targets), phase)
				}
			}
			progress := func(line string) {
				if !quiet {
					fmt.Fprintln(stderr, line)
				}
			}
			if isTerminal(stderr) && !quiet {
				cfg.Watch = func(_ string, total time.Duration) (func(loadgen.Progress), func()) {
					p := newProgress(stderr, false, true, time.Hour, total)
					return p.update, p.done
				}
			}
			rep, err := doctor.Run(cmd.Context(), cfg, progress)
			finishMetrics(exp, stderr)
			if errors.Is(err, doctor.ErrConfig) {
				return cliexit.Usagef("%w", fielderr.Rename(err, doctorFlags))
			}
			if rep != nil && len(rep.Measurements) > 0 {
				fmt.Fprintln(stdout)
				if werr := report.WriteDoctor(stdout, rep, report.Options{Color: isTerminal(stdout)}); werr != nil {
					return cliexit.RunFailed(werr)
				}
				if werr := writeTopFindings(cmd, rep, cfg.TraceURL); werr != nil {
					return cliexit.RunFailed(werr)
				}
			}
			if err != nil && !errors.Is(err, doctor.ErrInvalidMeasurement) {
				if cmd.Context().Err() != nil {
					return cliexit.RunFailed(errors.New("interrupted: no report written"))
				}
				return cliexit.RunFailed(err)
			}
			outDir := cmp.Or(cfg.OutDir, doctor.OutDirDefault)
			fmt.Fprintf(stdout, "\n  wrote %s and %s with %d load results\n",
				filepath.Join(outDir, "report.html"), filepath.Join(outDir, "report.json"), len(rep.Measurements))
			if err != nil {
				return cliexit.RunFailed(err) // the report is written, its invalid measurements marked
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&cfg.Endpoints, "endpoints", nil, `paths to measure, such as /api/a,/api/b (default for the lab: its main endpoints); "POST /path {json}" sends a body`)
	fl.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' sent with every request to the target: load runs and profile fetches (repeatable; credentials are REDACTED in the results)")
	fl.StringVar(&cfg.SLO, "slo", doctor.SLODefault, "objective of the capacity sweeps")
	fl.Float64Var(&cfg.Rate, "rate", 0, "run every endpoint at this fixed rate (req/s) instead of sweeping")
	fl.DurationVar(&cfg.Duration, "duration", 0, fmt.Sprintf("measured length of each steady run (default %v, %v with --quick)", doctor.DurationDefault, doctor.DurationQuick))
	fl.DurationVar(&cfg.Warmup, "warmup", 0, fmt.Sprintf("warm-up before each steady run (default %v, %v with --quick)", doctor.WarmupDefault, doctor.WarmupQuick))
	fl.DurationVar(&cfg.Step, "step", 0, fmt.Sprintf("measured length of each sweep step (default %v, %v with --quick)", doctor.StepDefault, doctor.StepQuick))
	fl.IntVar(&cfg.MaxSteps, "max-steps", 0, fmt.Sprintf("most steps of each sweep (default %d, %d with --quick)", doctor.MaxStepsDefault, doctor.MaxStepsQuick))
	fl.DurationVar(&cfg.SweepBudget, "sweep-budget", 0, fmt.Sprintf("time all sweeps may take together, shared by the endpoints; a maximum it cuts short is a lower bound (default none, %v with --quick)", doctor.SweepBudgetQuick))
	fl.Float64Var(&cfg.Start, "start", doctor.StartDefault, "first rate of each sweep, req/s")
	fl.IntVar(&cfg.Connections, "connections", doctor.ConnectionsDefault, "connections of each load run")
	fl.StringVar(&cfg.Antipatterns, "antipatterns", doctor.AntipatternsDefault, "the lab's anti-patterns: all, none or a list such as n_plus_one,sync_logging")
	fl.StringArrayVar(&cfg.LabArgs, "lab-arg", nil, "an argument for the lab doctor starts, after its own (repeatable), e.g. --lab-arg=--edge-origin-rtt=150ms (the lab only)")
	fl.BoolVar(&cfg.Edge, "edge", false, "start the lab with its edge tier and measure every endpoint through the edge and straight to the origin (the lab only)")
	fl.BoolVar(&cfg.NoProfiles, "no-profiles", false, "skip the CPU and wall-clock profiles of the steady run")
	fl.BoolVar(&cfg.KeepSecrets, "keep-secrets", false, "write credentials in the URL (user:password@, api_key=…) into the results as given instead of redacted")
	fl.Int64Var(&cfg.MaxProfileBytes, "max-profile-bytes", flame.MaxBytesDefault, "largest profile accepted from the target, as read and once inflated (a decompression bomb stops there)")
	mflags.register(cmd, "Prometheus endpoint of the target: CPU utilization per sweep step from process_cpu_seconds_total")
	fl.Float64Var(&cfg.Cores, "cores", 0, "cores available to the target, to turn CPU seconds into utilization (default this machine's)")
	fl.StringVar(&cfg.OTLP, "otlp", "", "address of the embedded OTLP/HTTP trace receiver (default 127.0.0.1:4318 for a URL, a free port for the lab); off for no traces at all")
	fl.StringVar(&cfg.OTLPGRPC, "otlp-grpc", "", "address of the embedded OTLP/gRPC trace receiver (default 127.0.0.1:4317 for a URL, a free port for the lab); off for OTLP/HTTP only")
	addJaegerFlags(cmd, &cfg.Jaeger, false, "the embedded receiver (a URL whose service exports to that Jaeger; the steady runs' exemplars by id, then a search over their window)")
	fl.DurationVar(&cfg.TraceWait, "trace-wait", 0, fmt.Sprintf("for a URL, how long to wait after the load for the service's last spans (default %v, %v with --quick)", doctor.TraceWaitDefault, doctor.TraceWaitQuick))
	fl.BoolVar(&cfg.Quick, "quick", false, "short runs, within a minute for 4 endpoints: each sweep searches within its share of --sweep-budget")
	fl.StringVarP(&cfg.OutDir, "out", "o", doctor.OutDirDefault, "directory for report.html, report.json and the results")
	fl.BoolVarP(&quiet, "quiet", "q", false, "no progress lines")
	fl.StringVar(&traceURL, "trace-url", "", "link trace ids to a trace viewer, {trace_id} standing for the id, e.g. http://localhost:16686/trace/{trace_id}")
	complete.Flags(cmd, complete.List(lab.Antipatterns(), lab.Antipattern.Describe, lab.AllAntipatterns, lab.NoAntipatterns), "antipatterns")
	complete.Flags(cmd, complete.Values([]string{collect.Off}, nil), "otlp", "otlp-grpc")
	complete.Flags(cmd, complete.Dirs, "out")
	complete.Flags(cmd, complete.None, "endpoints", "header", "slo", "lab-arg", "trace-url")
	cmd.ValidArgsFunction = complete.None // a URL
	return cmd
}

// doctorFlags is the flag of each doctor.Config field, for doctor's errors.
var doctorFlags = map[string]string{
	"Endpoints": "--endpoints", "SLO": "--slo", "Rate": "--rate", "Duration": "--duration", "Warmup": "--warmup",
	"Step": "--step", "MaxSteps": "--max-steps", "SweepBudget": "--sweep-budget", "Start": "--start", "Connections": "--connections",
	"Antipatterns": "--antipatterns", "Metrics": "--metrics", "Cores": "--cores", "OTLP": "--otlp", "OTLPGRPC": "--otlp-grpc",
	"TraceWait": "--trace-wait", "OutDir": "--out", "MaxProfileBytes": "--max-profile-bytes", "Edge": "--edge", "LabArgs": "--lab-arg",
	"Headers":    "--header",
	"Jaeger.URL": "--jaeger", "Jaeger.Service": "--jaeger-service", "Jaeger.Operation": "--jaeger-operation",
	"Jaeger.Limit": "--jaeger-limit", "Jaeger.MaxBodyBytes": "--jaeger-max-bytes",
}

// topFindings is how many findings the terminal shows; the report has them all.
const topFindings = 5

func writeTopFindings(cmd *cobra.Command, rep *result.Doctor, t report.TraceURL) error {
	if len(rep.Findings) == 0 {
		return nil
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "\n  top findings (%d in all, see report.html):\n", len(rep.Findings))
	return report.WriteFindings(w, &result.Findings{Schema: result.FindingsSchema, Findings: rep.Findings[:min(topFindings, len(rep.Findings))]}, t)
}
