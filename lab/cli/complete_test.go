package cli

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/faas"
	"github.com/headroom/headroom/lab/identity"
	"github.com/headroom/headroom/lab/services"
	"github.com/headroom/headroom/lab/telemetry"
)

// TestEveryStringFlagCompletes: every flag of the lab that takes a string has a completion
// (flagCompletions, or its command's), so that a new one with valid values cannot be forgotten.
func TestEveryStringFlagCompletes(t *testing.T) {
	t.Parallel()
	root := newLabCmd()
	addCompletions(root)
	if unset := complete.Unset(root); len(unset) > 0 {
		t.Errorf("string flags without a completion (add them to flagCompletions):\n%s", strings.Join(unset, "\n"))
	}
}

// TestCompleteFlagValues runs the lab's __complete, as `headroom lab` passes a completion on:
// each flag with valid values completes the list its validation uses.
func TestCompleteFlagValues(t *testing.T) {
	t.Parallel()
	names := func(values ...string) []string { return values }
	str := func(v []identity.Alg) []string {
		out := make([]string, len(v))
		for i, a := range v {
			out[i] = string(a)
		}
		return out
	}
	var antipatterns, roles []string
	for _, a := range lab.Antipatterns() {
		antipatterns = append(antipatterns, string(a))
	}
	for _, r := range services.Roles {
		roles = append(roles, string(r))
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--antipatterns", ""}, slices.Concat(names(lab.AllAntipatterns, lab.NoAntipatterns), antipatterns)},
		{[]string{"--antipatterns", "n_plus_one,"}, prefixed("n_plus_one,", antipatterns[1:])},
		{[]string{"--log-level", ""}, telemetry.Levels},
		{[]string{"worker", "--log-level", ""}, telemetry.Levels},
		{[]string{"edge", "--log-level", ""}, telemetry.Levels},
		{[]string{"--token-alg", ""}, str(identity.Algs)},
		{[]string{"--function-jobs-runtime", ""}, faas.Runtimes},
		{[]string{"--edge-functions", ""}, slices.Concat(names(edgeFunctionsAll, edgeFunctionsNone), app.EdgeFunctionsDefault)},
		{[]string{"--replicas", ""}, suffixed(services.Roles, "=")},
		{[]string{"--service", ""}, roles},
		{[]string{"--queue", ""}, slices.Concat(names(app.QueueEmbedded), app.QueueSchemes)},
		{[]string{"worker", "--queue", ""}, app.QueueSchemes},
		{[]string{"--cache", ""}, slices.Concat(names(app.CacheMemory), app.CacheSchemes)},
		{[]string{"worker", "--db", ""}, app.DBSchemes},
		{[]string{"--otlp", ""}, nil},
	} {
		var out bytes.Buffer
		if code := Run(append([]string{cobra.ShellCompRequestCmd}, tc.args...), &out, io.Discard); code != 0 {
			t.Fatalf("__complete %q: exit %d", tc.args, code)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var got []string
		for _, l := range lines[:len(lines)-1] {
			v, _, _ := strings.Cut(l, "\t")
			got = append(got, v)
		}
		if !slices.Equal(got, tc.want) || !strings.HasPrefix(lines[len(lines)-1], ":") {
			t.Errorf("__complete %q: %q (%s), want %q", tc.args, got, lines[len(lines)-1], tc.want)
		}
	}
}

func prefixed(prefix string, values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = prefix + v
	}
	return out
}
