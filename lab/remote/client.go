package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/budget"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// The attributes of the services contract (docs/lab.md) besides OTel's HTTP ones.
const (
	attrPeer       = attribute.Key("peer.service")
	attrAttempt    = attribute.Key("headroom.call.attempt")
	attrHedge      = attribute.Key("headroom.call.hedge")
	attrDeadlineMS = attribute.Key("headroom.call.deadline_ms")
	attrErrorType  = attribute.Key("error.type")
	attrAttempts   = attribute.Key("headroom.call.attempts")
	attrOutcome    = attribute.Key("headroom.call.outcome")
)

// IdempotencyKeyHeader is the header that makes a POST safe to retry and hedge.
const IdempotencyKeyHeader = "Idempotency-Key"

// maxBody bounds an answer's body read into memory.
const maxBody = 16 << 20

// Client calls one peer. It is safe for concurrent use; make one per peer and keep it, as its
// breaker, bulkhead and budget judge all the calls to that peer.
type Client struct {
	cfg        Config
	base       string               // "" with a Balancer
	server     []attribute.KeyValue // BaseURL's server.address and server.port
	http       *http.Client
	tracer     trace.Tracer
	budget     *retryBudget
	breaker    circuitbreaker.CircuitBreaker[[]byte] // nil with NoBreaker
	bulkhead   bulkhead.Bulkhead[[]byte]
	idempotent failsafe.Executor[[]byte] // retries with backoff, jitter and the budget; hedging
	naive      failsafe.Executor[[]byte] // NaiveRetries: at once, up to NaiveMaxAttempts
	m          *metrics
}

// New returns a Client for cfg.Peer, its metrics registered on cfg.Registerer. Its error wraps
// [ErrConfig] for a bad Config.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:      cfg,
		base:     strings.TrimSuffix(cfg.BaseURL, "/"),
		server:   serverAttrs(cfg.BaseURL),
		tracer:   cfg.TracerProvider.Tracer("github.com/headroom/headroom/lab/remote"),
		budget:   newRetryBudget(cfg.BudgetRatio, cfg.BudgetBurst),
		bulkhead: bulkhead.New[[]byte](uint(cfg.Bulkhead)),
	}
	c.http = &http.Client{Transport: otelhttp.NewTransport(annotator{cfg.Transport},
		otelhttp.WithTracerProvider(cfg.TracerProvider),
		otelhttp.WithPropagators(cfg.Propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanOptions(trace.WithAttributes(attrPeer.String(cfg.Peer))),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return spanName(cfg.Peer, r.Method, attemptFrom(r.Context()).route)
		}))}
	if !cfg.NoBreaker {
		c.breaker = circuitbreaker.NewBuilder[[]byte]().
			WithFailureThresholdRatio(cfg.BreakerFailures, cfg.BreakerWindow).
			WithDelay(cfg.BreakerDelay).
			WithSuccessThreshold(cfg.BreakerProbes).
			Build()
	}
	c.idempotent = c.executor(false)
	c.naive = c.executor(true)
	m, err := newMetrics(cfg.Registerer, cfg.Peer, c.breaker)
	if err != nil {
		return nil, fmt.Errorf("remote: metrics of %s: %w", cfg.Peer, err)
	}
	c.m = m
	return c, nil
}

// Mistakes are the classic mistakes of remote calls, switched on for a call at run time
// ([Config.Mistakes]) as well as for every call (the Config fields of the same names).
type Mistakes struct {
	// NoTimeout: no deadline, per attempt or per call.
	NoTimeout bool
	// NaiveRetries: retry at once, without backoff or budget, up to NaiveMaxAttempts.
	NaiveRetries bool
	// NoBreaker: send every attempt whatever the peer's recent failures.
	NoBreaker bool
}

// mistakes are the mistakes in force for a call starting now.
func (c *Client) mistakes() Mistakes {
	m := Mistakes{NoTimeout: c.cfg.NoTimeout, NaiveRetries: c.cfg.NaiveRetries, NoBreaker: c.cfg.NoBreaker}
	if c.cfg.Mistakes != nil {
		dyn := c.cfg.Mistakes()
		m.NoTimeout, m.NaiveRetries, m.NoBreaker = m.NoTimeout || dyn.NoTimeout, m.NaiveRetries || dyn.NaiveRetries, m.NoBreaker || dyn.NoBreaker
	}
	return m
}

// executor is the retry (and hedging) policy of idempotent calls, naive or not.
func (c *Client) executor(naive bool) failsafe.Executor[[]byte] {
	cfg := c.cfg
	retries := retrypolicy.NewBuilder[[]byte]().
		HandleIf(func(_ []byte, err error) bool { return retryable(err) }).
		ReturnLastFailure()
	if naive {
		retries = retries.WithMaxAttempts(cfg.NaiveMaxAttempts)
	} else {
		retries = retries.WithMaxAttempts(cfg.MaxAttempts).
			WithBackoff(cfg.BackoffMin, cfg.BackoffMax).
			WithJitterFactor(cfg.Jitter)
	}
	policies := []failsafe.Policy[[]byte]{retries.Build()}
	if cfg.HedgeDelay > 0 {
		policies = append(policies, hedgepolicy.NewBuilderWithDelay[[]byte](cfg.HedgeDelay).
			WithMaxHedges(cfg.MaxHedges).
			WithBudget(budget.NewBuilder().WithMaxRate(cfg.HedgeBudget).WithMinConcurrency(1).Build()).
			Build())
	}
	return failsafe.With(policies...)
}

func spanName(peer, method, route string) string { return peer + " " + method + " " + route }

type idempotencyKey struct{}

// WithIdempotencyKey returns ctx whose calls send key as the Idempotency-Key header, which lets a
// POST be retried and hedged: the peer must answer a repeated key with the first answer.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

// call is one logical call on its way through the attempts.
type call struct {
	mistakes            Mistakes // the classic mistakes in force for this call
	method, route, path string
	payload             []byte
	idemKey             string
	attempts            atomic.Int64
	last                atomic.Pointer[endpoint] // the Balancer's pick for the latest attempt
}

// attempt is what the transport's span needs to know of the attempt it carries.
type attempt struct {
	route string
	n     int64
	hedge bool
}

type attemptKey struct{}

func attemptFrom(ctx context.Context) attempt {
	a, _ := ctx.Value(attemptKey{}).(attempt)
	return a
}

// Do calls the peer: method on path (appended to BaseURL, or to the endpoint the Balancer picks
// for each attempt), body sent as JSON unless nil, the answer decoded as JSON into out unless
// nil or empty. route is the path's pattern, such as "/users/{id}", for span names and metrics.
// GET, HEAD, PUT, DELETE and OPTIONS calls, and POSTs under [WithIdempotencyKey], are retried
// and hedged; other calls make one attempt. ctx bounds the call along with Deadline.
//
// Its errors wrap [ErrCircuitOpen], [ErrBulkheadFull], [ErrBudgetExhausted] or [ErrTimeout], or
// are a [*StatusError] for a non-2xx answer, or the transport's error.
func (c *Client) Do(ctx context.Context, method, route, path string, body, out any) error {
	start := time.Now()
	ctx, span := c.tracer.Start(ctx, "call "+spanName(c.cfg.Peer, method, route), trace.WithSpanKind(trace.SpanKindInternal))
	defer span.End()
	mistakes := c.mistakes()
	if !mistakes.NoTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Deadline)
		defer cancel()
	}
	cl := &call{mistakes: mistakes, method: method, route: route, path: path}
	cl.idemKey, _ = ctx.Value(idempotencyKey{}).(string)
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("remote: %s %s: encode body: %w", method, route, err)
		}
		cl.payload = b
	}
	c.budget.deposit()

	var answer []byte
	var err error
	if isIdempotent(method, cl.idemKey) {
		exec := c.idempotent
		if mistakes.NaiveRetries {
			exec = c.naive
		}
		answer, err = exec.WithContext(ctx).GetWithExecution(func(exec failsafe.Execution[[]byte]) ([]byte, error) {
			return c.attempt(exec.Context(), cl, !exec.IsHedge() && exec.IsRetry(), exec.IsHedge())
		})
	} else {
		answer, err = c.attempt(ctx, cl, false, false)
	}
	if err != nil && !errors.Is(err, ErrTimeout) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w: call deadline: %w", ErrTimeout, err)
	}
	if err == nil && out != nil && len(answer) > 0 {
		if jerr := json.Unmarshal(answer, out); jerr != nil {
			err = fmt.Errorf("remote: %s %s: decode answer: %w", method, route, jerr)
		}
	}

	outcome := "ok"
	if err != nil {
		outcome = "error"
		span.SetStatus(codes.Error, err.Error())
		c.m.calls.WithLabelValues(route, errorType(err)).Inc()
	} else {
		c.m.calls.WithLabelValues(route, outcome).Inc()
	}
	span.SetAttributes(attrAttempts.Int64(cl.attempts.Load()), attrOutcome.String(outcome))
	c.m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	return err
}

func isIdempotent(method, idemKey string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	case http.MethodPost, http.MethodPatch:
		return idemKey != ""
	}
	return false
}

// attempt sends one attempt, unless the budget, the breaker or the bulkhead refuse it.
func (c *Client) attempt(ctx context.Context, cl *call, retry, hedge bool) ([]byte, error) {
	a := attempt{route: cl.route, n: cl.attempts.Add(1), hedge: hedge}
	kind := "first"
	switch {
	case hedge:
		kind = "hedge"
	case retry:
		kind = "retry"
	}
	if !cl.mistakes.NoTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	ctx = context.WithValue(ctx, attemptKey{}, a)

	answer, err := c.send(ctx, cl, retry)
	result := "ok"
	if err != nil {
		result = errorType(err)
	}
	c.m.attempts.WithLabelValues(cl.route, kind, result).Inc()
	return answer, err
}

func (c *Client) send(ctx context.Context, cl *call, retry bool) ([]byte, error) {
	if retry && !cl.mistakes.NaiveRetries && !c.budget.withdraw() {
		c.m.budget.Inc()
		return nil, c.refused(ctx, cl, ErrBudgetExhausted)
	}
	breaker := c.breaker
	if cl.mistakes.NoBreaker {
		breaker = nil
	}
	if breaker != nil && !breaker.TryAcquirePermit() {
		return nil, c.refused(ctx, cl, ErrCircuitOpen)
	}
	if !c.bulkhead.TryAcquirePermit() {
		if breaker != nil {
			// The permit taken was not used: give it back without judging the peer.
			breaker.RecordSuccess()
		}
		return nil, c.refused(ctx, cl, ErrBulkheadFull)
	}
	defer c.bulkhead.ReleasePermit()

	base, ep := c.base, (*endpoint)(nil)
	if c.cfg.Balancer != nil {
		// A retry or hedge goes elsewhere than the attempt before it, if it can.
		ep = c.cfg.Balancer.pick(cl.last.Load())
		cl.last.Store(ep)
		base = ep.url
	}
	answer, err := c.exchange(ctx, cl, base+cl.path)
	ejected := ep != nil && c.cfg.Balancer.release(ep, err)
	if breaker != nil {
		// What is worth retrying counts against the peer; a refusal of ours, an attempt the call
		// stopped needing, the request's own fault (4xx) and a replica the balancer ejected
		// while others are healthy do not.
		if retryable(err) && !ejected {
			breaker.RecordFailure()
		} else {
			breaker.RecordSuccess()
		}
	}
	return answer, err
}

// exchange makes the HTTP request to target and reads the answer, within ctx's deadline.
func (c *Client) exchange(ctx context.Context, cl *call, target string) ([]byte, error) {
	var body io.Reader
	if cl.payload != nil {
		body = bytes.NewReader(cl.payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("remote: %s %s: %w", cl.method, cl.route, err)
	}
	req.Header.Set("Accept", "application/json")
	if cl.payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.idemKey != "" {
		req.Header.Set(IdempotencyKeyHeader, cl.idemKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{Code: resp.StatusCode, Body: string(answer[:min(len(answer), 200)])}
	}
	return answer, nil
}

// refused records the span of an attempt that was never sent and returns its error. With a
// Balancer no endpoint was picked: the span names none.
func (c *Client) refused(ctx context.Context, cl *call, err error) error {
	a := attemptFrom(ctx)
	attrs := []attribute.KeyValue{attrPeer.String(c.cfg.Peer), attribute.String("http.request.method", cl.method),
		attrErrorType.String(errorType(err))}
	if c.base != "" {
		attrs = append(append(attrs, attribute.String("url.full", c.base+cl.path)), c.server...)
	}
	_, span := c.tracer.Start(ctx, spanName(c.cfg.Peer, cl.method, cl.route), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append(attrs, attemptAttrs(ctx, a)...)...))
	span.SetStatus(codes.Error, err.Error())
	span.End()
	return err
}

// serverAttrs are base's server.address and server.port (when explicit), as otelhttp gives
// the attempts it sends; none for "".
func serverAttrs(base string) []attribute.KeyValue {
	u, err := url.Parse(base)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	attrs := []attribute.KeyValue{attribute.String("server.address", u.Hostname())}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		attrs = append(attrs, attribute.Int("server.port", p))
	}
	return attrs
}

func attemptAttrs(ctx context.Context, a attempt) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attrAttempt.Int64(a.n), attrHedge.Bool(a.hedge)}
	if dl, ok := ctx.Deadline(); ok {
		attrs = append(attrs, attrDeadlineMS.Float64(float64(time.Until(dl))/float64(time.Millisecond)))
	}
	return attrs
}

// retryable says whether a failed attempt may succeed if sent again.
func retryable(err error) bool {
	if err == nil || errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrBulkheadFull) ||
		errors.Is(err, ErrBudgetExhausted) || errors.Is(err, errCanceled) {
		return false
	}
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.retryable()
	}
	return true
}

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// annotator is the transport under otelhttp: it gives each attempt's client span the
// contract's attributes and its errors the contract's error.type.
type annotator struct{ next http.RoundTripper }

func (t annotator) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	trace.SpanFromContext(ctx).SetAttributes(attemptAttrs(ctx, attemptFrom(ctx))...)
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, typedError{classify(ctx, err)}
	}
	resp.Body = &typedBody{ReadCloser: resp.Body, ctx: ctx}
	return resp, nil
}

// classify names a transport error after the attempt's context: its deadline passed (timeout)
// or the call stopped needing it (canceled).
func classify(ctx context.Context, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %w", errCanceled, err)
	}
	return err
}

// typedBody classifies the errors of reading an answer, as annotator does a request's.
type typedBody struct {
	io.ReadCloser
	ctx context.Context
}

func (b *typedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, typedError{classify(b.ctx, err)}
	}
	return n, err
}
