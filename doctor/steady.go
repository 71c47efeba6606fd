package doctor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/headroom/headroom/flame"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// condition names the target's state for the steady run.
func (r *run) condition() result.Condition {
	if r.rep.Lab != nil && r.rep.Lab.Antipatterns != "none" && r.rep.Lab.Antipatterns != "" {
		return result.ConditionAntipatternsOn
	}
	return result.ConditionAsIs
}

// steadyPhase runs every endpoint at once at its steady rate: the traffic mix the diagnosis and
// the profiles see.
func (r *run) steadyPhase(ctx context.Context) error {
	secs := r.cfg.Duration.Truncate(time.Second)
	profiles := !r.cfg.NoProfiles && secs >= time.Second
	r.progress(steadyLine(r.cfg.Duration, r.recv != nil, profiles))
	r.keep.Store(true)
	r.from = time.Now().Add(r.cfg.Warmup)
	var err error
	load := func(ctx context.Context) {
		err = r.runAll(ctx, r.condition(), r.path(), true)
		r.to = time.Now()
	}
	switch {
	case r.cfg.NoProfiles:
		load(ctx)
	case !profiles:
		r.note("profiles: the steady run is shorter than a second, too short to profile")
		load(ctx)
	default:
		r.profiled = flame.FetchConfig{Duration: secs, MaxBytes: r.cfg.MaxProfileBytes, Client: headerClient(r.cfg.Headers)}
		cfg := flame.UnderLoadConfig{Fetch: r.profiled, Delay: r.cfg.Warmup, Dir: r.cfg.OutDir}
		p, perr := flame.UnderLoad(ctx, cfg, r.admin, load)
		r.keepProfiles(ctx, p, perr)
	}
	return err
}

// steadyLine announces the steady run with what runs alongside it, and nothing that does not.
func steadyLine(d time.Duration, traces, profiles bool) string {
	var with []string
	if traces {
		with = append(with, "traces")
	}
	if profiles {
		with = append(with, "CPU and wall-clock profiles")
	}
	s := fmt.Sprintf("steady: every endpoint at its rate for %v", d)
	if len(with) == 0 {
		return s + " (no traces, no profiles)"
	}
	return s + ", with " + strings.Join(with, " and ")
}

// keepProfiles takes the steady run's profiles into the report. A target without pprof is a
// note, not a failure.
func (r *run) keepProfiles(ctx context.Context, p *flame.Profiled, err error) {
	if p == nil {
		if ctx.Err() == nil {
			r.note(fmt.Sprintf("profiles: none fetched (%v): a Go service serves them with net/http/pprof and fgprof", err))
		}
		return
	}
	for _, e := range []error{p.Set.CPUErr, p.Set.WallErr} {
		if e != nil {
			r.note("profiles: " + e.Error())
		}
	}
	if err != nil {
		r.note("profiles: " + err.Error())
		return
	}
	for _, g := range p.Graphs {
		if g.Route != "" {
			continue // per-route graphs are files next to the report; the page shows the process
		}
		r.flames = append(r.flames, report.Flame{Title: g.Kind.Title(), SVG: g.SVG})
		r.rep.Profiles = append(r.rep.Profiles, result.Profile{Kind: string(g.Kind), File: g.Name + ".svg", Seconds: p.Set.Duration.Seconds()})
	}
	r.hotspots = p.Hotspots
}

// comparison measures the lab again with every anti-pattern off, at the same rates.
func (r *run) comparison(ctx context.Context) error {
	if r.condition() != result.ConditionAntipatternsOn {
		return nil
	}
	if err := setAntipatterns(ctx, r.admin, "none"); err != nil {
		return err
	}
	r.progress("comparison: the same rates with every anti-pattern off")
	return r.runAll(ctx, result.ConditionAntipatternsOff, r.path(), false)
}

// runAll runs each endpoint's steady load concurrently along path and records one measurement
// each.
func (r *run) runAll(ctx context.Context, cond result.Condition, path result.Path, steady bool) error {
	rates := map[string]float64{}
	for _, de := range r.rep.Endpoints {
		rates[de.Endpoint] = de.SteadyRPS
	}
	base := r.base
	if path == result.PathDirect {
		base = r.rep.Lab.Edge.DirectURL
	}
	cfg := func(e string) (loadgen.Config, error) {
		return r.loadConfig(base, e, rates[e], r.cfg.Duration, r.cfg.Warmup)
	}
	name, nameWidth := string(cond), 17
	if path != "" {
		name, nameWidth = name+", "+string(path), 23
	}
	loads, err := r.concurrently(ctx, name, r.cfg.Endpoints, cfg)
	if err != nil {
		return err
	}
	if err := r.retryInvalid(ctx, name, loads, cfg); err != nil {
		return err
	}
	for i, l := range loads {
		de := &r.rep.Endpoints[i]
		file := fmt.Sprintf("load-%d-%s.json", i+1, strings.ReplaceAll(name, ", ", "-"))
		file = strings.ReplaceAll(file, " ", "-")
		if err := writeJSON(filepath.Join(r.cfg.OutDir, file), l); err != nil {
			return err
		}
		if steady {
			de.SteadyFile = file
			r.steady[de.Endpoint] = l
		}
		m := result.Measurement{Endpoint: de.Endpoint, Condition: cond, Path: path, File: file, OfferedRPS: l.OfferedRPS, AchievedRPS: l.AchievedRPS,
			Requests: l.Requests, Errors: l.Errors, LatencyMS: l.LatencyMS, Valid: l.Verdict.Valid}
		if !m.Valid {
			m.InvalidReasons = l.Verdict.Reasons
			r.rep.InvalidMeasurements = append(r.rep.InvalidMeasurements,
				result.InvalidMeasurement{Endpoint: m.Endpoint, Condition: cond, Path: path, File: file, Reasons: m.InvalidReasons})
		}
		r.rep.Measurements = append(r.rep.Measurements, m)
		line := fmt.Sprintf("%-30s %-*s p50 %8.2f ms  p99 %8.2f ms  %6.1f req/s  errors %d",
			report.EndpointLabel(m.Endpoint), nameWidth, name, m.LatencyMS.P50, m.LatencyMS.P99, m.AchievedRPS, m.Errors)
		if inv := report.InvalidNote(m); inv != "" {
			line += "  " + inv
		}
		r.progress(line)
	}
	return nil
}

// retryInvalid measures once more, together, the endpoints whose load in loads was invalid (the
// generator was the limit: a busy moment of a shared machine, a GC pause), and puts the new
// results in their place, valid or not.
func (r *run) retryInvalid(ctx context.Context, name string, loads []*result.Load, cfg func(string) (loadgen.Config, error)) error {
	var again []int
	var endpoints []string
	for i, l := range loads {
		if !l.Verdict.Valid && !l.Partial { // an interrupted run is partial: nothing to retry
			again = append(again, i)
			endpoints = append(endpoints, r.cfg.Endpoints[i])
		}
	}
	if len(again) == 0 {
		return nil
	}
	first := loads[again[0]]
	r.progress(fmt.Sprintf("%s: %d measurement(s) INVALID (%s: %s): measuring them once more", name, len(again),
		report.EndpointLabel(endpoints[0]), strings.Join(first.Verdict.Reasons, "; ")))
	retried, err := r.concurrently(ctx, name+" (retry)", endpoints, cfg)
	if err != nil {
		return err
	}
	for j, i := range again {
		loads[i] = retried[j]
	}
	return nil
}

// setAntipatterns flips the lab's switches over its admin API, as an experimenter would.
func setAntipatterns(ctx context.Context, base, list string) error {
	body := fmt.Sprintf(`{"antipatterns":%q}`, list)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/admin/antipatterns", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("switch the lab's anti-patterns: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("switch the lab's anti-patterns: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// headerClient is the client of the profile fetches: nil (flame's default) without headers, else
// one that adds them to every request, as the load runs send them.
func headerClient(h map[string]string) *http.Client {
	if len(h) == 0 {
		return nil
	}
	return &http.Client{Transport: headerTransport{base: http.DefaultTransport, headers: h}}
}

// headerTransport adds headers to each request it sends.
type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context()) // a RoundTripper must not modify the caller's request
	for k, v := range t.headers {
		req.Header.Set(k, v)
	}
	return t.base.RoundTrip(req)
}
