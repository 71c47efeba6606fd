package cli

import (
	"slices"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/faas"
	"github.com/headroom/headroom/lab/identity"
	"github.com/headroom/headroom/lab/services"
	"github.com/headroom/headroom/lab/telemetry"
)

// flagCompletions complete the values of the lab's flags, by name: a flag has one meaning in
// every command that has it. Each list is the one the flag's validation uses. --queue, whose
// values differ between the lab and a worker, is completed by each command.
func flagCompletions() map[string]cobra.CompletionFunc {
	c := map[string]cobra.CompletionFunc{
		"antipatterns":          complete.List(lab.Antipatterns(), lab.Antipattern.Describe, lab.AllAntipatterns, lab.NoAntipatterns),
		"log-level":             complete.Values(telemetry.Levels, nil),
		"token-alg":             complete.Values(identity.Algs, nil),
		"function-jobs-runtime": complete.Values(faas.Runtimes, nil),
		"service":               complete.Values(services.Roles, nil),
		"edge-functions":        complete.List(app.EdgeFunctionsDefault, nil, edgeFunctionsAll, edgeFunctionsNone),
		"replicas":              complete.Prefixes(suffixed(services.Roles, "=")...),
		"edge-var":              complete.Prefixes(suffixed(app.EdgeFunctionsDefault, ".")...),
		"cache":                 complete.Prefixes(slices.Concat([]string{app.CacheMemory}, app.CacheSchemes)...),
		"db":                    complete.Prefixes(app.DBSchemes...),
		"edge-keys":             complete.AnyFile,
		"queue-dir":             complete.Dirs,
		"media-dir":             complete.Dirs,
		"edge-compile-cache":    complete.Dirs,
	}
	for _, free := range []string{"addr", "admin-addr", "admin-token", "direct-addr", "edge-addr", "edge-auth-paths", "edge-origin-b",
		"lab", "log-collector", "log-latency", "mail-latency", "origin", "otlp", "payment-latency", "payment-url", "pg-schema",
		"queue-prefix", "smtp"} {
		c[free] = complete.None
	}
	return c
}

// suffixed is each of values followed by suffix.
func suffixed[T ~string](values []T, suffix string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v) + suffix
	}
	return out
}

// addCompletions gives the flags of root's tree their completions, once the tree is built.
func addCompletions(root *cobra.Command) {
	complete.ByName(root, flagCompletions())
	complete.Typed(root)
}
