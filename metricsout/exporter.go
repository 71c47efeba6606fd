package metricsout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/loadgen"
)

// Exporter accumulates the progress of one or more load runs (a sweep's steps, a doctor's
// phases) and pushes it to its outputs. Its methods are safe for concurrent use.
type Exporter struct {
	cfg    Config
	client *http.Client
	start  time.Time

	mu             sync.Mutex // guards series, order and the push statistics
	series         map[seriesKey]*series
	order          []seriesKey
	pushes, failed int
	lastErr        error

	stop, done chan struct{}
}

type seriesKey struct{ target, phase string }

// series is one (target, phase)'s totals since the exporter started: counters never go back
// when the same phase runs twice.
type series struct {
	requests, errors  int64
	latency           *hist.Histogram
	offered, achieved float64
}

// New validates cfg and starts pushing every cfg.Interval until Close.
func New(cfg Config) (*Exporter, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Exporter{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}, start: cfg.Now(),
		series: map[seriesKey]*series{}, stop: make(chan struct{}), done: make(chan struct{})}
	go e.loop()
	return e, nil
}

// RunID is the run_id label of every series.
func (e *Exporter) RunID() string { return e.cfg.RunID }

// Watch returns a loadgen progress callback for one run, whose measurements go to the series
// of target and phase. It decodes the closed second's latency histogram (once a second, on
// loadgen's ticking goroutine, never on a worker's) and adds it and the counts to the series.
func (e *Exporter) Watch(target, phase string) func(loadgen.Progress) {
	var lastReq, lastErr int64
	return func(p loadgen.Progress) {
		if p.Warmup {
			return
		}
		var lat *hist.Histogram
		if p.Second.Latency != "" {
			lat, _ = hist.Decode(p.Second.Latency) // loadgen encoded it; it cannot fail
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		k := seriesKey{target, phase}
		s := e.series[k]
		if s == nil {
			s = &series{latency: hist.New()}
			e.series[k] = s
			e.order = append(e.order, k)
		}
		s.requests += p.Requests - lastReq
		s.errors += p.Errors - lastErr
		lastReq, lastErr = p.Requests, p.Errors
		if lat != nil {
			s.latency.Merge(lat)
		}
		s.offered, s.achieved = p.Second.OfferedRPS, p.Second.AchievedRPS
	}
}

// Close stops the periodic pushes, pushes once more (bounded by ctx and Config.Timeout), and
// returns an error if that push or any before it failed. Call it once, after the runs.
func (e *Exporter) Close(ctx context.Context) error {
	close(e.stop)
	<-e.done
	e.push(ctx)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failed > 0 {
		return fmt.Errorf("metrics: %d of %d pushes failed, the last: %w", e.failed, e.pushes, e.lastErr)
	}
	return nil
}

func (e *Exporter) loop() {
	defer close(e.done)
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.push(context.Background()) // bounded by Config.Timeout
		}
	}
}

// points snapshots every series as the points of a push.
func (e *Exporter) points() []point {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ps []point
	for _, k := range e.order {
		s := e.series[k]
		h := toExp(s.latency)
		p := point{runID: e.cfg.RunID, target: k.target, phase: k.phase}
		for _, v := range []struct {
			m *metric
			v float64
		}{{mRequests, float64(s.requests)}, {mErrors, float64(s.errors)}, {mOffered, s.offered}, {mAchieved, s.achieved}} {
			p.metric, p.value = v.m, v.v
			ps = append(ps, p)
		}
		p.metric, p.value, p.hist = mLatency, 0, &h
		ps = append(ps, p)
	}
	return ps
}

// push sends the current totals to every output.
func (e *Exporter) push(ctx context.Context) {
	ps := e.points()
	if len(ps) == 0 {
		return
	}
	now := e.cfg.Now()
	var errs []error
	for _, o := range e.cfg.Outputs {
		if err := e.send(ctx, o, ps, now); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o, err))
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pushes++
	if len(errs) > 0 {
		e.failed++
		e.lastErr = errors.Join(errs...)
	}
}

func (e *Exporter) send(ctx context.Context, o Output, ps []point, now time.Time) error {
	var body []byte
	h := http.Header{}
	switch o.Protocol {
	case PrometheusRW:
		body = encodeRemoteWrite(ps, now.UnixMilli(), e.cfg.Histograms)
		h.Set("Content-Type", rwContentType)
		h.Set("Content-Encoding", rwEncoding)
		h.Set("X-Prometheus-Remote-Write-Version", rwVersion)
	case OTLP:
		var err error
		if body, err = encodeOTLP(ps, e.start, now); err != nil {
			return err
		}
		h.Set("Content-Type", "application/x-protobuf")
	}
	h.Set("User-Agent", "headroom")
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = h
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
