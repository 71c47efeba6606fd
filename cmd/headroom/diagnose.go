package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/jaegersrc"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

func newDiagnoseCmd() *cobra.Command {
	var tracesPath, loadPath, out, failOn, traceURL string
	var flagOf map[string]string // diagnose.Config field → its flag, set with the flags below
	var cfg diagnose.Config      // the flags below fill every field with its default
	var jcfg jaegersrc.Config    // --jaeger and its flags
	cmd := &cobra.Command{
		Use:   "diagnose (--traces FILE | --jaeger URL --jaeger-service NAME) [--load run.json] [--out findings.json] [--fail-on KIND,...]",
		Short: "Find the bottleneck in traces, with evidence",
		Long: `diagnose reads assembled traces (OTLP JSON, one request per line) and prints findings ranked
by their share of each endpoint's P99 time, then where each endpoint's time goes (self time by
category, the critical path) and what its slowest requests spend more time on than its median ones
(tail_latency names the operation that makes them slow). An N+1 of queries under the time floor is
reported with low severity and what it would cost at --n-plus-one-round-trip per query.
With --load, the load run's exemplar trace ids are preferred as evidence and its slowest requests
are the tail. Detectors: ` + kindList(diagnose.Kinds()) + `.

With --jaeger, traces are read from a running Jaeger's query API instead of a file: the load
run's exemplar trace ids first (by id), then a search of --jaeger-service (and
--jaeger-operation) over the last --jaeger-lookback, at most --jaeger-limit traces.

Bad input lines and spans (malformed JSON, missing ids, duplicate span ids, end before start,
huge attributes) are skipped or repaired and counted, not fatal.

Exit codes: 0 done; 1 a kind listed in --fail-on was found; 2 bad usage, an unreadable input or
one without a single span (0 traces read); 3 writing the result failed.`,
		Example: `  headroom diagnose --traces traces.jsonl --load run.json --out findings.json
  headroom diagnose --traces traces.jsonl --fail-on n_plus_one_db,sync_remote_call
  headroom diagnose --jaeger http://127.0.0.1:16686 --jaeger-service api --load run.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (tracesPath == "") == (jcfg.URL == "") {
				return cliexit.Usagef("give one of --traces (the JSONL file headroom collect --out wrote) and --jaeger (a Jaeger query URL)")
			}
			fail, err := parseKinds(failOn)
			if err != nil {
				return err
			}
			links, err := report.ParseTraceURL(traceURL)
			if err != nil {
				return cliexit.Usagef("--trace-url %w", err)
			}
			if err := cfg.Validate(); err != nil {
				return cliexit.Usagef("%w", fielderr.Rename(err, flagOf))
			}
			sio := stdioOf(cmd)
			if err := sio.reserve("--traces", tracesPath, "--load", loadPath); err != nil {
				return err
			}
			if loadPath != "" {
				l, err := readLoadFile(sio, "--load", loadPath)
				if err != nil {
					return err
				}
				cfg.PreferExemplars(l)
				jcfg.TraceIDs = slices.DeleteFunc(slices.Clone(cfg.PreferTraceIDs), func(id string) bool { return id == "" })
			}
			// One trace at a time: memory is bounded by the endpoints and operations, not the input.
			s := diagnose.NewStream(cfg)
			if jcfg.URL != "" {
				if err := readJaeger(cmd, s, jcfg); err != nil {
					return err
				}
			} else if err := readTracesFile(cmd, sio, s, tracesPath); err != nil {
				return err
			}
			findings := s.Findings()
			if out != "" {
				o, err := sio.createOut(out)
				if err != nil {
					return err
				}
				defer o.abort()
				if err := o.commit(findings.Write); err != nil {
					return err
				}
			}
			if err := report.WriteDiagnosis(sio.text(), findings, links); err != nil {
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
	fl.StringVar(&tracesPath, "traces", "", "OTLP JSON lines file of assembled traces (required; - for standard input)")
	fl.StringVar(&loadPath, "load", "", "load run result whose exemplar trace ids to prefer as evidence and to use as the tail")
	fl.StringVarP(&out, "out", "o", "", "file to write the findings JSON (headroom.findings/v1) to (- for standard output)")
	fl.StringVar(&failOn, "fail-on", "", "exit 1 when any of these finding kinds is found (comma-separated: "+kindList(diagnose.Kinds())+")")
	fl.StringVar(&traceURL, "trace-url", "", "link trace ids to a trace viewer, {trace_id} standing for the id, e.g. http://localhost:16686/trace/{trace_id}")
	flagOf = addDiagnoseFlags(cmd, &cfg)
	addJaegerFlags(cmd, &jcfg, true, "a file")
	complete.Flags(cmd, complete.Files("jsonl", "json"), "traces") // collect --out's OTLP JSON lines
	complete.Flags(cmd, complete.Files("json"), "load", "out")
	complete.Flags(cmd, complete.List(diagnose.Kinds(), nil), "fail-on")
	complete.Flags(cmd, complete.None, "trace-url")
	return cmd
}

// readTracesFile adds the traces of the JSONL file at path to s.
func readTracesFile(cmd *cobra.Command, sio *stdio, s *diagnose.Stream, path string) error {
	f, err := sio.open("--traces", path)
	if err != nil {
		return err
	}
	defer f.Close()
	in, err := s.ReadTraces(f, diagnose.ReadConfig{}, nil)
	if errors.Is(err, diagnose.ErrNoTraces) {
		return cliexit.Usagef("%s: %w: nothing to diagnose (want the OTLP JSON lines headroom collect --out writes)", displayName(path), err)
	}
	if err != nil {
		return cliexit.Usagef("%s: %w", displayName(path), err)
	}
	if len(in.Tolerated) > 0 {
		reasons := slices.Sorted(maps.Keys(in.Tolerated))
		parts := make([]string, len(reasons))
		for i, r := range reasons {
			parts[i] = fmt.Sprintf("%s ×%d (first at line %d)", r, in.Tolerated[r], in.FirstBad[r])
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "diagnose: %s: tolerated bad input: %s\n", displayName(path), strings.Join(parts, ", "))
	}
	return nil
}

// jaegerFlags names jaegersrc.Config's fields as the flags that set them.
var jaegerFlags = map[string]string{"URL": "--jaeger", "Service": "--jaeger-service", "Operation": "--jaeger-operation",
	"Lookback": "--jaeger-lookback", "Limit": "--jaeger-limit", "MaxBodyBytes": "--jaeger-max-bytes", "TraceIDs": "--load's exemplar trace ids"}

// addJaegerFlags maps jaegersrc.Config to the --jaeger flags, diagnose's (window: the search
// window's) and doctor's (which searches its steady runs' window), reading traces instead of what.
func addJaegerFlags(cmd *cobra.Command, c *jaegersrc.Config, window bool, insteadOf string) {
	fl := cmd.Flags()
	fl.StringVar(&c.URL, "jaeger", "", "read traces from this Jaeger query URL (its UI's, e.g. http://127.0.0.1:16686) instead of "+insteadOf)
	fl.StringVar(&c.Service, "jaeger-service", "", "--jaeger: the service whose traces to search")
	fl.StringVar(&c.Operation, "jaeger-operation", "", "--jaeger: search only this operation (span name) of the service")
	if window {
		fl.DurationVar(&c.Lookback, "jaeger-lookback", jaegersrc.LookbackDefault, "--jaeger: search traces of this long before now")
	}
	fl.IntVar(&c.Limit, "jaeger-limit", jaegersrc.LimitDefault, "--jaeger: most traces the search returns")
	fl.Int64Var(&c.MaxBodyBytes, "jaeger-max-bytes", jaegersrc.MaxBodyBytesDefault, "--jaeger: largest answer read from Jaeger, in bytes")
	complete.Flags(cmd, complete.None, "jaeger", "jaeger-service", "jaeger-operation")
}

// readJaeger adds the traces jcfg reads from Jaeger to s, telling on standard error what it read.
func readJaeger(cmd *cobra.Command, s *diagnose.Stream, jcfg jaegersrc.Config) error {
	if err := jcfg.Validate(); err != nil {
		return cliexit.Usagef("%w", fielderr.Rename(err, jaegerFlags))
	}
	st, err := jaegersrc.Read(cmd.Context(), jcfg, s.Add)
	if errors.Is(err, jaegersrc.ErrTooLarge) {
		return cliexit.Usagef("--jaeger: %w: raise --jaeger-max-bytes, or lower --jaeger-limit", err)
	}
	if err != nil {
		return cliexit.Usagef("--jaeger: %w", err)
	}
	s.Tolerate(st.Tolerated)
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "diagnose: jaeger: %d traces by id, %d searched, %d spans\n", st.ByID, st.Searched, st.Spans)
	if len(st.Missing) > 0 {
		fmt.Fprintf(w, "diagnose: jaeger: %d trace ids not found (not stored, or sampled out), first %s\n", len(st.Missing), st.Missing[0])
	}
	for _, e := range st.Errors {
		fmt.Fprintf(w, "diagnose: jaeger: %s\n", e)
	}
	if st.Spans == 0 {
		return cliexit.Usagef("--jaeger: %w: nothing to diagnose (is --jaeger-service right, and --jaeger-lookback long enough?)", diagnose.ErrNoTraces)
	}
	return nil
}

// addDiagnoseFlags maps every detector threshold of diagnose.Config to a flag, its default the
// field's, and returns the flag of each field, for diagnose's errors.
func addDiagnoseFlags(cmd *cobra.Command, cfg *diagnose.Config) map[string]string {
	fl := cmd.Flags()
	flagOf := map[string]string{}
	flag := func(field, name string) string { flagOf[field] = "--" + name; return name }
	fl.IntVar(&cfg.NPlusOneMinCount, flag("NPlusOneMinCount", "n-plus-one-min-count"), diagnose.NPlusOneMinCountDefault, "n_plus_one_db: repeats of one statement under one parent")
	fl.DurationVar(&cfg.NPlusOneMinTotal, flag("NPlusOneMinTotal", "n-plus-one-min-total"), diagnose.NPlusOneMinTotalDefault, "n_plus_one_db: least time of the repeats (their union)")
	fl.DurationVar(&cfg.NPlusOneRoundTrip, flag("NPlusOneRoundTrip", "n-plus-one-round-trip"), diagnose.NPlusOneRoundTripDefault, "n_plus_one_db under the floor: round trip per query its low-severity what-if assumes")
	fl.IntVar(&cfg.NPlusOneHTTPMinCount, flag("NPlusOneHTTPMinCount", "n-plus-one-http-min-count"), diagnose.NPlusOneHTTPMinCountDefault, "n_plus_one_http: calls to one parameterized URL under one parent")
	fl.DurationVar(&cfg.NPlusOneHTTPMinTotal, flag("NPlusOneHTTPMinTotal", "n-plus-one-http-min-total"), diagnose.NPlusOneHTTPMinTotalDefault, "n_plus_one_http: least time of the calls (their union)")
	fl.DurationVar(&cfg.SlowQueryMin, flag("SlowQueryMin", "slow-query-min"), diagnose.SlowQueryMinDefault, "slow_query: duration from which one query is slow")
	fl.DurationVar(&cfg.ConsecutiveDBMinSaved, flag("ConsecutiveDBMinSaved", "consecutive-db-min-saved"), diagnose.ConsecutiveDBMinSavedDefault, "consecutive_db: least time parallel queries would save")
	fl.DurationVar(&cfg.ConsecutiveDBMinSpan, flag("ConsecutiveDBMinSpan", "consecutive-db-min-span"), diagnose.ConsecutiveDBMinSpanDefault, "consecutive_db: least duration of each independent query")
	fl.IntVar(&cfg.ConsecutiveHTTPMinCount, flag("ConsecutiveHTTPMinCount", "consecutive-http-min-count"), diagnose.ConsecutiveHTTPMinCountDefault, "consecutive_http: least number of sequential calls")
	fl.DurationVar(&cfg.ConsecutiveHTTPMinSpan, flag("ConsecutiveHTTPMinSpan", "consecutive-http-min-span"), diagnose.ConsecutiveHTTPMinSpanDefault, "consecutive_http: least duration of each call")
	fl.DurationVar(&cfg.ConsecutiveHTTPMinSaved, flag("ConsecutiveHTTPMinSaved", "consecutive-http-min-saved"), diagnose.ConsecutiveHTTPMinSavedDefault, "consecutive_http: least time parallel calls would save")
	fl.DurationVar(&cfg.ConsecutiveHTTPMaxGap, flag("ConsecutiveHTTPMaxGap", "consecutive-http-max-gap"), diagnose.ConsecutiveHTTPMaxGapDefault, "consecutive_http: longest pause between two calls of a sequence")
	fl.Float64Var(&cfg.SyncRemoteMinShare, flag("SyncRemoteMinShare", "sync-remote-min-share"), diagnose.SyncRemoteMinShareDefault, "sync_remote_call: least share (0..1) of the critical path")
	fl.DurationVar(&cfg.SyncRemoteMin, flag("SyncRemoteMin", "sync-remote-min"), diagnose.SyncRemoteMinDefault, "sync_remote_call: least time on the critical path")
	fl.DurationVar(&cfg.PoolWaitMin, flag("PoolWaitMin", "pool-wait-min"), diagnose.PoolWaitMinDefault, "pool_wait: least wait for connections per request")
	fl.Int64Var(&cfg.LargePayloadBytes, flag("LargePayloadBytes", "large-payload-bytes"), diagnose.LargePayloadBytesDefault, "large_payload: body size from which a payload is large")
	fl.DurationVar(&cfg.TailMinExtra, flag("TailMinExtra", "tail-min-extra"), diagnose.TailMinExtraDefault, "tail_latency: least extra time per request of the operation in the slowest requests over the median ones")
	fl.Float64Var(&cfg.TailMinShareOfGap, flag("TailMinShareOfGap", "tail-min-share-of-gap"), diagnose.TailMinShareOfGapDefault, "tail_latency: least share (0..1) of the tail's extra latency the operation must explain")
	fl.IntVar(&cfg.MaxEvidence, flag("MaxEvidence", "max-evidence"), diagnose.MaxEvidenceDefault, "trace ids listed per finding")
	fl.Float64Var(&cfg.LambdaGBSecondUSD, flag("LambdaGBSecondUSD", "function-gb-second-usd"), diagnose.LambdaGBSecondUSDDefault, "cold_start remedies: on-demand price of a GB-second (default: AWS Lambda x86, us-east-1, 2026)")
	fl.Float64Var(&cfg.LambdaRequestUSD, flag("LambdaRequestUSD", "function-request-usd"), diagnose.LambdaRequestUSDDefault, "cold_start remedies: price of one invocation (default: AWS Lambda, $0.20 per million)")
	fl.Float64Var(&cfg.ProvisionedGBSecondUSD, flag("ProvisionedGBSecondUSD", "provisioned-gb-second-usd"), diagnose.ProvisionedGBSecondUSDDefault, "cold_start remedies: price of a GB-second of provisioned concurrency enabled (default: AWS Lambda x86)")
	fl.Float64Var(&cfg.ProvisionedExecGBSecondUSD, flag("ProvisionedExecGBSecondUSD", "provisioned-exec-gb-second-usd"), diagnose.ProvisionedExecGBSecondUSDDefault, "cold_start remedies: price of a GB-second executed on provisioned concurrency (default: AWS Lambda x86)")
	fl.IntVar(&cfg.FunctionMemoryMB, flag("FunctionMemoryMB", "function-memory-mb"), diagnose.FunctionMemoryMBDefault, "cold_start remedies: a function's memory when its traces lack faas.max_memory")
	fl.DurationVar(&cfg.KeepWarmInterval, flag("KeepWarmInterval", "keep-warm-interval"), diagnose.KeepWarmIntervalDefault, "cold_start remedies: how often a keep-warm pinger calls each instance")
	return flagOf
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

// kindList is kinds (finding kinds, arrivals: a kind's values) as a comma-separated list.
func kindList[T ~string](kinds []T) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
