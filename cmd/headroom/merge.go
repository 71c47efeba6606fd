package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

func newMergeCmd() *cobra.Command {
	var out, sloExpr string
	var force, fromLogs bool
	var tolerance time.Duration
	cmd := &cobra.Command{
		Use:   "merge A.json B.json ... --out all.json",
		Short: "Combine load results from several machines into one, losslessly",
		Long: `merge combines results of load runs that drove one target at the same time from several
machines. HDR histograms add exactly, so the merged percentiles are true percentiles of every
request, not averages of percentiles. Rates and counts add; timelines align by second.
Runs of different models are refused, and runs against different targets unless --force.

The shards of one load (load --shard I/N) must make that load: one config, shards 0 to N-1
each once, started within --start-tolerance of each other; otherwise merge refuses them, or,
with --force, merges them with a note saying what is wrong. The merged verdict is invalid if
any shard's was. With --from-k8s-logs the arguments are logs (kubectl logs of the pods of
load --k8s-job), each holding results between marker lines.

Exit codes: 0 merged; 1 the --slo failed on the merged numbers; 2 bad usage or an unreadable input,
or shards that do not make one load.`,
		Example: `  headroom merge run-*.json --out all.json
  headroom merge a.json b.json --out all.json --slo 'p99<200ms'
  kubectl logs -l job-name=headroom-load --tail=-1 --max-log-requests=8 > logs.txt
  headroom merge --from-k8s-logs logs.txt --out all.json`,
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
			if tolerance < 0 {
				return cliexit.Usagef("--start-tolerance %v: want a positive duration, such as 100ms", tolerance)
			}
			runs := make([]*result.Load, 0, len(args))
			for _, p := range args {
				if fromLogs {
					ls, err := readLogLoads(sio, p)
					if err != nil {
						return err
					}
					runs = append(runs, ls...)
					continue
				}
				l, err := readLoadFile(sio, "merge", p)
				if err != nil {
					return err
				}
				runs = append(runs, l)
			}
			merged, err := result.MergeConfig{AnyTarget: force, AnyShards: force, StartTolerance: tolerance}.Merge(runs)
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
	cmd.Flags().BoolVar(&force, "force", false, "merge runs against different targets (replicas behind a balancer): the result lists them all; and shards that do not make one load, with a note")
	cmd.Flags().BoolVar(&fromLogs, "from-k8s-logs", false, "the arguments are logs (kubectl logs of load --k8s-job's pods) holding results between marker lines")
	cmd.Flags().DurationVar(&tolerance, "start-tolerance", result.StartToleranceDefault, "how far apart the shards of a load may have started")
	complete.Flags(cmd, complete.Files("json"), "out")
	complete.Flags(cmd, complete.None, "slo")
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if fromLogs {
			return complete.AnyFile(cmd, args, toComplete)
		}
		return complete.Files("json")(cmd, args, toComplete)
	}
	return cmd
}

// readLogLoads reads the load results in the log at path ("-" standard input), as a usage error
// when it cannot or holds none.
func readLogLoads(sio *stdio, path string) ([]*result.Load, error) {
	f, err := sio.open("--from-k8s-logs", path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ls, err := result.ReadLogLoads(f)
	if err != nil {
		return nil, cliexit.Usagef("%s: %w", displayName(path), err)
	}
	if len(ls) == 0 {
		return nil, cliexit.Usagef("%s: no result between %s and %s lines: want the logs of load --out - --out-markers (load --k8s-job's pods)", displayName(path), result.LogBegin, result.LogEnd)
	}
	return ls, nil
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
