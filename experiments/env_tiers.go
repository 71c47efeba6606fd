package experiments

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// What the experiments on the lab's tiers (edge, services, functions) and its background work
// need beyond loads: single timed requests, the lab's JSON, its metrics, and bounded polling.

// Reply is the answer to one request sent with Env.Call.
type Reply struct {
	Status int
	Body   []byte
	// Elapsed is from sending the request to reading the whole answer: the user's wait.
	Elapsed time.Duration
}

// URL resolves path against the started lab's URL; a full URL (another tier's) is kept as is.
func (e *Env) URL(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return e.url + path
}

// Call sends one request (to a path on the lab or a full URL) and times it; a JSON body gets its
// Content-Type. Any status is an answer: the error is for a request that got none. The context
// bounds the whole call.
func (e *Env) Call(ctx context.Context, method, path, body string) (Reply, error) {
	if e.url == "" {
		return Reply{}, fmt.Errorf("%s %s: no lab started", method, path)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.URL(path), strings.NewReader(body))
	if err != nil {
		return Reply{}, err
	}
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return Reply{Status: resp.StatusCode, Body: b, Elapsed: time.Since(start)}, nil
}

// GetJSON decodes the 2xx answer of GET path (on the lab, or a full URL) into v.
func (e *Env) GetJSON(ctx context.Context, path string, v any) error {
	r, err := e.Call(ctx, http.MethodGet, path, "")
	if err != nil {
		return err
	}
	if r.Status/100 != 2 {
		return fmt.Errorf("GET %s: status %d: %.200s", path, r.Status, bytes.TrimSpace(r.Body))
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// errPollTimeout is wrapped by Poll's error when the condition was not met in time.
var errPollTimeout = errors.New("not met in time")

// Poll calls done every interval until it reports true, and returns how long that took since
// the call; after timeout (or when ctx ends) it returns an error saying what was awaited. An
// error from done ends the polling with it.
func (e *Env) Poll(ctx context.Context, what string, every, timeout time.Duration, done func(context.Context) (bool, error)) (time.Duration, error) {
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ok, err := done(ctx)
		if err != nil {
			return time.Since(start), fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("%s: %w", what, ctx.Err())
		case <-deadline.C:
			return time.Since(start), fmt.Errorf("%s: %w after %v", what, errPollTimeout, timeout)
		case <-tick.C:
		}
	}
}

// Metric scrapes base's /metrics (base: the lab's URL when "") and sums the samples of the
// series name whose labels include every pair of match. A histogram's or summary's name_sum and
// name_count are its sums and counts. A series absent from the answer sums to 0: counters
// appear with their first event.
func (e *Env) Metric(ctx context.Context, base, name string, match map[string]string) (float64, error) {
	if base == "" {
		base = e.url
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics of %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics of %s: %s", base, resp.Status)
	}
	v, err := sumSeries(io.LimitReader(resp.Body, 32<<20), name, match)
	if err != nil {
		return 0, fmt.Errorf("metrics of %s: %w", base, err)
	}
	return v, nil
}

// sumSeries reads Prometheus text exposition format and sums the samples of name whose labels
// include match (see Env.Metric).
func sumSeries(r io.Reader, name string, match map[string]string) (float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return 0, err
	}
	fam, part := fams[name], ""
	if fam == nil {
		for _, suffix := range []string{"_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && fams[base] != nil {
				fam, part = fams[base], suffix
			}
		}
	}
	if fam == nil {
		return 0, nil
	}
	var sum float64
next:
	for _, m := range fam.GetMetric() {
		for k, v := range match {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k {
					found = l.GetValue() == v
					break
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		case m.Histogram != nil && part == "_sum":
			sum += m.GetHistogram().GetSampleSum()
		case m.Histogram != nil && part == "_count":
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Summary != nil && part == "_sum":
			sum += m.GetSummary().GetSampleSum()
		case m.Summary != nil && part == "_count":
			sum += float64(m.GetSummary().GetSampleCount())
		}
	}
	return sum, nil
}

// Wait lets d pass (a lab's timers: idle reclaim, keep-warm rounds), or returns ctx's error.
func (e *Env) Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
