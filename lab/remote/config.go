package remote

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/headroom/headroom/internal/fielderr"
)

// The defaults of [Config]: a peer in the same data centre, answering in milliseconds.
const (
	TimeoutDefault          = time.Second
	DeadlineDefault         = 3 * time.Second
	MaxAttemptsDefault      = 3
	BackoffMinDefault       = 10 * time.Millisecond
	BackoffMaxDefault       = 500 * time.Millisecond
	JitterDefault           = 0.5
	BudgetRatioDefault      = 0.1
	BudgetBurstDefault      = 10
	BreakerFailuresDefault  = 5
	BreakerWindowDefault    = 10
	BreakerDelayDefault     = 5 * time.Second
	BreakerProbesDefault    = 3
	BulkheadDefault         = 256
	MaxHedgesDefault        = 1
	HedgeBudgetDefault      = 0.1
	NaiveMaxAttemptsDefault = 100
)

// Config configures [New]. Durations and counts left zero take their …Default.
type Config struct {
	// Peer is the called service's name ("accounts", "posts", ...): span names, peer.service,
	// the peer label of the metrics. Required.
	Peer string
	// BaseURL is where the peer listens, such as "http://127.0.0.1:8081"; a call's path is
	// appended to it. Exactly one of BaseURL and Balancer is required.
	BaseURL string
	// Balancer, instead of BaseURL, spreads the attempts over the peer's replicas; its
	// BalancerConfig.Peer must be Peer. The Client neither starts nor stops it.
	Balancer *Balancer
	// Transport sends each attempt (the lab passes its netem dialer's transport). Default: a
	// clone of http.DefaultTransport keeping up to Bulkhead idle connections to the peer.
	Transport http.RoundTripper

	// Timeout is each attempt's deadline. Default [TimeoutDefault].
	Timeout time.Duration
	// Deadline bounds the whole call, retries and backoff included; the caller's context can
	// only shorten it. Default [DeadlineDefault].
	Deadline time.Duration
	// NoTimeout is the classic mistake: no deadline at all, neither per attempt nor per call; a
	// hung peer holds the caller until the caller's own context ends. Default false.
	NoTimeout bool

	// MaxAttempts is the most attempts of one idempotent call, the first included (1: no
	// retries). Default [MaxAttemptsDefault].
	MaxAttempts int
	// BackoffMin is the delay before the first retry; each next one doubles, up to BackoffMax.
	// Default [BackoffMinDefault].
	BackoffMin time.Duration
	// BackoffMax caps the backoff. Default [BackoffMaxDefault].
	BackoffMax time.Duration
	// Jitter is the share of each backoff drawn at random (0.5: ±50 %), so that callers failed
	// together do not retry together. Default [JitterDefault].
	Jitter float64
	// BudgetRatio is the most retries per call over time (0.1: 10 %): a down peer receives at
	// most 1+BudgetRatio times the calls' load, plus BudgetBurst. Default [BudgetRatioDefault].
	BudgetRatio float64
	// BudgetBurst is the most retries the budget saves up in quiet times. Default [BudgetBurstDefault].
	BudgetBurst float64
	// NaiveRetries is the classic mistake: retry at once, no backoff, no budget, up to
	// NaiveMaxAttempts: a retry storm on a failing peer. Default false.
	NaiveRetries bool
	// NaiveMaxAttempts caps the attempts of NaiveRetries. Default [NaiveMaxAttemptsDefault].
	NaiveMaxAttempts int

	// BreakerFailures of the last BreakerWindow attempts failing (transport error, timeout, 5xx,
	// 429) open the circuit. Default [BreakerFailuresDefault].
	BreakerFailures uint
	// BreakerWindow is the number of recent attempts the breaker judges. Default [BreakerWindowDefault].
	BreakerWindow uint
	// BreakerDelay is how long the circuit stays open before it lets probes through (half-open).
	// Default [BreakerDelayDefault].
	BreakerDelay time.Duration
	// BreakerProbes is how many probes must succeed, half-open, to close the circuit again (one
	// failing reopens it). Default [BreakerProbesDefault].
	BreakerProbes uint
	// NoBreaker sends every attempt whatever the peer's recent failures. Default false.
	NoBreaker bool

	// Mistakes, when set, is asked at the start of each call which classic mistakes to make
	// besides those set above (the lab reads its anti-pattern switches there, so that they flip
	// at run time). Default nil.
	Mistakes func() Mistakes

	// Bulkhead is the most attempts in flight to the peer at once; more fail with
	// [ErrBulkheadFull] instead of queueing. Default [BulkheadDefault].
	Bulkhead int

	// HedgeDelay, when set, sends a copy of an idempotent attempt still unanswered after it, and
	// takes whichever answers first (The Tail at Scale). Set it near the peer's P95. Default 0:
	// no hedging.
	HedgeDelay time.Duration
	// MaxHedges is the most copies per attempt. Default [MaxHedgesDefault].
	MaxHedges int
	// HedgeBudget is the most hedged copies as a share of the calls in flight (failsafe-go's
	// budget; one copy is always allowed), so that a peer slow on every request is not sent
	// every request twice. Default [HedgeBudgetDefault].
	HedgeBudget float64

	// TracerProvider makes the call and attempt spans. Default: no spans.
	TracerProvider trace.TracerProvider
	// Propagator carries trace context to the peer. Default W3C trace context.
	Propagator propagation.TextMapPropagator
	// Registerer takes the client's metrics. Default: not registered.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = TimeoutDefault
	}
	if c.Deadline == 0 {
		c.Deadline = DeadlineDefault
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = MaxAttemptsDefault
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = BackoffMinDefault
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = BackoffMaxDefault
	}
	if c.Jitter == 0 {
		c.Jitter = JitterDefault
	}
	if c.BudgetRatio == 0 {
		c.BudgetRatio = BudgetRatioDefault
	}
	if c.BudgetBurst == 0 {
		c.BudgetBurst = BudgetBurstDefault
	}
	if c.NaiveMaxAttempts == 0 {
		c.NaiveMaxAttempts = NaiveMaxAttemptsDefault
	}
	if c.BreakerFailures == 0 {
		c.BreakerFailures = BreakerFailuresDefault
	}
	if c.BreakerWindow == 0 {
		c.BreakerWindow = BreakerWindowDefault
	}
	if c.BreakerDelay == 0 {
		c.BreakerDelay = BreakerDelayDefault
	}
	if c.BreakerProbes == 0 {
		c.BreakerProbes = BreakerProbesDefault
	}
	if c.Bulkhead == 0 {
		c.Bulkhead = BulkheadDefault
	}
	if c.MaxHedges == 0 {
		c.MaxHedges = MaxHedgesDefault
	}
	if c.HedgeBudget == 0 {
		c.HedgeBudget = HedgeBudgetDefault
	}
	if c.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = c.Bulkhead
		c.Transport = t
	}
	if c.TracerProvider == nil {
		c.TracerProvider = noop.NewTracerProvider()
	}
	if c.Propagator == nil {
		c.Propagator = propagation.TraceContext{}
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	return c
}

func (c *Config) validate() error {
	var errs []error
	if c.Peer == "" {
		errs = append(errs, fielderr.New(ErrConfig, "Peer", "empty: want the called service's name"))
	}
	switch {
	case c.Balancer != nil && c.BaseURL != "":
		errs = append(errs, fielderr.New(ErrConfig, "Balancer", "set along with BaseURL %q: want exactly one of them", c.BaseURL))
	case c.Balancer != nil:
		if c.Balancer.cfg.Peer != c.Peer {
			errs = append(errs, fielderr.New(ErrConfig, "Balancer", "balances peer %q: want Peer's %q", c.Balancer.cfg.Peer, c.Peer))
		}
	case !isBaseURL(c.BaseURL):
		errs = append(errs, fielderr.New(ErrConfig, "BaseURL", "%q: want http://host:port or https://host:port, or a Balancer", c.BaseURL))
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"Timeout", c.Timeout}, {"Deadline", c.Deadline}, {"BackoffMin", c.BackoffMin}, {"BackoffMax", c.BackoffMax}, {"BreakerDelay", c.BreakerDelay}, {"HedgeDelay", c.HedgeDelay}} {
		if d.v < 0 {
			errs = append(errs, fielderr.New(ErrConfig, d.field, "%s: want a positive duration", d.v))
		}
	}
	if c.BackoffMax < c.BackoffMin {
		errs = append(errs, fielderr.New(ErrConfig, "BackoffMax", "%s: want at least BackoffMin (%s)", c.BackoffMax, c.BackoffMin))
	}
	for _, n := range []struct {
		field string
		v     int
	}{{"MaxAttempts", c.MaxAttempts}, {"NaiveMaxAttempts", c.NaiveMaxAttempts}, {"Bulkhead", c.Bulkhead}, {"MaxHedges", c.MaxHedges}} {
		if n.v < 1 {
			errs = append(errs, fielderr.New(ErrConfig, n.field, "%d: want at least 1", n.v))
		}
	}
	if c.Jitter < 0 || c.Jitter > 1 {
		errs = append(errs, fielderr.New(ErrConfig, "Jitter", "%g: want 0 to 1", c.Jitter))
	}
	if c.BudgetRatio < 0 {
		errs = append(errs, fielderr.New(ErrConfig, "BudgetRatio", "%g: want 0 or more", c.BudgetRatio))
	}
	if c.HedgeBudget < 0 || c.HedgeBudget > 1 {
		errs = append(errs, fielderr.New(ErrConfig, "HedgeBudget", "%g: want 0 to 1", c.HedgeBudget))
	}
	if c.BudgetBurst < 1 {
		errs = append(errs, fielderr.New(ErrConfig, "BudgetBurst", "%g: want at least 1", c.BudgetBurst))
	}
	if c.BreakerFailures > c.BreakerWindow {
		errs = append(errs, fielderr.New(ErrConfig, "BreakerFailures", "%d: want at most BreakerWindow (%d)", c.BreakerFailures, c.BreakerWindow))
	}
	return errors.Join(errs...)
}

// isBaseURL says whether s is an absolute http or https URL with a host.
func isBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
