package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/flame"
	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/result"
)

type profileFlags struct {
	duration    time.Duration
	out         string
	rate        float64
	connections int
	top         int
	diff        bool
	quiet       bool
	cpuPath     string
	wallPath    string
	interval    time.Duration
	maxBytes    int64
}

func newProfileCmd() *cobra.Command {
	f := &profileFlags{}
	cmd := &cobra.Command{
		Use:   "profile URL --duration 10s [--out DIR]",
		Short: "Take CPU and wall-clock profiles of a target and draw them as flame graphs",
		Long: `profile takes a CPU profile (/debug/pprof/profile, net/http/pprof) and a wall-clock profile
(/debug/fgprof, felixge/fgprof: on- and off-CPU time, so I/O waits show) of the target at the
same time, from the scheme and host of URL. It writes both as served (cpu.pb.gz, wall.pb.gz),
their folded stacks (*.folded) and flame graphs (*.svg, self-contained), one CPU graph per
endpoint when the samples carry the http.route pprof label, and prints the top functions and
any CPU hot spot. With --rate it drives URL with open-model load meanwhile, and writes load.json.

With --diff it compares two saved profiles instead: a differential flame graph with the shape of
the second, each frame red where its share grew and blue where it shrank.

Exit codes: 0 done; 2 bad usage or input (nothing written); 3 the target could not be profiled
(unreachable, no pprof endpoint) or the run was interrupted.`,
		Example: `  headroom profile http://127.0.0.1:8080 --duration 10s --out prof
  headroom profile http://127.0.0.1:8080/api/posts --duration 10s --rate 200 --out prof
  headroom profile --diff before/cpu.pb.gz after/cpu.pb.gz --out diff.svg`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.maxBytes < 1 {
				return cliexit.Usagef("--max-profile-bytes %d: want a positive number of bytes", f.maxBytes)
			}
			if f.diff {
				return runProfileDiff(cmd, f, args)
			}
			if len(args) != 1 {
				return cliexit.Usagef("profile takes one URL (or --diff BASE NEW)")
			}
			return runProfile(cmd, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long to profile; whole seconds")
	fl.StringVarP(&f.out, "out", "o", "", "directory to write profiles and flame graphs to (default ./headroom-profile); with --diff the SVG file (default diff.svg)")
	fl.Float64Var(&f.rate, "rate", 0, "drive URL with this many requests per second while profiling (0: no load)")
	fl.IntVar(&f.connections, "connections", 64, "with --rate: connections of the load pool")
	fl.IntVar(&f.top, "top", 10, "functions to print per profile")
	fl.BoolVar(&f.diff, "diff", false, "compare two saved profiles: BASE NEW, drawn as a differential flame graph")
	fl.StringVar(&f.cpuPath, "cpu-path", flame.CPUPathDefault, "path of the target's CPU profile endpoint (net/http/pprof)")
	fl.StringVar(&f.wallPath, "wall-path", flame.WallPathDefault, "path of the target's wall-clock profile endpoint (fgprof)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print nothing but errors")
	fl.DurationVar(&f.interval, "interval", 5*time.Second, "progress line interval when not on a terminal")
	fl.Int64Var(&f.maxBytes, "max-profile-bytes", flame.MaxBytesDefault, "largest profile accepted, fetched or read from a file, as read and once inflated (a decompression bomb stops there)")
	complete.Flags(cmd, complete.None, "cpu-path", "wall-path")
	// A URL, or with --diff two saved profiles and an SVG.
	complete.Flags(cmd, func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if f.diff {
			return complete.Files("svg")(cmd, args, toComplete)
		}
		return complete.Dirs(cmd, args, toComplete)
	}, "out")
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if f.diff {
			return complete.AnyFile(cmd, args, toComplete)
		}
		return complete.None(cmd, args, toComplete)
	}
	return cmd
}

func runProfile(cmd *cobra.Command, f *profileFlags, target string) error {
	cfg := flame.FetchConfig{Duration: f.duration, CPUPath: f.cpuPath, WallPath: f.wallPath, MaxBytes: f.maxBytes}
	if _, err := cfg.ProfileURL(target, flame.CPU); err != nil {
		return cliexit.Usagef("%w", err)
	}
	if f.top < 1 {
		return cliexit.Usagef("--top %d: want at least 1", f.top)
	}
	if f.interval <= 0 {
		return cliexit.Usagef("--interval %v: want a positive duration", f.interval)
	}
	var load *loadgen.Config
	if f.rate != 0 {
		// The load starts a second early so the profiles see steady traffic, not the ramp-up.
		load = &loadgen.Config{
			Targets: []loadgen.Target{{Method: "GET", URL: target}}, Arrival: loadgen.Arrival{Rate: f.rate},
			Warmup: time.Second, Duration: f.duration + time.Second, Connections: f.connections,
		}
		if err := load.Validate(); err != nil {
			return configUsage(err, func(field string) string {
				return map[string]string{"Arrival.Rate": "rate", "Connections": "connections"}[field]
			})
		}
	}
	dir := f.out
	if dir == "" {
		dir = "headroom-profile"
	}
	if err := checkOutDir(dir); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if f.quiet {
		w = io.Discard
	}
	what := "cpu + wall clock"
	if load != nil {
		what += fmt.Sprintf(", under %g req/s of load", f.rate)
	}
	fmt.Fprintf(w, "profiling %s for %v (%s)\n", target, f.duration, what)

	ctx := cmd.Context()
	var (
		loadRes *result.Load
		loadErr error
		run     func(context.Context)
		delay   time.Duration
	)
	stderr := cmd.ErrOrStderr()
	if load != nil {
		delay = load.Warmup
		// The load's progress (rate, P50, P99 per interval) is the profile's progress too.
		prog := newProgress(stderr, f.quiet, isTerminal(stderr), f.interval, load.Warmup+load.Duration)
		run = func(ctx context.Context) {
			loadRes, loadErr = loadgen.Run(ctx, *load, prog.update)
			prog.done()
		}
	}
	stopTicks := make(chan struct{})
	if load == nil && !f.quiet {
		go profileTicks(stderr, f.interval, f.duration, stopTicks)
	}
	p, err := flame.UnderLoad(ctx, flame.UnderLoadConfig{Fetch: cfg, Delay: delay, Dir: dir}, target, run)
	close(stopTicks)
	if p == nil {
		if ctx.Err() != nil {
			return cliexit.RunFailed(ctx.Err())
		}
		return cliexit.RunFailed(err)
	}
	for _, e := range []error{p.Set.CPUErr, p.Set.WallErr} {
		if e != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "headroom: warning: %v\n", e)
		}
	}
	if err != nil {
		return cliexit.RunFailed(err)
	}
	paths := p.Files
	if loadRes != nil {
		path := filepath.Join(dir, "load.json")
		if err := atomicfile.Write(path, loadRes.Write); err != nil {
			return cliexit.RunFailed(err)
		}
		paths = append(paths, path)
	}
	for _, g := range p.Graphs {
		if g.Route != "" {
			continue
		}
		top := g.Folded
		if g.Kind == flame.Wall {
			// Parked goroutines dominate a wall-clock profile's leaves; the code that waits is
			// the news.
			top = top.TrimLeaves("runtime.", "internal/poll.runtime_")
			fmt.Fprintf(w, "\nwall: %s of goroutine time over %v; top functions by self time, runtime leaves charged to their callers\n", formatTotal(top), f.duration)
		} else {
			fmt.Fprintf(w, "\ncpu: %s of CPU over %v; top functions by self time\n", formatTotal(top), f.duration)
		}
		if err := flame.WriteTop(w, top, f.top); err != nil {
			return cliexit.RunFailed(err)
		}
	}
	if loadErr != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "headroom: warning: load: %v\n", loadErr)
	} else if loadRes != nil {
		fmt.Fprintf(w, "\nload: %.0f req/s achieved of %.0f offered, p50 %.2f ms, p99 %.2f ms, %d errors\n",
			loadRes.AchievedRPS, loadRes.OfferedRPS, loadRes.LatencyMS.P50, loadRes.LatencyMS.P99, loadRes.Errors)
	}
	if hs := p.Hotspots; len(hs) > 0 {
		fmt.Fprintln(w, "\nCPU hot spots:")
		for _, h := range hs {
			fmt.Fprintf(w, "  %s\n    remedy: %s\n", h.Summary, h.Remedy)
		}
	}
	fmt.Fprintf(w, "\nwrote %d files to %s/ (open the .svg files in a browser)\n", len(paths), dir)
	return nil
}

// profileTicks prints a plain line per interval while the profiles are taken, until stop.
func profileTicks(w io.Writer, interval, total time.Duration, stop <-chan struct{}) {
	start := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if el := time.Since(start); el < total {
				fmt.Fprintf(w, "%6.1fs  profiling, %v to go\n", el.Seconds(), (total - el).Round(time.Second))
			}
		}
	}
}

func formatTotal(f *flame.Folded) string {
	if f.Unit == "nanoseconds" {
		return time.Duration(f.Total).Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%d %s", f.Total, f.Unit)
}

// checkOutDir fails with a usage error, before any profiling, when dir cannot be an output
// directory: it exists and is not a directory, or its parent is not a directory. Nothing is
// created until there is something to write.
func checkOutDir(dir string) error {
	if dir == dash {
		return cliexit.Usagef("--out -: profile writes a directory of files, which standard output cannot hold (--diff writes one SVG, which it can)")
	}
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return cliexit.Usagef("--out %s: exists and is not a directory", dir)
	case err == nil:
		return nil
	}
	if st, err := os.Stat(filepath.Dir(dir)); err != nil || !st.IsDir() {
		return cliexit.Usagef("--out %s: its parent %s is not a directory", dir, filepath.Dir(dir))
	}
	return nil
}

func runProfileDiff(cmd *cobra.Command, f *profileFlags, args []string) error {
	if len(args) != 2 {
		return cliexit.Usagef("--diff takes two profiles: BASE NEW")
	}
	sio := stdioOf(cmd)
	if err := sio.reserve(argPairs("profile --diff", args)...); err != nil {
		return err
	}
	var fs [2]*flame.Folded
	for i, p := range args {
		prof, err := readFlame(sio, p, f.maxBytes)
		if err != nil {
			return err
		}
		fs[i] = prof.Fold(flame.FoldOptions{})
	}
	if fs[0].Unit != fs[1].Unit {
		return cliexit.Usagef("%s is in %s, %s in %s: compare profiles of one kind (cpu with cpu, wall with wall)", args[0], fs[0].Unit, args[1], fs[1].Unit)
	}
	out := f.out
	if out == "" {
		out = "diff.svg"
	}
	o, err := sio.createOut(out)
	if err != nil {
		return err
	}
	defer o.abort()
	tree := flame.Diff(fs[0], fs[1])
	opt := flame.SVGOptions{
		Title:    "Differential flame graph: red grew, blue shrank (share of total)",
		Subtitle: fmt.Sprintf("base %s (%s), new %s (%s)", args[0], formatTotal(fs[0]), args[1], formatTotal(fs[1])),
		Unit:     fs[1].Unit, Diff: true,
	}
	if err := o.commit(func(w io.Writer) error { return flame.WriteSVG(w, tree, opt) }); err != nil {
		return err
	}
	w := sio.text()
	if f.quiet {
		return nil
	}
	fmt.Fprintf(w, "largest changes of self share, %s → %s:\n", args[0], args[1])
	for _, d := range flame.DiffTop(fs[0], fs[1], f.top) {
		fmt.Fprintf(w, "  %+6.1f points  %5.1f%% → %5.1f%%  %s\n", 100*d.Delta, 100*d.BaseShare, 100*d.NextShare, d.Name)
	}
	if out != dash {
		fmt.Fprintf(w, "wrote %s\n", out)
	}
	return nil
}

// readFlame reads a pprof profile for --diff, "-" standard input, as a usage error when it
// cannot; maxBytes bounds it as flame.ReadFile does.
func readFlame(sio *stdio, path string, maxBytes int64) (*flame.Profile, error) {
	if path != dash {
		p, err := flame.ReadFile(path, maxBytes)
		if err != nil {
			return nil, cliexit.Usagef("%w", err)
		}
		return p, nil
	}
	f, err := sio.open("profile --diff", path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, cliexit.Usagef("standard input: %v", err)
	}
	if int64(len(b)) > maxBytes {
		return nil, cliexit.Usagef("standard input: larger than --max-profile-bytes %d", maxBytes)
	}
	p, err := flame.ParseLimit(b, maxBytes)
	if err != nil {
		return nil, cliexit.Usagef("standard input: %w", err)
	}
	return p, nil
}
