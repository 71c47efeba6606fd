package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/experiments"
	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// experimentsOutDirDefault is where `experiments run` writes its results.
const experimentsOutDirDefault = "headroom-experiments"

func newExperimentsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "experiments",
		Short: "The course notes' claims as experiments on the lab: list them, run them, see whether each held",
		Long: `experiments lists the claims of the course notes that headroom measures on its lab, each with
the notes' sentence, where it is, and what the claim predicts (the thresholds are stated before any
run). ` + "`experiments run`" + ` runs them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return listExperiments(cmd.OutOrStdout()) },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the experiments",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return listExperiments(cmd.OutOrStdout()) },
	}, newExperimentsRunCmd())
	return cmd
}

func listExperiments(w io.Writer) error {
	for _, d := range experiments.All {
		quick := ""
		if d.Quick {
			quick = " (quick)"
		}
		fmt.Fprintf(w, "%s%s — %s\n  claim: %q\n  source: %s\n  expected: %s\n", d.Name, quick, d.Title, d.Claim, d.Source, d.Expected)
		for _, p := range d.Params {
			fmt.Fprintf(w, "  --set %s.%s=%s  %s\n", d.Name, p.Name, p.Default, p.Help)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func newExperimentsRunCmd() *cobra.Command {
	var (
		cfg      experiments.Config
		all      bool
		sets     []string
		outDir   string
		progress bool
	)
	cmd := &cobra.Command{
		Use:   "run [NAME...] [--all] [--quick]",
		Short: "Run experiments on the lab and say whether each claim held",
		Long: `run starts the lab each experiment needs (headroom-lab, as a child process on a free loopback
port), measures the claim with the load generator, and judges it: held, did not hold, or
inconclusive (a measurement the generator judged invalid, or too few samples to say). Each result
is written as NAME.json (headroom.experiment/v1) in --out, beside every load result it read, and
index.html shows them all.

Without names, --all runs every experiment and --quick the subset marked quick (the one CI runs);
--quick also shortens every measurement. --lab URL measures a running lab instead: experiments
that need a lab started with particular flags are then skipped, saying which.

Exit codes: 0 every claim held (or was skipped); 1 a claim did not hold; 2 bad usage or input;
3 a measurement was invalid or the run itself failed.`,
		Example: `  headroom experiments run averages-mislead
  headroom experiments run --all --out results
  headroom experiments run --quick
  headroom experiments run async-invite --set async-invite.mail-latency=100ms`,
		RunE: func(cmd *cobra.Command, names []string) error {
			defs, err := pickExperiments(names, all, cfg.Quick)
			if err != nil {
				return err
			}
			params, err := parseSets(sets, defs)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return cliexit.Usagef("--out %q: %w", outDir, err)
			}
			cfg.OutDir = outDir
			stderr := cmd.ErrOrStderr()
			if progress {
				cfg.Progress = func(s string) { fmt.Fprintln(stderr, s) }
			}
			var xs []*result.Experiment
			var runErr error
			for _, d := range defs {
				x, err := experiments.Run(cmd.Context(), d, cfg, params[d.Name])
				if err != nil {
					runErr = errors.Join(runErr, err)
					fmt.Fprintf(stderr, "%s: %v\n", d.Name, err)
					if x == nil {
						continue
					}
					x.Outcome, x.Why = result.OutcomeInconclusive, "the run failed: "+err.Error()
				}
				xs = append(xs, x)
				fmt.Fprintf(cmd.OutOrStdout(), "%-13s %s: %s\n", x.Outcome, x.Name, x.Why)
				if err := writeExperiment(filepath.Join(outDir, x.Name+".json"), x); err != nil {
					return cliexit.RunFailed(err)
				}
				if cmd.Context().Err() != nil {
					break
				}
			}
			page := filepath.Join(outDir, "index.html")
			if err := atomicfile.Write(page, func(w io.Writer) error { return report.WriteExperimentsHTML(w, xs) }); err != nil {
				return cliexit.RunFailed(err)
			}
			fmt.Fprintf(stderr, "results in %s (open %s)\n", outDir, page)
			return experimentsExit(xs, runErr)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&all, "all", false, "run every experiment")
	fl.BoolVar(&cfg.Quick, "quick", false, "shorter measurements; without names, the quick subset only")
	fl.StringVar(&cfg.Lab, "lab", "", "measure this running lab (URL) instead of starting one per experiment")
	fl.StringArrayVar(&sets, "set", nil, "an experiment's parameter, NAME.PARAM=VALUE (repeatable; the list shows them)")
	fl.StringVarP(&outDir, "out", "o", experimentsOutDirDefault, "directory for NAME.json per experiment, the load results and index.html")
	fl.BoolVar(&progress, "progress", true, "print each step on stderr")
	complete.Flags(cmd, complete.None, "lab")
	complete.Flags(cmd, complete.Dirs, "out")
	complete.Flags(cmd, completeSets, "set")
	cmd.ValidArgsFunction = completeExperiments
	return cmd
}

// completeExperiments completes the names of the experiments not named yet, with their titles.
func completeExperiments(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, d := range experiments.All {
		if !slices.Contains(args, d.Name) {
			out = append(out, cobra.CompletionWithDesc(d.Name, d.Title))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeSets completes --set's NAME.PARAM= for the experiments named (every one when none is).
func completeSets(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, d := range experiments.All {
		if len(args) > 0 && !slices.Contains(args, d.Name) {
			continue
		}
		for _, p := range d.Params {
			out = append(out, cobra.CompletionWithDesc(d.Name+"."+p.Name+"=", p.Help))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// pickExperiments resolves the names (or --all, or --quick's subset) to definitions.
func pickExperiments(names []string, all, quick bool) ([]experiments.Definition, error) {
	switch {
	case len(names) > 0 && all:
		return nil, cliexit.Usagef("give experiment names or --all, not both")
	case all:
		return experiments.All, nil
	case len(names) == 0 && quick:
		var defs []experiments.Definition
		for _, d := range experiments.All {
			if d.Quick {
				defs = append(defs, d)
			}
		}
		return defs, nil
	case len(names) == 0:
		return nil, cliexit.Usagef("name the experiments to run (%s), or --all, or --quick", strings.Join(experiments.All.Names(), ", "))
	}
	var defs []experiments.Definition
	for _, n := range names {
		d, ok := experiments.All.Lookup(n)
		if !ok {
			return nil, cliexit.Usagef("no experiment %q: want one of %s", n, strings.Join(experiments.All.Names(), ", "))
		}
		if !slices.ContainsFunc(defs, func(x experiments.Definition) bool { return x.Name == n }) {
			defs = append(defs, d)
		}
	}
	return defs, nil
}

// parseSets parses --set NAME.PARAM=VALUE into parameters per experiment; it refuses an
// experiment that is not run, and (through experiments.Run) an unknown parameter or a bad value.
func parseSets(sets []string, defs []experiments.Definition) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, s := range sets {
		key, value, ok := strings.Cut(s, "=")
		name, param, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 || name == "" || param == "" {
			return nil, cliexit.Usagef("--set %q: want NAME.PARAM=VALUE, e.g. async-invite.mail-latency=100ms", s)
		}
		i := slices.IndexFunc(defs, func(d experiments.Definition) bool { return d.Name == name })
		if i < 0 {
			return nil, cliexit.Usagef("--set %q: experiment %q is not among those run", s, name)
		}
		if err := defs[i].CheckParam(param, value); err != nil {
			return nil, cliexit.Usagef("--set %q: %w", s, err)
		}
		if out[name] == nil {
			out[name] = map[string]string{}
		}
		out[name][param] = value
	}
	return out, nil
}

func writeExperiment(path string, x *result.Experiment) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(x); err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err })
}

// experimentsExit maps the outcomes to the exit code: a claim that did not hold is 1, an
// invalid measurement or a failed run 3.
func experimentsExit(xs []*result.Experiment, runErr error) error {
	var notHeld, inconclusive []string
	for _, x := range xs {
		switch x.Outcome {
		case result.OutcomeDidNotHold:
			notHeld = append(notHeld, x.Name)
		case result.OutcomeInconclusive:
			inconclusive = append(inconclusive, x.Name)
		}
	}
	switch {
	case runErr != nil:
		return cliexit.RunFailed(runErr)
	case len(notHeld) > 0:
		return cliexit.CheckFailed(fmt.Errorf("did not hold: %s", strings.Join(notHeld, ", ")))
	case len(inconclusive) > 0:
		return cliexit.RunFailed(fmt.Errorf("inconclusive: %s", strings.Join(inconclusive, ", ")))
	}
	return nil
}
