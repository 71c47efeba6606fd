package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/internal/fielderr"
)

// The defaults of [BalancerConfig]. Envoy requires its health checks' interval, timeout and
// thresholds to be set, so these are ours, for replicas on one host or in one data centre where
// /healthz answers in well under a millisecond: three checks in a row without an answer
// (Kubernetes' failureThreshold) find within about 3 s a dead replica no call found first
// (passive ejection), a timeout 500 times the usual answer does not take a busy replica for a
// dead one, and two passes bring one back. What follows Envoy: an answer other than 200 makes
// a replica unhealthy at once, and a new one needs a single pass.
const (
	HealthPathDefault         = "/healthz"
	HealthIntervalDefault     = time.Second
	HealthTimeoutDefault      = 500 * time.Millisecond
	UnhealthyThresholdDefault = 3
	HealthyThresholdDefault   = 2
)

// BalancerConfig configures [NewBalancer]. Durations and counts left zero take their …Default.
type BalancerConfig struct {
	// Peer is the service whose replicas the endpoints are; it must be the Config.Peer of the
	// Client the Balancer serves, and is the peer label of the metrics. Required.
	Peer string
	// Endpoints are the replicas' base URLs, such as "http://127.0.0.1:8081": at least one, no
	// two alike. [Balancer.SetEndpoints] replaces them.
	Endpoints []string
	// Transport sends the health checks; pass the Client's Config.Transport so that checks
	// take the calls' network path. Default: a clone of http.DefaultTransport.
	Transport http.RoundTripper

	// HealthPath is the path the checks GET on each endpoint; an answer other than 200 fails
	// the check. Default [HealthPathDefault].
	HealthPath string
	// HealthInterval is the time between two rounds of checks. Default [HealthIntervalDefault].
	HealthInterval time.Duration
	// HealthTimeout bounds each check; at most HealthInterval. Default [HealthTimeoutDefault],
	// or HealthInterval if shorter.
	HealthTimeout time.Duration
	// UnhealthyThreshold consecutive checks without an answer (refused, reset, timed out) make a
	// healthy endpoint unhealthy; an answer other than 200 does at once, as in Envoy, since
	// the replica says so itself. Default [UnhealthyThresholdDefault].
	UnhealthyThreshold int
	// HealthyThreshold consecutive passed checks make an unhealthy endpoint healthy again. A new
	// endpoint, or one its calls ejected, needs one (Envoy's rule for hosts at startup).
	// Default [HealthyThresholdDefault].
	HealthyThreshold int

	// Registerer takes the per-endpoint metrics. Default: not registered.
	Registerer prometheus.Registerer
}

func (c BalancerConfig) withDefaults() BalancerConfig {
	if c.HealthPath == "" {
		c.HealthPath = HealthPathDefault
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = HealthIntervalDefault
	}
	if c.HealthTimeout == 0 {
		c.HealthTimeout = HealthTimeoutDefault
		if c.HealthInterval > 0 {
			c.HealthTimeout = min(c.HealthTimeout, c.HealthInterval)
		}
	}
	if c.UnhealthyThreshold == 0 {
		c.UnhealthyThreshold = UnhealthyThresholdDefault
	}
	if c.HealthyThreshold == 0 {
		c.HealthyThreshold = HealthyThresholdDefault
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	return c
}

func (c *BalancerConfig) validate() error {
	var errs []error
	if c.Peer == "" {
		errs = append(errs, fielderr.New(ErrConfig, "Peer", "empty: want the called service's name"))
	}
	if _, err := endpointURLs(c.Endpoints); err != nil {
		errs = append(errs, err)
	}
	if !strings.HasPrefix(c.HealthPath, "/") {
		errs = append(errs, fielderr.New(ErrConfig, "HealthPath", "%q: want a path starting with /", c.HealthPath))
	}
	if c.HealthInterval < 0 {
		errs = append(errs, fielderr.New(ErrConfig, "HealthInterval", "%s: want a positive duration", c.HealthInterval))
	}
	if c.HealthTimeout < 0 || c.HealthTimeout > c.HealthInterval {
		errs = append(errs, fielderr.New(ErrConfig, "HealthTimeout", "%s: want a positive duration, at most HealthInterval (%s)", c.HealthTimeout, c.HealthInterval))
	}
	for _, n := range []struct {
		field string
		v     int
	}{{"UnhealthyThreshold", c.UnhealthyThreshold}, {"HealthyThreshold", c.HealthyThreshold}} {
		if n.v < 1 {
			errs = append(errs, fielderr.New(ErrConfig, n.field, "%d: want at least 1", n.v))
		}
	}
	return errors.Join(errs...)
}

// endpointURLs returns urls without trailing slashes, or an error naming Endpoints.
func endpointURLs(urls []string) ([]string, error) {
	if len(urls) == 0 {
		return nil, fielderr.New(ErrConfig, "Endpoints", "empty: want at least one base URL")
	}
	out := make([]string, len(urls))
	seen := make(map[string]bool, len(urls))
	for i, u := range urls {
		if !isBaseURL(u) {
			return nil, fielderr.New(ErrConfig, "Endpoints", "%q: want http://host:port or https://host:port", u)
		}
		out[i] = strings.TrimSuffix(u, "/")
		if seen[out[i]] {
			return nil, fielderr.New(ErrConfig, "Endpoints", "%q twice: want each replica once", u)
		}
		seen[out[i]] = true
	}
	return out, nil
}

// Balancer spreads a Client's attempts over the replicas (endpoints) of one peer: each attempt,
// first, retry or hedge, goes to the healthy endpoint with the fewest attempts in flight, ties
// broken at random, and a retry or hedge to another endpoint than the call's previous attempt
// when one is healthy. Envoy's least-request balancer samples two endpoints (power of two
// choices); a peer has a handful of replicas here, so all are compared.
//
// An endpoint is unhealthy after failed active checks (see [BalancerConfig]) or, at once, when
// an attempt's connection to it is refused or reset (passive ejection); one passed check makes
// an ejected endpoint healthy again. When no endpoint is healthy, attempts go to all of them
// (Envoy's panic mode, here at a 0 % threshold rather than Envoy's 50 %: with few replicas, a
// rolling restart must not send calls to the one being replaced).
//
// Until [Balancer.Start], nothing is checked and no endpoint is healthy, so attempts go to all.
// A Balancer is safe for concurrent use.
type Balancer struct {
	cfg       BalancerConfig
	http      *http.Client
	endpoints atomic.Pointer[[]*endpoint]
	changed   chan struct{} // a round is due: the endpoints changed

	mu   sync.Mutex // serializes SetEndpoints, Start and Stop
	stop context.CancelFunc
	done chan struct{} // closed when the checker returns
}

// endpoint is one replica, with its counts and health.
type endpoint struct {
	url         string
	outstanding atomic.Int64
	picks       atomic.Uint64
	healthy     atomic.Bool

	mu     sync.Mutex // guards the health state machine
	health healthState
}

// healthState counts an endpoint's consecutive check results.
type healthState struct {
	fails, passes int
	// probation: new or ejected; one passed check makes it healthy.
	probation bool
}

// checkResult is what a health check found.
type checkResult int

const (
	checkPassed   checkResult = iota
	checkNoAnswer             // refused, reset, timed out
	checkRefused              // answered, not 200
)

// next returns the state after a check's result and whether the endpoint is then healthy.
func (s healthState) next(healthy bool, r checkResult, toHealthy, toUnhealthy int) (healthState, bool) {
	switch r {
	case checkPassed:
		s.fails, s.passes = 0, s.passes+1
		if s.probation || s.passes >= toHealthy {
			s.probation, healthy = false, true
		}
	case checkNoAnswer:
		s.fails, s.passes = s.fails+1, 0
		if s.fails >= toUnhealthy {
			healthy = false
		}
	case checkRefused:
		s.fails, s.passes, healthy = s.fails+1, 0, false
	}
	return s, healthy
}

// NewBalancer returns a Balancer over cfg.Endpoints, its metrics registered on cfg.Registerer;
// [Balancer.Start] begins its health checks. Its error wraps [ErrConfig] for a bad config.
func NewBalancer(cfg BalancerConfig) (*Balancer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Balancer{
		cfg: cfg,
		// A redirect fails the check, as in Envoy: the replica is not where it was listed.
		http: &http.Client{Transport: cfg.Transport, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		changed: make(chan struct{}, 1),
	}
	if err := b.SetEndpoints(cfg.Endpoints); err != nil {
		return nil, err
	}
	if err := cfg.Registerer.Register(newBalancerMetrics(b)); err != nil {
		return nil, fmt.Errorf("remote: balancer metrics of %s: %w", cfg.Peer, err)
	}
	return b, nil
}

// SetEndpoints replaces the endpoints with urls (at least one, no two alike), safely while
// calls run, as a rolling restart does replica by replica. An endpoint kept keeps its health
// and counts; a new one is unhealthy until its first passed check, made at once if the Balancer
// is started; attempts in flight to a removed one finish there. Its error wraps [ErrConfig],
// the endpoints then unchanged.
func (b *Balancer) SetEndpoints(urls []string) error {
	clean, err := endpointURLs(urls)
	if err != nil {
		return err
	}
	b.mu.Lock()
	kept := map[string]*endpoint{}
	if cur := b.endpoints.Load(); cur != nil {
		for _, e := range *cur {
			kept[e.url] = e
		}
	}
	next := make([]*endpoint, len(clean))
	for i, u := range clean {
		if next[i] = kept[u]; next[i] == nil {
			next[i] = &endpoint{url: u, health: healthState{probation: true}}
		}
	}
	b.endpoints.Store(&next)
	b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default: // a round is due already
	}
	return nil
}

// EndpointStatus is one endpoint as [Balancer.Endpoints] reports it.
type EndpointStatus struct {
	// URL is the endpoint's base URL.
	URL string
	// Healthy says whether it takes attempts while another is healthy too.
	Healthy bool
	// Outstanding is its attempts in flight.
	Outstanding int64
	// Picks is the attempts sent to it since it was added.
	Picks uint64
}

// Endpoints returns the endpoints' current state, in the order they were set.
func (b *Balancer) Endpoints() []EndpointStatus {
	eps := *b.endpoints.Load()
	out := make([]EndpointStatus, len(eps))
	for i, e := range eps {
		out[i] = EndpointStatus{URL: e.url, Healthy: e.healthy.Load(), Outstanding: e.outstanding.Load(), Picks: e.picks.Load()}
	}
	return out
}

// Start checks every endpoint once and waits for the answers, each bounded by HealthTimeout,
// so that the replicas that answer are healthy when it returns; a goroutine then checks every
// HealthInterval, and at once after [Balancer.SetEndpoints], until [Balancer.Stop]. It returns
// ctx's error if ctx ends before the first round does (the checks go on). A Balancer starts
// once: later calls return nil at once.
func (b *Balancer) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.stop != nil {
		b.mu.Unlock()
		return nil
	}
	run, cancel := context.WithCancel(context.Background())
	b.stop, b.done = cancel, make(chan struct{})
	first := make(chan struct{})
	b.mu.Unlock()
	go b.run(run, first)
	select {
	case <-first:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop ends the health checks, canceling those in flight, and waits for the checker to return
// or ctx to end (then its error). The endpoints keep their last health; calls go on.
func (b *Balancer) Stop(ctx context.Context) error {
	b.mu.Lock()
	cancel, done := b.stop, b.done
	b.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Balancer) run(ctx context.Context, first chan<- struct{}) {
	defer close(b.done)
	select {
	case <-b.changed: // set before Start: this first round checks them
	default:
	}
	b.round(ctx)
	close(first)
	t := time.NewTicker(b.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.changed:
		}
		b.round(ctx)
	}
}

// round checks every endpoint at once, so that a hung one delays no other's verdict.
func (b *Balancer) round(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range *b.endpoints.Load() {
		wg.Go(func() { b.check(ctx, e) })
	}
	wg.Wait()
}

func (b *Balancer) check(ctx context.Context, e *endpoint) {
	cctx, cancel := context.WithTimeout(ctx, b.cfg.HealthTimeout)
	defer cancel()
	r := checkNoAnswer
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, e.url+b.cfg.HealthPath, nil)
	if err == nil {
		req.Header.Set("User-Agent", "headroom-remote-healthcheck")
		var resp *http.Response
		if resp, err = b.http.Do(req); err == nil {
			// Read a little so that the connection is kept for the next check.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
			_ = resp.Body.Close()
			r = checkRefused
			if resp.StatusCode == http.StatusOK {
				r = checkPassed
			}
		}
	}
	if ctx.Err() != nil {
		return // stopped: the check says nothing of the endpoint
	}
	e.mu.Lock()
	var healthy bool
	e.health, healthy = e.health.next(e.healthy.Load(), r, b.cfg.HealthyThreshold, b.cfg.UnhealthyThreshold)
	e.healthy.Store(healthy)
	e.mu.Unlock()
}

// pick returns the endpoint for an attempt, counted outstanding until [Balancer.release]: the
// healthy one with the fewest attempts in flight, avoid (the call's previous attempt's, or nil)
// only if no other is healthy; with none healthy, the same among all.
func (b *Balancer) pick(avoid *endpoint) *endpoint {
	var best *endpoint
	bestRank, bestOut, ties := 0, int64(0), 0
	for _, e := range *b.endpoints.Load() {
		rank := 0 // healthy and not avoided first
		if !e.healthy.Load() {
			rank = 2
		}
		if e == avoid {
			rank++
		}
		out := e.outstanding.Load()
		switch {
		case best == nil || rank < bestRank || (rank == bestRank && out < bestOut):
			best, bestRank, bestOut, ties = e, rank, out, 1
		case rank == bestRank && out == bestOut:
			// Reservoir sampling: each of the tied endpoints ends up chosen with equal chance.
			ties++
			if rand.IntN(ties) == 0 {
				best = e
			}
		}
	}
	best.outstanding.Add(1)
	best.picks.Add(1)
	return best
}

// release ends an attempt on e. A connection refused, reset or closed before the answer (EOF:
// a replica shutting down closes its kept-alive connections) says the replica is going: e is
// ejected. It reports whether the failure was e's alone, another endpoint being healthy, so
// that the peer's circuit breaker does not count one replica's restart against the peer.
func (b *Balancer) release(e *endpoint, err error) (ejected bool) {
	e.outstanding.Add(-1)
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) &&
		!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	e.mu.Lock()
	e.health = healthState{probation: true}
	e.healthy.Store(false)
	e.mu.Unlock()
	for _, o := range *b.endpoints.Load() {
		if o != e && o.healthy.Load() {
			return true
		}
	}
	return false
}

// balancerMetrics reads the endpoints at each scrape, so a removed endpoint's series go with it.
type balancerMetrics struct {
	b                           *Balancer
	outstanding, picks, healthy *prometheus.Desc
}

func newBalancerMetrics(b *Balancer) balancerMetrics {
	peer := prometheus.Labels{"peer": b.cfg.Peer}
	return balancerMetrics{b: b,
		outstanding: prometheus.NewDesc("headroom_remote_endpoint_outstanding",
			"Attempts in flight to each endpoint (replica) of a peer.", []string{"endpoint"}, peer),
		picks: prometheus.NewDesc("headroom_remote_endpoint_picks_total",
			"Attempts the balancer sent to each endpoint (replica) of a peer since it was added.", []string{"endpoint"}, peer),
		healthy: prometheus.NewDesc("headroom_remote_endpoint_healthy",
			"Whether each endpoint (replica) of a peer is healthy (1) or not (0).", []string{"endpoint"}, peer),
	}
}

func (m balancerMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.outstanding
	ch <- m.picks
	ch <- m.healthy
}

func (m balancerMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, e := range m.b.Endpoints() {
		healthy := 0.0
		if e.Healthy {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(m.outstanding, prometheus.GaugeValue, float64(e.Outstanding), e.URL)
		ch <- prometheus.MustNewConstMetric(m.picks, prometheus.CounterValue, float64(e.Picks), e.URL)
		ch <- prometheus.MustNewConstMetric(m.healthy, prometheus.GaugeValue, healthy, e.URL)
	}
}
