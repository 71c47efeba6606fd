package main

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/experiments"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/metricsout"
)

// TestEveryStringFlagCompletes: every flag that takes a string was given a completion: its
// valid values, file names, or nothing (a free value). A new flag with valid values cannot
// then ship without completing them, and a free one does not offer the directory's files.
func TestEveryStringFlagCompletes(t *testing.T) {
	t.Parallel()
	if unset := complete.Unset(newRootCmd(io.Discard, io.Discard)); len(unset) > 0 {
		t.Errorf("string flags without a completion (give each one with complete.Flags):\n%s", strings.Join(unset, "\n"))
	}
}

// TestCompleteFlagValues runs the hidden __complete command the shells' completion scripts run,
// and checks each flag with valid values completes the list its validation uses.
func TestCompleteFlagValues(t *testing.T) {
	t.Parallel()
	var exps, sets []string
	for _, d := range experiments.All {
		exps = append(exps, d.Name)
		if d.Name == "async-invite" {
			for _, p := range d.Params {
				sets = append(sets, d.Name+"."+p.Name+"=")
			}
		}
	}
	protocols := names(metricsout.Protocols)
	for i := range protocols {
		protocols[i] += "="
	}
	kinds := names(diagnose.Kinds())
	const (
		values = cobra.ShellCompDirectiveNoFileComp
		list   = cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		files  = cobra.ShellCompDirectiveFilterFileExt
	)
	for _, tc := range []struct {
		args      []string // after __complete; the last is the word being completed
		want      []string
		directive cobra.ShellCompDirective
	}{
		{[]string{"load", "--arrival", ""}, names(loadgen.ArrivalKinds), values},
		{[]string{"load", "--model", ""}, names(loadgen.Models), values},
		{[]string{"load", "--targets-format", ""}, names(loadgen.TargetsFormats), values},
		{[]string{"load", "--samples-format", ""}, names(loadgen.SamplesFormats), values},
		{[]string{"sweep", "--samples-format", ""}, names(loadgen.SamplesFormats), values},
		{[]string{"sweep", "--arrival", ""}, names(sweepArrivals), values},
		{[]string{"load", "--metrics", ""}, protocols, list},
		{[]string{"sweep", "--metrics", ""}, protocols, list},
		{[]string{"doctor", "--metrics", ""}, protocols, list},
		{[]string{"load", "--metrics-histograms", ""}, names(metricsout.HistogramKinds), values},
		{[]string{"diagnose", "--fail-on", ""}, kinds, list},
		{[]string{"diagnose", "--fail-on", "n_plus_one_db,slow"}, prefixed("n_plus_one_db,", slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return k == "n_plus_one_db" })), list},
		{[]string{"doctor", "--antipatterns", ""}, append([]string{lab.AllAntipatterns, lab.NoAntipatterns}, names(lab.Antipatterns())...), list},
		{[]string{"cost", "--arch", ""}, costArchNames(), values},
		{[]string{"collect", "--grpc", ""}, []string{"off"}, values},
		{[]string{"doctor", "--otlp", ""}, []string{"off"}, values},
		{[]string{"experiments", "run", ""}, exps, values},
		{[]string{"experiments", "run", "async-invite", ""}, slices.DeleteFunc(slices.Clone(exps), func(n string) bool { return n == "async-invite" }), values},
		{[]string{"experiments", "run", "async-invite", "--set", ""}, sets, list},
		// Files, by extension; directories; any file where the format is told by content.
		{[]string{"load", "--out", ""}, []string{"json"}, files},
		{[]string{"load", "--samples", ""}, []string{"csv", "json", "jsonl", "ndjson"}, files},
		{[]string{"load", "--targets", ""}, nil, cobra.ShellCompDirectiveDefault},
		{[]string{"sweep", "--html", ""}, []string{"html"}, files},
		{[]string{"diagnose", "--traces", ""}, []string{"jsonl", "json"}, files},
		{[]string{"report", ""}, []string{"json"}, files},
		{[]string{"merge", ""}, []string{"json"}, files},
		{[]string{"merge", "--from-k8s-logs", ""}, nil, cobra.ShellCompDirectiveDefault},
		{[]string{"doctor", "--out", ""}, nil, cobra.ShellCompDirectiveFilterDirs},
		{[]string{"profile", "--out", ""}, nil, cobra.ShellCompDirectiveFilterDirs},
		{[]string{"profile", "--diff", "--out", ""}, []string{"svg"}, files},
		{[]string{"profile", "--diff", ""}, nil, cobra.ShellCompDirectiveDefault},
		// Free values and numbers: nothing, not the directory's files.
		{[]string{"load", "--slo", ""}, nil, values},
		{[]string{"load", "--rate", ""}, nil, values},
		{[]string{"sweep", "--step", ""}, nil, values},
		{[]string{"load", ""}, nil, values},
	} {
		got, directive := completeArgs(t, tc.args...)
		if !slices.Equal(got, tc.want) || directive != tc.directive {
			t.Errorf("__complete %q: %q with directive %d, want %q with %d", tc.args, got, directive, tc.want, tc.directive)
		}
	}
}

// completeArgs runs `headroom __complete ARGS` and returns the completions (without their
// descriptions) and the directive.
func completeArgs(t *testing.T, args ...string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	code, out, stderr := runIO(t, "", append([]string{cobra.ShellCompRequestCmd}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d\n%s", args, code, stderr)
	}
	completions, directive := parseCompletions(out)
	var got []string
	for _, c := range completions {
		v, _, _ := strings.Cut(c, "\t")
		got = append(got, v)
	}
	return got, directive
}

func names[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

func prefixed(prefix string, values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = prefix + v
	}
	return out
}

// FuzzParseCompletions: any output of a lab binary reads as completions and a directive, or as
// nothing, without a panic; a well-formed one reads back as written.
func FuzzParseCompletions(f *testing.F) {
	f.Add("nats://\nredis://\n:6\n", 6)
	f.Add(":4\n", 4)
	f.Add("", 0)
	f.Add("a\tdesc\n:x", 1)
	f.Fuzz(func(t *testing.T, out string, d int) {
		parseCompletions(out)
		if d < 0 || strings.ContainsAny(out, "\n") {
			return
		}
		lines := []string{}
		if out != "" {
			lines = append(lines, out)
		}
		got, directive := parseCompletions(strings.Join(append(slices.Clone(lines), ":"+strconv.Itoa(d)), "\n") + "\n")
		if !slices.Equal(got, lines) || directive != cobra.ShellCompDirective(d) {
			t.Errorf("%q and :%d read as %q and %d", lines, d, got, directive)
		}
	})
}
