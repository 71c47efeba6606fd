package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/edge/httpcache"
	"github.com/headroom/headroom/lab/isolate"
	"github.com/headroom/headroom/lab/telemetry"
)

// edgeFlags are lab's --edge-… flags.
type edgeFlags struct {
	on, noCache         bool
	cacheMB             int64
	memoryMB, budgetMB  int64
	functions, authPath string
	vars                []string
	node                edge.Config
	isolates            isolate.Config
}

// addEdgeFlags defines the edge tier's flags; with a switch, --edge turns the tier on (lab),
// else it is always on (lab edge).
func addEdgeFlags(f *pflag.FlagSet, withSwitch bool) *edgeFlags {
	e := &edgeFlags{on: !withSwitch}
	g := &e.node.Geography
	if withSwitch {
		f.BoolVar(&e.on, "edge", false, "start the edge tier in front of the lab: an edge node (cache, edge functions) with a user link and a long link to the origin, and a direct user → origin link")
	}
	f.StringVar(&e.node.Listen, "edge-addr", "127.0.0.1:8081", "where users reach the edge (the user ↔ edge link)")
	f.StringVar(&e.node.DirectListen, "direct-addr", "127.0.0.1:8082", "where users reach the origin without the edge (both distances)")
	f.DurationVar(&g.UserRTT, "edge-user-rtt", edge.UserRTTDefault, "round trip between users and the edge node")
	f.DurationVar(&g.UserJitter, "edge-user-jitter", edge.UserJitterDefault, "most the user round trip varies either way")
	f.DurationVar(&g.OriginRTT, "edge-origin-rtt", edge.OriginRTTDefault, "round trip between the edge node and the origin (default: another continent)")
	f.DurationVar(&g.OriginJitter, "edge-origin-jitter", edge.OriginJitterDefault, "most the origin round trip varies either way")
	f.BoolVar(&e.node.OriginPlain, "edge-origin-plain", false, "reach the origin over plain HTTP instead of TLS 1.3")
	f.BoolVar(&e.node.NoKeepAlive, "edge-no-keepalive", false, "open a new origin connection per request (TCP and TLS handshakes every time)")
	f.BoolVar(&e.noCache, "edge-no-cache", false, "run the edge node without its HTTP cache (every request reaches the origin)")
	f.Int64Var(&e.cacheMB, "edge-cache-mb", httpcache.MaxBytesDefault>>20, "size of the edge's HTTP cache in MiB (bodies, headers and keys)")
	f.StringVar(&e.functions, "edge-functions", edgeFunctionsAll, "edge functions to run, in order: "+edgeFunctionsAll+" ("+strings.Join(app.EdgeFunctionsDefault, ",")+"), "+edgeFunctionsNone+" (a plain CDN node), or a comma-separated list")
	f.StringVar(&e.authPath, "edge-auth-paths", strings.Join(app.EdgeAuthPathsDefault, ","), "path prefixes the auth function guards (comma-separated)")
	f.DurationVar(&e.isolates.CPULimit, "edge-cpu-limit", isolate.CPULimitDefault, "CPU time an edge function call may take before it is stopped (answered 500)")
	f.Int64Var(&e.memoryMB, "edge-memory-mb", isolate.MemoryLimitDefault>>20, "memory cap of each edge function instance (isolate), in MiB")
	f.Int64Var(&e.budgetMB, "edge-budget-mb", isolate.NodeBudgetDefault>>20, "memory the edge node gives its isolates, in MiB: at most budget / cap instances exist at once")
	f.StringArrayVar(&e.vars, "edge-var", nil, "an edge function's variable, FUNCTION.NAME=VALUE (repeatable), e.g. filter.rate=50 (per-client rate limit, off by default), filter.b_percent=10 (A/B share to --edge-origin-b)")
	f.StringVar(&e.node.OriginB, "edge-origin-b", "", "second origin pool (host:port) the filter routes an A/B share or path prefix to (default: the origin)")
	f.StringVar(&e.isolates.CacheDir, "edge-compile-cache", "", "directory of the compiled edge functions, kept across restarts (default: headroom/wazero in the user cache directory; off: in memory only)")
	return e
}

// config is the app's EdgeConfig, nil without --edge. The flags' values are taken as given: a 0
// round trip means none.
func (e *edgeFlags) config() (*app.EdgeConfig, error) {
	if !e.on {
		return nil, nil
	}
	vars := map[string]map[string]string{}
	for _, v := range e.vars {
		key, val, ok := strings.Cut(v, "=")
		fn, name, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 || fn == "" || name == "" {
			return nil, cliexit.Usagef("--edge-var %q: want FUNCTION.NAME=VALUE, e.g. filter.rate=50", v)
		}
		if vars[fn] == nil {
			vars[fn] = map[string]string{}
		}
		vars[fn][name] = val
	}
	nc := e.node
	nc.Geography.Bare = true
	ic := e.isolates
	ic.MemoryLimit, ic.NodeBudget = e.memoryMB<<20, e.budgetMB<<20
	c := &app.EdgeConfig{Node: nc, NoCache: e.noCache, Cache: httpcache.Config{MaxBytes: e.cacheMB << 20}, Isolates: ic, AuthPaths: splitList(e.authPath), Vars: vars}
	switch e.functions {
	case edgeFunctionsAll:
	case edgeFunctionsNone:
		c.Functions = []string{}
	default:
		c.Functions = splitList(e.functions)
	}
	return c, nil
}

// The words of --edge-functions for every function and for none.
const (
	edgeFunctionsAll  = "all"
	edgeFunctionsNone = "none"
)

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// edgeFlagNames maps the edge's Config fields to the flags, for its errors.
var edgeFlagNames = map[string]string{
	"Listen": "--edge-addr", "DirectListen": "--direct-addr", "OriginB": "--edge-origin-b",
	"UserRTT": "--edge-user-rtt", "UserJitter": "--edge-user-jitter",
	"OriginRTT": "--edge-origin-rtt", "OriginJitter": "--edge-origin-jitter",
	"MaxBytes": "--edge-cache-mb", "CPULimit": "--edge-cpu-limit", "MemoryLimit": "--edge-memory-mb",
	"NodeBudget": "--edge-budget-mb", "CacheDir": "--edge-compile-cache",
}

func renameEdgeErr(err error) error { return fielderr.Rename(err, edgeFlagNames) }

func newLabEdgeCmd() *cobra.Command {
	var (
		cfg      app.EdgeAlone
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "edge",
		Short: "Run the lab's edge tier as a separate process, in front of a running lab",
		Long: `edge runs what headroom lab --edge runs in process — the edge node with its cache and edge
functions, the user ↔ edge and edge ↔ origin links and the direct user → origin link — on its own,
in front of a lab started elsewhere, so that the edge's CPU and the origin's are apart (as on
separate machines). It shares the lab's token keys through the lab's --edge-keys file.

It serves until interrupted (SIGINT/SIGTERM).`,
		Example: `  headroom lab --edge-keys /tmp/keys.json &
  headroom lab edge --origin 127.0.0.1:8080 --edge-keys /tmp/keys.json`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Origin, "origin", "127.0.0.1:8080", "the lab's address (host:port)")
	f.StringVar(&cfg.KeysFile, "edge-keys", "", "the lab's keys file (its --edge-keys), to verify its tokens and vouch for identities (required)")
	f.StringVar(&cfg.AdminAddr, "admin-addr", app.EdgeAdminAddrDefault, "serve GET /metrics here, and to loopback clients POST /admin/edge/purge, /debug/pprof/ and /debug/fgprof")
	f.StringVar(&cfg.OTLP, "otlp", "", "export the edge's spans over OTLP/HTTP to this URL")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	opts := addEdgeFlags(f, false)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var err error
		if cfg.LogLevel, err = telemetry.ParseLevel(logLevel); err != nil {
			return cliexit.Usagef("--log-level: %w", err)
		}
		ec, err := opts.config()
		if err != nil {
			return err
		}
		cfg.Edge = *ec
		cfg.Log = cmd.ErrOrStderr()
		out := cmd.OutOrStdout()
		err = app.RunEdge(cmd.Context(), cfg, func(info edge.Info, admin string) {
			fmt.Fprintf(out, "headroom lab edge in front of %s\n", cfg.Origin)
			for _, l := range (app.Info{Edge: &info}).EdgeLines() {
				fmt.Fprintf(out, "  %s\n", l)
			}
			fmt.Fprintf(out, "  metrics        %s/metrics\n", admin)
			fmt.Fprintf(out, "  purge          POST %s/admin/edge/purge?prefix=/static/\n", admin)
			fmt.Fprintf(out, "  pprof          %s/debug/pprof/  (fgprof: %s/debug/fgprof?seconds=10)\n", admin, admin)
		})
		if errors.Is(err, app.ErrInvalidConfig) || errors.Is(err, edge.ErrConfig) {
			return cliexit.Usagef("%w", renameEdgeErr(err))
		}
		if err != nil {
			return cliexit.RunFailed(fmt.Errorf("lab edge: %w", err))
		}
		fmt.Fprintln(out, "headroom lab edge: stopped")
		return nil
	}
	return cmd
}
