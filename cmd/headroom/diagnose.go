package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

func newDiagnoseCmd() *cobra.Command {
	var tracesPath, loadPath, out, failOn string
	cfg := diagnose.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "diagnose --traces FILE [--load run.json] [--out findings.json] [--fail-on KIND,...]",
		Short: "Find the bottleneck in traces, with evidence",
		Long: `diagnose reads assembled traces (OTLP JSON, one request per line) and prints findings ranked
by their share of each endpoint's P99 time, then where each endpoint's time goes (self time by
category, the critical path) and what its slowest requests spend more time on than its median ones.
With --load, the load run's exemplar trace ids are preferred as evidence and its slowest requests
are the tail. Detectors: ` + kindList(diagnose.Kinds()) + `.

Bad input lines and spans (malformed JSON, missing ids, duplicate span ids, end before start,
huge attributes) are skipped or repaired and counted, not fatal.

Exit codes: 0 done; 1 a kind listed in --fail-on was found; 2 bad usage or an unreadable input;
3 writing the result failed.`,
		Example: `  headroom diagnose --traces traces.jsonl --load run.json --out findings.json
  headroom diagnose --traces traces.jsonl --fail-on n_plus_one_db,sync_remote_call`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tracesPath == "" {
				return cliexit.Usagef("--traces is required: the JSONL file headroom collect --out wrote")
			}
			fail, err := parseKinds(failOn)
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				// Validate names the JSON keys; the flags are the same names with dashes.
				lines := strings.Split(err.Error(), "\n")
				for i, l := range lines {
					key, rest, _ := strings.Cut(l, " ")
					lines[i] = "--" + strings.ReplaceAll(key, "_", "-") + " " + rest
				}
				return cliexit.Usagef("%s", strings.Join(lines, "\n"))
			}
			f, err := os.Open(tracesPath)
			if err != nil {
				return cliexit.Usagef("%v", err)
			}
			defer f.Close()
			in, err := diagnose.Read(f, diagnose.ReadConfig{})
			if err != nil {
				return cliexit.Usagef("%s: %w", tracesPath, err)
			}
			if loadPath != "" {
				l, err := readLoadFile(loadPath)
				if err != nil {
					return err
				}
				cfg.PreferExemplars(l)
			}
			if len(in.Tolerated) > 0 {
				reasons := slices.Sorted(maps.Keys(in.Tolerated))
				parts := make([]string, len(reasons))
				for i, r := range reasons {
					parts[i] = fmt.Sprintf("%s ×%d (first at line %d)", r, in.Tolerated[r], in.FirstBad[r])
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "diagnose: %s: tolerated bad input: %s\n", tracesPath, strings.Join(parts, ", "))
			}
			findings := diagnose.Analyze(in, cfg)
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
			if err := report.WriteDiagnosis(cmd.OutOrStdout(), findings); err != nil {
				return cliexit.RunFailed(err)
			}
			var found []result.Kind
			for _, x := range findings.Findings {
				if fail[x.Kind] && !slices.Contains(found, x.Kind) {
					found = append(found, x.Kind)
				}
			}
			if len(found) > 0 {
				slices.Sort(found)
				return cliexit.CheckFailed(fmt.Errorf("--fail-on: found %s", kindList(found)))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&tracesPath, "traces", "", "OTLP JSON lines file of assembled traces (required)")
	fl.StringVar(&loadPath, "load", "", "load run result whose exemplar trace ids to prefer as evidence and to use as the tail")
	fl.StringVarP(&out, "out", "o", "", "file to write the findings JSON (headroom.findings/v1) to")
	fl.StringVar(&failOn, "fail-on", "", "exit 1 when any of these finding kinds is found (comma-separated: "+kindList(diagnose.Kinds())+")")
	addDiagnoseFlags(cmd, &cfg)
	return cmd
}

// addDiagnoseFlags maps every detector threshold of diagnose.Config to a flag.
func addDiagnoseFlags(cmd *cobra.Command, cfg *diagnose.Config) {
	fl := cmd.Flags()
	fl.IntVar(&cfg.NPlusOneMinCount, "n-plus-one-min-count", cfg.NPlusOneMinCount, "n_plus_one_db: repeats of one statement under one parent")
	fl.DurationVar(&cfg.NPlusOneMinTotal, "n-plus-one-min-total", cfg.NPlusOneMinTotal, "n_plus_one_db: least time of the repeats (their union)")
	fl.IntVar(&cfg.NPlusOneHTTPMinCount, "n-plus-one-http-min-count", cfg.NPlusOneHTTPMinCount, "n_plus_one_http: calls to one parameterized URL under one parent")
	fl.DurationVar(&cfg.NPlusOneHTTPMinTotal, "n-plus-one-http-min-total", cfg.NPlusOneHTTPMinTotal, "n_plus_one_http: least time of the calls (their union)")
	fl.DurationVar(&cfg.SlowQueryMin, "slow-query-min", cfg.SlowQueryMin, "slow_query: duration from which one query is slow")
	fl.DurationVar(&cfg.ConsecutiveDBMinSaved, "consecutive-db-min-saved", cfg.ConsecutiveDBMinSaved, "consecutive_db: least time parallel queries would save")
	fl.DurationVar(&cfg.ConsecutiveDBMinSpan, "consecutive-db-min-span", cfg.ConsecutiveDBMinSpan, "consecutive_db: least duration of each independent query")
	fl.IntVar(&cfg.ConsecutiveHTTPMinCount, "consecutive-http-min-count", cfg.ConsecutiveHTTPMinCount, "consecutive_http: least number of sequential calls")
	fl.DurationVar(&cfg.ConsecutiveHTTPMinSpan, "consecutive-http-min-span", cfg.ConsecutiveHTTPMinSpan, "consecutive_http: least duration of each call")
	fl.DurationVar(&cfg.ConsecutiveHTTPMinSaved, "consecutive-http-min-saved", cfg.ConsecutiveHTTPMinSaved, "consecutive_http: least time parallel calls would save")
	fl.DurationVar(&cfg.ConsecutiveHTTPMaxGap, "consecutive-http-max-gap", cfg.ConsecutiveHTTPMaxGap, "consecutive_http: longest pause between two calls of a sequence")
	fl.Float64Var(&cfg.SyncRemoteMinShare, "sync-remote-min-share", cfg.SyncRemoteMinShare, "sync_remote_call: least share (0..1) of the critical path")
	fl.DurationVar(&cfg.SyncRemoteMin, "sync-remote-min", cfg.SyncRemoteMin, "sync_remote_call: least time on the critical path")
	fl.DurationVar(&cfg.PoolWaitMin, "pool-wait-min", cfg.PoolWaitMin, "pool_wait: least wait for connections per request")
	fl.Int64Var(&cfg.LargePayloadBytes, "large-payload-bytes", cfg.LargePayloadBytes, "large_payload: body size from which a payload is large")
	fl.IntVar(&cfg.MaxEvidence, "max-evidence", cfg.MaxEvidence, "trace ids listed per finding")
}

// parseKinds parses --fail-on's comma-separated finding kinds.
func parseKinds(s string) (map[result.Kind]bool, error) {
	kinds := map[result.Kind]bool{}
	for part := range strings.SplitSeq(s, ",") {
		k := result.Kind(strings.TrimSpace(part))
		if k == "" {
			continue
		}
		if !slices.Contains(diagnose.Kinds(), k) {
			return nil, cliexit.Usagef("--fail-on: unknown finding kind %q: valid are %s", k, kindList(diagnose.Kinds()))
		}
		kinds[k] = true
	}
	return kinds, nil
}

// kindList is kinds as a comma-separated list.
func kindList(kinds []result.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
