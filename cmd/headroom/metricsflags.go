package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/metricsout"
)

// metricsFlags are the flags that stream a run's measurements to Prometheus or OTLP (load,
// sweep, doctor). On sweep and doctor --metrics also keeps its older meaning, the target's own
// Prometheus endpoint for CPU utilization: a value naming a protocol (prometheus-rw=, otlp=) is
// an output, any other the target's endpoint.
type metricsFlags struct {
	values     []string
	interval   time.Duration
	histograms string
	runID      string
}

const metricsOutputUsage = "stream the measurements while the run goes on: prometheus-rw=URL (remote write, e.g. http://127.0.0.1:9090/api/v1/write) or otlp=URL (OTLP/HTTP metrics, e.g. http://127.0.0.1:4318); repeatable"

// register adds the flags to cmd; targetUsage, when not empty, describes --metrics URL, the
// target's endpoint.
func (m *metricsFlags) register(cmd *cobra.Command, targetUsage string) {
	fl := cmd.Flags()
	usage := metricsOutputUsage
	if targetUsage != "" {
		usage = targetUsage + "; or " + usage
	}
	fl.StringArrayVar(&m.values, "metrics", nil, usage)
	fl.DurationVar(&m.interval, "metrics-interval", metricsout.IntervalDefault, "how often --metrics outputs are pushed (and once at the end)")
	fl.StringVar(&m.histograms, "metrics-histograms", string(metricsout.HistogramsDefault), "latency histograms of prometheus-rw: native (Prometheus 2.x needs --enable-feature=native-histograms, else it refuses the push), classic (_bucket series any Prometheus stores) or both")
	fl.StringVar(&m.runID, "run-id", "", "the run_id label of the --metrics series (default random)")
	prefixes := make([]string, len(metricsout.Protocols))
	for i, p := range metricsout.Protocols {
		prefixes[i] = string(p) + "="
	}
	complete.Flags(cmd, complete.Prefixes(prefixes...), "metrics")
	complete.Flags(cmd, complete.Values(metricsout.HistogramKinds, nil), "metrics-histograms")
	complete.Flags(cmd, complete.None, "run-id")
}

// split returns the target's Prometheus endpoint (empty if none) and the outputs. Without
// targetOK every value must be an output.
func (m *metricsFlags) split(targetOK bool) (string, []metricsout.Output, error) {
	var target string
	var outs []metricsout.Output
	for _, v := range m.values {
		p, _, _ := strings.Cut(v, "=")
		if !metricsout.Protocol(p).Valid() {
			if !targetOK {
				return "", nil, cliexit.Usagef("--metrics %q: want %s", v, metricsout.OutputForms())
			}
			if target != "" {
				return "", nil, cliexit.Usagef("--metrics %q: a second endpoint of the target (the first: %q); outputs are %s", v, target, metricsout.OutputForms())
			}
			target = v
			continue
		}
		o, err := metricsout.ParseOutput(v)
		if err != nil {
			return "", nil, cliexit.Usagef("%w", fielderr.Rename(err, map[string]string{"Output": "--metrics"}))
		}
		outs = append(outs, o)
	}
	return target, outs, nil
}

// start returns the exporter of outs, nil when there are none, and says where its metrics go.
func (m *metricsFlags) start(outs []metricsout.Output, stderr io.Writer, quiet bool) (*metricsout.Exporter, error) {
	if len(outs) == 0 {
		return nil, nil
	}
	exp, err := metricsout.New(metricsout.Config{Outputs: outs, Interval: m.interval, RunID: m.runID, Histograms: metricsout.Histograms(m.histograms)})
	if err != nil {
		return nil, cliexit.Usagef("%w", fielderr.Rename(err, map[string]string{"Interval": "--metrics-interval", "Histograms": "--metrics-histograms"}))
	}
	if !quiet {
		fmt.Fprintf(stderr, "metrics: run_id=%s every %v to %s\n", exp.RunID(), m.interval, joinOutputs(outs))
	}
	return exp, nil
}

func joinOutputs(outs []metricsout.Output) string {
	s := make([]string, len(outs))
	for i, o := range outs {
		s[i] = o.String()
	}
	return strings.Join(s, ", ")
}

// finishMetrics pushes the last metrics; a failed push is a warning, not a failed run: the
// measurement itself is whole.
func finishMetrics(exp *metricsout.Exporter, stderr io.Writer) {
	if exp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), metricsout.TimeoutDefault)
	defer cancel()
	if err := exp.Close(ctx); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
}

// watcher builds the Watch hooks of sweep and doctor: the progress bar when bar is set, and the
// exporter's series of target and the phase phase(name) names.
func watcher(bar bool, stderr io.Writer, exp *metricsout.Exporter, target string, phase func(name string) string) func(name string, total time.Duration) (func(loadgen.Progress), func()) {
	if !bar && exp == nil {
		return nil
	}
	return func(name string, total time.Duration) (func(loadgen.Progress), func()) {
		var update func(loadgen.Progress)
		done := func() {}
		if bar {
			p := newProgress(stderr, false, true, time.Hour, total)
			update, done = p.update, p.done
		}
		if exp != nil {
			update = tee(update, exp.Watch(target, phase(name)))
		}
		return update, done
	}
}

// tee calls a (when set) then b.
func tee(a, b func(loadgen.Progress)) func(loadgen.Progress) {
	if a == nil {
		return b
	}
	return func(p loadgen.Progress) { a(p); b(p) }
}

// metricsTarget is the target label of a run's series: its target's URL pattern, or "mixed"
// for a run of several patterns.
func metricsTarget(ts []loadgen.Target) string {
	pattern := func(t loadgen.Target) string {
		return loadgen.TargetPattern(cmp.Or(t.Method, http.MethodGet), t.URL, true)
	}
	name := pattern(ts[0])
	for _, t := range ts[1:] {
		if pattern(t) != name {
			return "mixed"
		}
	}
	return name
}
