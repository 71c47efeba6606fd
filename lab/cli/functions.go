package cli

import (
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/faas"
)

// functionsFlags are the flags of the function platform.
type functionsFlags struct {
	on  bool
	cfg app.FunctionsConfig
}

func addFunctionsFlags(f *pflag.FlagSet) *functionsFlags {
	s := &functionsFlags{}
	f.BoolVar(&s.on, "functions", false, "serve the lab's work as functions too, under /fn/NAME/ (a gateway and instances on AWS Lambda's model: cold starts, concurrency limit, idle reclaim, time and memory limits)")
	f.IntVar(&s.cfg.MemoryMB, "function-memory-mb", faas.MemoryMBDefault, "memory size of each function instance, MiB (128 to 10240); past it the instance is killed")
	f.DurationVar(&s.cfg.Timeout, "function-timeout", faas.TimeoutDefault, "execution time limit of one invocation (at most 15m); past it the instance is killed and the invocation answered 504")
	f.IntVar(&s.cfg.Concurrency, "function-concurrency", faas.ConcurrencyDefault, "most instances of each function; an invocation finding them all busy is throttled (429)")
	f.DurationVar(&s.cfg.IdleTimeout, "function-idle", faas.IdleTimeoutDefault, "how long an idle instance lives before it is reclaimed (scale to zero)")
	f.IntVar(&s.cfg.Provisioned, "function-provisioned", 0, "instances of the api function kept initialised from the start, never reclaimed (provisioned concurrency)")
	f.IntVar(&s.cfg.KeepWarm, "function-keep-warm", 0, "instances of the api function a pinger keeps warm, invoking it that many times at once every half --function-idle")
	f.StringVar(&s.cfg.JobsRuntime, "function-jobs-runtime", faas.RuntimeProcess, "runtime of the thumbnail function the video pipeline's jobs invoke: "+strings.Join(faas.Runtimes, " or "))
	f.IntVar(&s.cfg.DBConns, "function-db-conns", app.FunctionDBConnsDefault, "database connections each instance of the api function opens at init and holds")
	return s
}

// config returns the FunctionsConfig with --functions, else nil (and a usage error if a
// function flag was given without it).
func (s *functionsFlags) config(f *pflag.FlagSet) (*app.FunctionsConfig, error) {
	if !s.on {
		for _, name := range []string{"function-memory-mb", "function-timeout", "function-concurrency", "function-idle", "function-db-conns", "function-provisioned", "function-keep-warm", "function-jobs-runtime"} {
			if f.Changed(name) {
				return nil, cliexit.Usagef("--%s applies to the function platform: add --functions", name)
			}
		}
		return nil, nil
	}
	c := s.cfg
	switch {
	case c.MemoryMB < faas.MemoryMBMin || c.MemoryMB > faas.MemoryMBMax:
		return nil, cliexit.Usagef("--function-memory-mb %d: want %d to %d", c.MemoryMB, faas.MemoryMBMin, faas.MemoryMBMax)
	case c.Timeout < time.Millisecond || c.Timeout > faas.TimeoutMax:
		return nil, cliexit.Usagef("--function-timeout %v: want 1ms to %v", c.Timeout, faas.TimeoutMax)
	case c.Concurrency < 1 || c.Concurrency > 1000:
		return nil, cliexit.Usagef("--function-concurrency %d: want 1 to 1000", c.Concurrency)
	case c.IdleTimeout < time.Millisecond:
		return nil, cliexit.Usagef("--function-idle %v: want at least 1ms", c.IdleTimeout)
	case c.Provisioned < 0 || c.Provisioned > c.Concurrency:
		return nil, cliexit.Usagef("--function-provisioned %d: want 0 to --function-concurrency (%d)", c.Provisioned, c.Concurrency)
	case c.KeepWarm < 0 || c.KeepWarm > c.Concurrency:
		return nil, cliexit.Usagef("--function-keep-warm %d: want 0 to --function-concurrency (%d)", c.KeepWarm, c.Concurrency)
	case !slices.Contains(faas.Runtimes, c.JobsRuntime):
		return nil, cliexit.Usagef("--function-jobs-runtime %q: want one of %s", c.JobsRuntime, strings.Join(faas.Runtimes, ", "))
	case c.DBConns < 1 || c.DBConns > 1000:
		return nil, cliexit.Usagef("--function-db-conns %d: want 1 to 1000", c.DBConns)
	}
	return &c, nil
}

// newLabFunctionCmd is the lab binary in its function role: the platform starts it as an
// instance of one of the lab's functions and speaks to it over stdin and stdout.
func newLabFunctionCmd() *cobra.Command {
	var (
		opts         app.FunctionOptions
		antipatterns string
		dbLatency    *time.Duration
	)
	cmd := &cobra.Command{
		Use:    "function NAME",
		Short:  "Serve one instance of a lab function (the function platform starts it)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := lab.ParseAntipatterns(antipatterns)
			if err != nil {
				return cliexit.Usagef("--antipatterns: %w", err)
			}
			opts.Antipatterns, opts.DBLatency = set, *dbLatency
			if err := app.ServeFunction(cmd.Context(), args[0], opts); err != nil {
				return cliexit.RunFailed(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DB, "db", "", "database: sqlite:FILE or postgres://...")
	f.StringVar(&opts.PostgresSchema, "pg-schema", "", "PostgreSQL schema")
	f.IntVar(&opts.DBConns, "db-conns", app.FunctionDBConnsDefault, "database connections opened at init")
	dbLatency = dbLatencyFlag(f)
	f.StringVar(&antipatterns, "antipatterns", "none", "antipatterns to enable")
	f.StringVar(&opts.OTLP, "otlp", "", "export traces over OTLP/HTTP to this URL")
	return cmd
}
