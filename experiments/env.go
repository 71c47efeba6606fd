package experiments

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/internal/labproc"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/result"
)

// Config configures a run of experiments.
type Config struct {
	// Lab is a running lab's URL to measure instead of starting one; an experiment that needs a
	// lab started with particular flags is then skipped, saying which. Default "": each
	// experiment starts the labs it needs.
	Lab string
	// Quick runs the short variant of each measurement (CI's).
	Quick bool
	// OutDir, when set, receives every load result as a file beside the experiment's.
	OutDir string
	// Progress receives one line per step; nil discards them.
	Progress func(string)
}

// Env is an experiment's access to the lab and the load generator while it measures.
type Env struct {
	cfg    Config
	name   string
	params map[string]string
	x      *result.Experiment
	lab    *labproc.Process
	url    string
	// traces and windows serve Diagnose (env_traces.go).
	traces  *traceStore
	windows map[string]window
}

// Quick reports whether the short variant runs.
func (e *Env) Quick() bool { return e.cfg.Quick }

// Length returns full, or quick in the short variant.
func (e *Env) Length(full, quick time.Duration) time.Duration {
	if e.cfg.Quick {
		return quick
	}
	return full
}

// Param returns a parameter's value (validated against its default's kind by Run).
func (e *Env) Param(name string) string { return e.params[name] }

// Float returns a numeric parameter.
func (e *Env) Float(name string) float64 {
	f, _ := strconv.ParseFloat(e.params[name], 64)
	return f
}

// Duration returns a duration parameter.
func (e *Env) Duration(name string) time.Duration {
	d, _ := time.ParseDuration(e.params[name])
	return d
}

// Progress says what the experiment is doing.
func (e *Env) Progress(format string, args ...any) {
	if e.cfg.Progress != nil {
		e.cfg.Progress(e.name + ": " + fmt.Sprintf(format, args...))
	}
}

// StartLab starts a lab with args (beside a free loopback port, a quiet log and the defaults),
// stopping the previous one, and returns its URL. Given a running lab (Config.Lab), it returns
// that lab's URL when args are none, and ErrSkip otherwise: flags cannot be changed on a lab
// that is running.
func (e *Env) StartLab(ctx context.Context, args ...string) (string, error) {
	if e.cfg.Lab != "" {
		if len(args) > 0 {
			return "", fmt.Errorf("needs a lab started with %s, not the running one given: %w", strings.Join(args, " "), ErrSkip)
		}
		e.url = strings.TrimRight(e.cfg.Lab, "/")
		return e.url, nil
	}
	e.stopLab()
	all := append([]string{"--addr", "127.0.0.1:0", "--log-level", "error"}, args...)
	e.x.Setup.LabArgs = append(e.x.Setup.LabArgs, slices.Clone(args))
	e.Progress("starting the lab %s", strings.Join(args, " "))
	p, err := labproc.Start(ctx, all)
	if err != nil {
		return "", fmt.Errorf("start the lab: %w", err)
	}
	e.lab, e.url = p, p.URL()
	return e.url, nil
}

func (e *Env) stopLab() {
	if e.lab != nil {
		e.lab.Stop()
		e.lab = nil
	}
}

// LabPID is the started lab's process id (for its CPU time), 0 for a running lab given by URL.
func (e *Env) LabPID() int {
	if e.lab == nil {
		return 0
	}
	return e.lab.PID()
}

// Admin sends a request to the lab's admin API (switches, faults…) and returns the body of a
// 2xx answer; any other status is an error quoting the answer.
func (e *Env) Admin(ctx context.Context, method, path, body string) ([]byte, error) {
	if e.url == "" {
		return nil, fmt.Errorf("admin %s %s: no lab started", method, path)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.url+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("admin %s %s: %s: %.200s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// Switch sets the lab's anti-patterns (PUT /admin/antipatterns), e.g. "sync_email" or "none".
func (e *Env) Switch(ctx context.Context, antipatterns string) error {
	body, _ := json.Marshal(map[string]string{"antipatterns": antipatterns})
	_, err := e.Admin(ctx, http.MethodPut, "/admin/antipatterns", string(body))
	return err
}

// Load is one open-model load run of an experiment.
type Load struct {
	// Name identifies the measurement for Check; Setup says what differs in it.
	Name, Setup string
	// Method (default GET), Path (on the lab's URL, or a full URL: another tier's), Body and
	// Header ("Name: value").
	Method, Path, Body string
	Header             []string
	// Mix, when set, adds these weighted targets (full URLs) to the one above, whose share is
	// its Weight (default 1).
	Mix    []loadgen.Target
	Weight float64
	// Rate is the offered rate; Arrival, when its Kind is set, the arrival process (its Rate is
	// set from Rate: for bursts the base rate between bursts, which loadstep.BaseRate gives
	// for a mean).
	Rate    float64
	Arrival loadgen.Arrival
	// Duration is measured after Warmup (default none).
	Duration, Warmup time.Duration
	// Timeout per request. Default 30 s: the notes' slow paths take seconds.
	Timeout time.Duration
}

// Load runs l against the lab and records it as a measurement; the result is returned for
// figures the experiment reads beyond the summary.
func (e *Env) Load(ctx context.Context, l Load) (*result.Load, error) {
	if e.url == "" {
		return nil, fmt.Errorf("load %s: no lab started", l.Name)
	}
	t, err := e.target(l.Method, l.Path, l.Body, l.Header)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", l.Name, err)
	}
	t.Weight = l.Weight
	method := t.Method
	arr := l.Arrival
	if arr.Kind == "" {
		arr.Kind = loadgen.ArrivalConstant
	}
	arr.Rate = l.Rate
	timeout := l.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	cfg := loadgen.Config{Targets: append([]loadgen.Target{t}, l.Mix...), Model: loadgen.ModelOpen, Arrival: arr,
		Duration: l.Duration, Warmup: l.Warmup, Timeout: timeout}
	e.Progress("%s: %s %s at %.3g req/s for %v", l.Name, method, l.Path, l.Rate, l.Duration)
	r, err := loadgen.Run(ctx, cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", l.Name, err)
	}
	e.noteLoad(l, r)
	lat := r.LatencyMS
	m := result.ExperimentMeasurement{Name: l.Name, Setup: l.Setup, Target: method + " " + l.Path,
		OfferedRPS: r.OfferedRPS, AchievedRPS: r.AchievedRPS, Requests: r.Requests, Errors: r.Errors,
		LatencyMS: &lat, Valid: r.Verdict.Valid, InvalidReasons: r.Verdict.Reasons}
	if e.cfg.OutDir != "" {
		m.File = e.name + "." + fileSafe(l.Name) + ".load.json"
		if err := writeJSON(filepath.Join(e.cfg.OutDir, m.File), r); err != nil {
			return nil, err
		}
	}
	e.Record(m)
	return r, nil
}

// target is a request on the lab: method (default GET) path, with body (sent as JSON when it is
// an object) and headers ("Name: value").
func (e *Env) target(method, path, body string, header []string) (loadgen.Target, error) {
	t := loadgen.Target{Method: cmp.Or(method, http.MethodGet), URL: e.URL(path), Body: body}
	if strings.HasPrefix(body, "{") {
		t.Headers = map[string]string{"Content-Type": "application/json"}
	}
	for _, h := range header {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return t, fmt.Errorf("header %q: want Name: value", h)
		}
		if t.Headers == nil {
			t.Headers = map[string]string{}
		}
		t.Headers[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	return t, nil
}

// Record adds a measurement that is not a load run (a figure read from the lab or the traces);
// it is valid unless it says otherwise through InvalidReasons.
func (e *Env) Record(m result.ExperimentMeasurement) {
	if m.LatencyMS == nil && len(m.InvalidReasons) == 0 {
		m.Valid = true
	}
	e.x.Measurements = append(e.x.Measurements, m)
}

// fileSafe keeps a measurement's name usable in a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// writeJSON writes v as indented JSON to path, whole or not at all.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
