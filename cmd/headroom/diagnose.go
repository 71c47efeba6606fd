package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/report"
)

func newDiagnoseCmd() *cobra.Command {
	var tracesPath, loadPath, out string
	cmd := &cobra.Command{
		Use:   "diagnose --traces FILE [--load run.json] [--out findings.json]",
		Short: "Find the bottleneck in traces, with evidence",
		Long: `diagnose reads assembled traces (OTLP JSON, one request per line) and prints findings ranked
by their share of each endpoint's P99 time. With --load, the load run's exemplar trace ids are
preferred as evidence. Detectors so far: n_plus_one_db, slow_query.

Exit codes: 0 done; 2 bad usage or an unreadable input; 3 writing the result failed.`,
		Example: `  headroom diagnose --traces traces.jsonl --load run.json --out findings.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tracesPath == "" {
				return usageErrorf("--traces is required: the JSONL file headroom collect --out wrote")
			}
			f, err := os.Open(tracesPath)
			if err != nil {
				return usageErrorf("%v", err)
			}
			defer f.Close()
			traces, err := diagnose.ReadJSONL(f)
			if err != nil {
				return usageErrorf("%s: %w", tracesPath, err)
			}
			var cfg diagnose.Config
			if loadPath != "" {
				l, err := readLoadFile(loadPath)
				if err != nil {
					return err
				}
				for _, e := range l.Exemplars {
					cfg.PreferTraceIDs = append(cfg.PreferTraceIDs, e.TraceID)
				}
			}
			findings := diagnose.Diagnose(traces, cfg)
			if out != "" {
				o, err := createOut(out)
				if err != nil {
					return err
				}
				defer o.abort()
				if err := o.commit(findings.Write); err != nil {
					return err
				}
			}
			if err := report.WriteFindings(cmd.OutOrStdout(), findings); err != nil {
				return runFailed(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tracesPath, "traces", "", "OTLP JSON lines file of assembled traces (required)")
	cmd.Flags().StringVar(&loadPath, "load", "", "load run result whose exemplar trace ids to prefer as evidence")
	cmd.Flags().StringVarP(&out, "out", "o", "", "file to write the findings JSON (headroom.findings/v1) to")
	return cmd
}
