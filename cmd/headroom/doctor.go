package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/doctor"
	"github.com/headroom/headroom/report"
)

func newDoctorCmd() *cobra.Command {
	var cfg doctor.Config
	var quiet bool
	cmd := &cobra.Command{
		Use:   "doctor [URL]",
		Short: "Measure a service, or the built-in lab, in one command",
		Long: `doctor measures each endpoint of a service under open-model load and writes what it found.

With no URL it starts the lab in process (SQLite, embedded mail, log and payment services) with
every anti-pattern on — N+1 queries, an unindexed search, an uncached feed, synchronous remote
logging — measures its endpoints, switches the anti-patterns off and measures again, so the cost
of each mistake is a measured difference, not a claim.

Today doctor runs fixed-rate load; the capacity sweep, traces, diagnosis and profiles join it as
they are built. It writes report.json and one load result per measurement to --out.

Exit codes: 0 done; 2 bad usage; 3 the run failed or was interrupted.`,
		Example: `  headroom doctor --quick
  headroom doctor http://127.0.0.1:9000 --endpoints /api/a,/api/b --rate 100`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				cfg.URL = args[0]
			}
			if err := cfg.Validate(); err != nil {
				return usageErrorf("%w", err)
			}
			stderr := cmd.ErrOrStderr()
			progress := func(line string) {
				if !quiet {
					fmt.Fprintln(stderr, line)
				}
			}
			rep, err := doctor.Run(cmd.Context(), cfg, progress)
			if rep != nil && len(rep.Measurements) > 0 {
				if werr := report.WriteDoctor(cmd.OutOrStdout(), rep, report.Options{Color: isTerminal(cmd.OutOrStdout())}); werr != nil {
					return runFailed(werr)
				}
			}
			if err != nil {
				if cmd.Context().Err() != nil {
					return runFailed(errors.New("interrupted"))
				}
				return runFailed(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\n  wrote %s and %d load results\n", filepath.Join(cfg.OutDir, "report.json"), len(rep.Measurements))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&cfg.Endpoints, "endpoints", nil, `paths to measure, such as /api/a,/api/b (default for the lab: its main endpoints); "POST /path {json}" sends a body`)
	fl.Float64Var(&cfg.Rate, "rate", 50, "requests per second of each measurement")
	fl.DurationVar(&cfg.Duration, "duration", 0, "measured length of each measurement (default 10s, 3s with --quick)")
	fl.DurationVar(&cfg.Warmup, "warmup", 0, "warm-up before each measurement (default 2s, 1s with --quick)")
	fl.BoolVar(&cfg.Quick, "quick", false, "short measurements: about 40 s in all on the lab")
	fl.StringVarP(&cfg.OutDir, "out", "o", "headroom-report", "directory for report.json and the load results")
	fl.BoolVarP(&quiet, "quiet", "q", false, "no progress lines")
	return cmd
}
