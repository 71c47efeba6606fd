package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

func newMergeCmd() *cobra.Command {
	var out, sloExpr string
	var force bool
	cmd := &cobra.Command{
		Use:   "merge A.json B.json ... --out all.json",
		Short: "Combine load results from several machines into one, losslessly",
		Long: `merge combines results of load runs that drove one target at the same time from several
machines. HDR histograms add exactly, so the merged percentiles are true percentiles of every
request, not averages of percentiles. Rates and counts add; timelines align by second.
Runs of different models are refused, and runs against different targets unless --force.

Exit codes: 0 merged; 1 the --slo failed on the merged numbers; 2 bad usage or an unreadable input.`,
		Example: `  headroom merge run-*.json --out all.json
  headroom merge a.json b.json --out all.json --slo 'p99<200ms'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return cliexit.Usagef("--out is required: the file to write the merged result to")
			}
			var obj *slo.Objective
			if sloExpr != "" {
				o, err := slo.Parse(sloExpr)
				if err != nil {
					return cliexit.Usagef("--slo: %w", err)
				}
				obj = &o
			}
			sio := stdioOf(cmd)
			if err := sio.reserve(argPairs("merge", args)...); err != nil {
				return err
			}
			runs := make([]*result.Load, 0, len(args))
			for _, p := range args {
				l, err := readLoadFile(sio, "merge", p)
				if err != nil {
					return err
				}
				runs = append(runs, l)
			}
			merged, err := result.MergeConfig{AnyTarget: force}.Merge(runs)
			if err != nil {
				return cliexit.Usagef("%w", err)
			}
			if obj != nil {
				merged.SLO = obj.Check(merged)
			}
			o, err := sio.createOut(out)
			if err != nil {
				return err
			}
			defer o.abort()
			if err := o.commit(merged.Write); err != nil {
				return err
			}
			if err := report.WriteLoad(sio.text(), merged, report.Options{Color: isTerminal(sio.text())}); err != nil {
				return cliexit.RunFailed(err)
			}
			if merged.SLO != nil && !merged.SLO.Pass {
				return cliexit.CheckFailed(errors.New("SLO failed on the merged result"))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "file to write the merged result to (required; - for standard output)")
	cmd.Flags().StringVar(&sloExpr, "slo", "", "check this SLO on the merged result; exit 1 when it fails")
	cmd.Flags().BoolVar(&force, "force", false, "merge runs against different targets (replicas behind a balancer): the result lists them all")
	return cmd
}

// readLoadFile reads the load result that flag (or the command, for an argument) names, "-"
// standard input, as a usage error when it cannot.
func readLoadFile(sio *stdio, flag, path string) (*result.Load, error) {
	f, err := sio.open(flag, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := result.ReadLoad(f)
	if err != nil {
		return nil, cliexit.Usagef("%s: %w", displayName(path), err)
	}
	return l, nil
}
