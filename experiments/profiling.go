package experiments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/flame"
	"github.com/headroom/headroom/result"
)

// profilingVsTracing is the notes' "profilers are not good for I/O": a CPU-bound request (POST
// /api/videos with the lab's sync_video: the upload hashed --video-passes times inside the
// request) and an I/O-bound one (POST /api/checkout: waits for the payment provider), each
// profiled while it runs alone (the CPU profile split by the lab's http.route label; fgprof's
// wall clock), and traced.
var profilingVsTracing = Definition{
	Name:  "profiling-vs-tracing",
	Title: "Profiling vs tracing: the CPU profile sees computation, not waiting",
	Claim: "CPU-bound: Computation-heavy (good for profilers). IO-bound: DB queries, API calls, File operations, Network latency. " +
		"Backend systems are mostly IO-bound. And Profilers are not good for these.",
	Source: Seed000 + ":198-233 (Profiling, CPU-bound vs IO-bound Tasks, Distributed Tracing)",
	Expected: "the CPU-bound request's CPU samples (its route's, per request) are at least half its P50; the I/O-bound " +
		"request's are at most a tenth of its P50, while the wall-clock profile holds at least half its P50 in its handler " +
		"and its traces at least half its mean in the outgoing call",
	Params: []Param{
		{Name: "video-passes", Default: "16", Help: "the CPU-bound request's work (the lab's --video-passes; 16 ≈ 50 ms of CPU)", Valid: whole(1)},
		{Name: "payment-latency", Default: "200ms", Help: "the I/O-bound request's wait (the lab's --payment-latency)"},
		{Name: "cpu-rate", Default: "4", Help: "CPU-bound requests per second", Valid: positive},
		{Name: "io-rate", Default: "10", Help: "I/O-bound requests per second", Valid: positive},
		{Name: "cpu-frame", Default: "(*API).uploadVideo", Help: "the CPU-bound handler's function, as profiles name it (suffix)"},
		{Name: "io-frame", Default: "(*API).checkout", Help: "the I/O-bound handler's function, as profiles name it (suffix)"},
	},
	Measure: func(ctx context.Context, e *Env) error {
		otlp, err := e.OTLP(ctx)
		if err != nil {
			return err
		}
		if _, err := e.StartLab(ctx, "--otlp", otlp, "--video-passes", e.Param("video-passes"), "--payment-latency", e.Param("payment-latency")); err != nil {
			return err
		}
		profile := e.Length(10*time.Second, 4*time.Second)
		for _, c := range []struct {
			name, switches, setup, path, body, frame string
			rate                                     float64
		}{
			{"cpu-bound", "sync_video", "sync_video on: the upload hashed inside the request", "/api/videos",
				`{"owner_id":1,"title":"t","size_bytes":4194304}`, e.Param("cpu-frame"), e.Float("cpu-rate")},
			{"io-bound", "none", "the payment provider's wait (" + e.Param("payment-latency") + ")", "/api/checkout",
				`{"user_id":1,"amount_cents":1999}`, e.Param("io-frame"), e.Float("io-rate")},
		} {
			if err := e.Switch(ctx, c.switches); err != nil {
				return err
			}
			if err := e.profiledLoad(ctx, Load{Name: c.name, Setup: c.setup, Method: http.MethodPost, Path: c.path, Body: c.body,
				Rate: c.rate, Duration: profile + 2*time.Second, Warmup: time.Second}, profile, c.frame); err != nil {
				return err
			}
		}
		for _, name := range []string{"cpu-bound", "io-bound"} {
			if _, err := e.Diagnose(ctx, name, diagnose.DefaultConfig()); err != nil {
				return err
			}
		}
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		cb, ib := m.Latency("cpu-bound"), m.Latency("io-bound")
		cpuC, cpuI := m.Value("cpu-bound/profile", "cpu_ms_per_request"), m.Value("io-bound/profile", "cpu_ms_per_request")
		wallI := m.Value("io-bound/profile", "wall_ms_per_request")
		callI, meanI := m.Value("io-bound/traces", "self_ms.http"), m.Value("io-bound/traces", "mean_ms")
		why := fmt.Sprintf("CPU-bound: P50 %.1f ms, %.1f ms of CPU per request in its profile; I/O-bound: P50 %.1f ms, %.2f ms of CPU, "+
			"%.1f ms in its handler in the wall-clock profile, %.1f of %.1f ms in the outgoing call in its traces",
			cb.P50, cpuC, ib.P50, cpuI, wallI, callI, meanI)
		if m.Value("cpu-bound/profile", "requests") < 10 || m.Value("io-bound/profile", "requests") < 10 {
			return result.OutcomeInconclusive, "fewer than 10 requests in a profile — " + why
		}
		var fails []string
		if cpuC < 0.5*cb.P50 {
			fails = append(fails, "the CPU profile holds less than half of the CPU-bound request's time")
		}
		if cpuI > 0.1*ib.P50 {
			fails = append(fails, "the CPU profile holds more than a tenth of the I/O-bound request's time")
		}
		if wallI < 0.5*ib.P50 {
			fails = append(fails, "the wall-clock profile holds less than half of the I/O-bound request's time")
		}
		if callI < 0.5*meanI {
			fails = append(fails, "the traces put less than half of the I/O-bound request's time in its outgoing call")
		}
		if len(fails) > 0 {
			return result.OutcomeDidNotHold, strings.Join(fails, "; ") + " — " + why
		}
		return result.OutcomeHeld, why
	},
}

// profiledLoad runs l and, from a second after its warm-up, the lab's CPU and wall-clock profiles
// over profile (flame.Collect); it records "NAME/profile": the CPU of l's route per request,
// and the wall-clock time in stacks through frame per request.
func (e *Env) profiledLoad(ctx context.Context, l Load, profile time.Duration, frame string) error {
	if e.url == "" {
		return fmt.Errorf("load %s: no lab started", l.Name)
	}
	target := e.url
	done := make(chan error, 1)
	var rate float64
	go func() {
		r, err := e.Load(ctx, l)
		if r != nil {
			rate = r.AchievedRPS
		}
		done <- err
	}()
	var set *flame.Set
	delay := time.NewTimer(l.Warmup + time.Second)
	select {
	case <-ctx.Done():
		delay.Stop()
	case <-delay.C:
		var err error
		set, err = flame.Collect(ctx, flame.FetchConfig{Duration: profile}, target)
		if err != nil {
			return errors.Join(fmt.Errorf("profile %s: %w", l.Name, err), <-done)
		}
	}
	if err := <-done; err != nil {
		return err
	}
	if set == nil {
		return ctx.Err()
	}
	if set.CPU == nil || set.Wall == nil {
		return fmt.Errorf("profile %s: %w", l.Name, errors.Join(set.CPUErr, set.WallErr))
	}
	route, _, _ := strings.Cut(l.Path, "?")
	route = l.Method + " " + route
	requests := rate * set.Duration.Seconds()
	v := map[string]float64{"profile_s": set.Duration.Seconds(), "requests": requests}
	cpu := set.CPU.Fold(flame.FoldOptions{})
	if slices.Contains(set.CPU.LabelValues(flame.RouteLabel), route) {
		own := set.CPU.Fold(flame.FoldOptions{LabelKey: flame.RouteLabel, LabelValue: route})
		v["cpu_ms"] = float64(own.Total) / 1e6
		if cpu.Total > 0 {
			v["cpu_share"] = float64(own.Total) / float64(cpu.Total)
		}
	}
	v["wall_ms"] = float64(through(set.Wall.Fold(flame.FoldOptions{}), frame)) / 1e6
	if requests > 0 {
		v["cpu_ms_per_request"] = v["cpu_ms"] / requests
		v["wall_ms_per_request"] = v["wall_ms"] / requests
	}
	e.Record(result.ExperimentMeasurement{Name: l.Name + "/profile", Setup: fmt.Sprintf("the lab's profiles over %v of %s (route %s, handler %s)", set.Duration, l.Name, route, frame), Values: v})
	return nil
}

// through is the value of f's stacks that pass through a function whose name ends in frame.
func through(f *flame.Folded, frame string) int64 {
	var n int64
	for _, s := range f.Stacks {
		if slices.ContainsFunc(s.Frames, func(fr string) bool { return strings.HasSuffix(fr, frame) }) {
			n += s.Value
		}
	}
	return n
}
