package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/lab/edge/httpcache"
	"github.com/headroom/headroom/lab/internal/statuswriter"
	"github.com/headroom/headroom/lab/isolate"
	"github.com/headroom/headroom/lab/netem"
)

// ErrConfig is wrapped by the errors of a bad [Config].
var ErrConfig = errors.New("edge: invalid configuration")

// ListenDefault is where the links listen by default: a free loopback port.
const ListenDefault = "127.0.0.1:0"

// Config configures [Start].
type Config struct {
	// Origin is the origin's plain HTTP address, host:port (the lab). Required.
	Origin string
	// OriginB is a second origin pool, where the filter function routes a path prefix or a share
	// of users (A/B). Default: Origin (the same servers under another pool name).
	OriginB string
	// Geography is the network around the node; see [Geography] for its defaults.
	Geography Geography
	// Listen is where users reach the edge: the user ↔ edge link's address. Default [ListenDefault].
	Listen string
	// DirectListen is where users reach the origin without the edge, across both distances.
	// Default [ListenDefault].
	DirectListen string
	// OriginPlain has the node reach the origin over plain HTTP. Default false: TLS 1.3 through
	// a TLS front of the origin, as CDNs reach origins.
	OriginPlain bool
	// NoKeepAlive opens a new connection to the origin for every request. Default false: idle
	// connections are kept and reused, as CDNs do.
	NoKeepAlive bool
	// Functions run per request, in order, before the cache and the origin (request phase) or
	// on their answer (response phase); see [Function]. Default none.
	Functions []Function
	// Isolates is the runtime the Functions were loaded into (its pool is a metric). Required
	// with Functions.
	Isolates *isolate.Runtime
	// IdentityKey signs the identity a function verified (auth) into IdentityHeader for the
	// origin (identity.Sign). Default nil: no identity is forwarded.
	IdentityKey []byte
	// Cache is the node's shared HTTP cache, between the stages and the origin. Default nil: every
	// request goes to the origin, as through a plain reverse proxy.
	Cache *httpcache.Cache

	// TracerProvider makes the node's spans. Default: no spans.
	TracerProvider trace.TracerProvider
	// Propagator carries trace context to the origin. Default W3C trace context.
	Propagator propagation.TextMapPropagator
	// Registerer takes the node's metrics. Default: not registered.
	Registerer prometheus.Registerer
	// Log receives errors. Default: discarded.
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	c.Geography = c.Geography.WithDefaults()
	if c.OriginB == "" {
		c.OriginB = c.Origin
	}
	if c.Listen == "" {
		c.Listen = ListenDefault
	}
	if c.DirectListen == "" {
		c.DirectListen = ListenDefault
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
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c *Config) validate() error {
	var errs []error
	for _, a := range []struct{ field, addr string }{{"Origin", c.Origin}, {"OriginB", c.OriginB}, {"Listen", c.Listen}, {"DirectListen", c.DirectListen}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fielderr.New(ErrConfig, a.field, "%q: want host:port", a.addr))
		}
	}
	if len(c.Functions) > 0 && c.Isolates == nil {
		errs = append(errs, fielderr.New(ErrConfig, "Isolates", "nil: the runtime of the %d functions is required", len(c.Functions)))
	}
	return errors.Join(append(errs, c.Geography.validate())...)
}

// originPool names an origin pool.
type originPool string

// The origin pools.
const (
	poolMain originPool = "main"
	poolB    originPool = "b"
)

// answerer says who answered a request at the edge: the cache, the origin, or a function.
type answerer string

// The answerers besides functions ("function:NAME").
const (
	answeredByCache  answerer = "cache"
	answeredByOrigin answerer = "origin"
)

// exchange is one request on its way through the node; its stages read and change it.
type exchange struct {
	// Pool is where the origin fetch goes. Default poolMain.
	Pool originPool
	// AnsweredBy is set by the stage that answers.
	AnsweredBy answerer
	// Attrs are added to the request's span.
	Attrs []attribute.KeyValue
}

// stage is one step of the node's chain (an edge function): it may answer the request itself or
// pass it on to next, changing the request first or the response after.
type stage interface {
	Serve(w http.ResponseWriter, r *http.Request, x *exchange, next http.Handler)
}

// Info says where a started node and its links listen.
type Info struct {
	URL       string `json:"url"`        // users → edge, across the user link
	DirectURL string `json:"direct_url"` // users → origin, across both distances
	NodeURL   string `json:"node_url"`   // the node itself, no link: its own cost alone
	OriginVia string `json:"origin_via"` // how the node reaches the origin
	Geography string `json:"geography"`
}

// Node is a running edge node with its links.
type Node struct {
	cfg     Config
	info    Info
	srv     *http.Server
	served  chan error
	metrics *metrics
	closers []func(context.Context) error
	proxy   http.Handler
	stages  []stage
}

// Start starts the node, its links and (unless OriginPlain) the origin's TLS front, and returns
// once all accept connections. Stop it with [Node.Close].
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = n.Close(context.WithoutCancel(ctx))
		}
	}()
	if n.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	if n.proxy, err = n.originProxy(); err != nil {
		return nil, err
	}
	tracer := cfg.TracerProvider.Tracer("github.com/headroom/headroom/lab/edge")
	for _, f := range cfg.Functions {
		// Every error series exists from the start, at 0, so a rate over it is 0 and not absent.
		for _, reason := range []string{"cpu_limit", "memory_limit", "busy", "error"} {
			n.metrics.functionErrors.WithLabelValues(f.Fn.Name(), reason)
		}
		n.stages = append(n.stages, &functionStage{f: f, name: f.Fn.Name(), identityKey: cfg.IdentityKey,
			maxBody: cfg.Isolates.Config().MaxBodyBytes, tracer: tracer, m: n.metrics})
	}
	if cfg.Isolates != nil {
		if err := n.metrics.watchIsolates(cfg.Registerer, cfg.Isolates); err != nil {
			return nil, err
		}
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("edge: listen: %w", err)
	}
	h := otelhttp.NewHandler(n, "edge",
		otelhttp.WithTracerProvider(cfg.TracerProvider), otelhttp.WithPropagators(cfg.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "edge " + r.Method + " " + r.URL.Path }))
	n.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn)}
	go func() { n.served <- n.srv.Serve(ln) }()
	n.onClose(func(ctx context.Context) error { return n.srv.Shutdown(ctx) })
	n.info.NodeURL = "http://" + ln.Addr().String()

	g := cfg.Geography
	user, err := netem.Start(netem.Config{Listen: cfg.Listen, Upstream: ln.Addr().String(), Up: oneWay(g.UserRTT, g.UserJitter), Down: oneWay(g.UserRTT, g.UserJitter)})
	if err != nil {
		return nil, err
	}
	n.onClose(func(context.Context) error { return user.Close() })
	n.info.URL = "http://" + user.Addr()
	direct, err := netem.Start(netem.Config{Listen: cfg.DirectListen, Upstream: cfg.Origin, Up: g.direct(), Down: g.direct()})
	if err != nil {
		return nil, err
	}
	n.onClose(func(context.Context) error { return direct.Close() })
	n.info.DirectURL = "http://" + direct.Addr()
	n.info.Geography = fmt.Sprintf("user ↔ edge %v ~%v RTT, edge ↔ origin %v ~%v RTT, user → origin direct %v ~%v RTT",
		g.UserRTT, g.UserJitter, g.OriginRTT, g.OriginJitter, g.UserRTT+g.OriginRTT, g.UserJitter+g.OriginJitter)
	return n, nil
}

// originProxy is the last stage: the reverse proxy to the origin pools across the edge ↔ origin
// link, over TLS unless OriginPlain, with connections kept alive unless NoKeepAlive.
func (n *Node) originProxy() (http.Handler, error) {
	cfg := n.cfg
	g := cfg.Geography
	link := &netem.Dialer{Up: oneWay(g.OriginRTT, g.OriginJitter), Down: oneWay(g.OriginRTT, g.OriginJitter), Handshake: true}
	n.onClose(func(context.Context) error { return link.Close() })
	tr := &http.Transport{
		DialContext:         link.DialContext,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableKeepAlives:   cfg.NoKeepAlive,
		ForceAttemptHTTP2:   false, // HTTP/1.1 to the origin, as the lab serves it
	}
	n.onClose(func(context.Context) error { tr.CloseIdleConnections(); return nil })
	scheme := "http"
	targets := map[originPool]string{poolMain: cfg.Origin, poolB: cfg.OriginB}
	if !cfg.OriginPlain {
		scheme = "https"
		cert, pool, err := selfSigned()
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
		for _, p := range []originPool{poolMain, poolB} {
			if p == poolB && cfg.OriginB == cfg.Origin {
				targets[poolB] = targets[poolMain]
				continue
			}
			front, err := startOriginTLS(targets[p], cert)
			if err != nil {
				return nil, err
			}
			n.onClose(front.Close)
			targets[p] = front.Addr()
		}
	}
	n.info.OriginVia = fmt.Sprintf("%s, connections %s", map[string]string{"http": "plain HTTP/1.1", "https": "HTTP/1.1 over TLS 1.3"}[scheme],
		map[bool]string{false: "kept alive and reused", true: "new per request"}[cfg.NoKeepAlive])
	// Inside otelhttp's transport, where the request's context holds the client span.
	labelled := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("edge.origin.pool", string(poolOf(r.Context()))))
		return tr.RoundTrip(r)
	})
	client := otelhttp.NewTransport(labelled, otelhttp.WithTracerProvider(cfg.TracerProvider), otelhttp.WithPropagators(cfg.Propagator),
		otelhttp.WithSpanNameFormatter(func(string, *http.Request) string { return "edge → origin" }),
		otelhttp.WithSpanOptions(trace.WithAttributes(attribute.String("peer.service", "origin"))))
	fetch := func(r *http.Request) (*http.Response, error) {
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host = scheme, targets[poolOf(r.Context())]
		out.Host, out.RequestURI = out.URL.Host, ""
		for _, h := range hopByHop {
			out.Header.Del(h)
		}
		if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			out.Header.Set("X-Forwarded-For", ip)
		}
		start := time.Now()
		resp, err := client.RoundTrip(out)
		n.metrics.origin.WithLabelValues(string(poolOf(r.Context()))).Observe(time.Since(start).Seconds())
		if err != nil {
			n.metrics.originErrors.Inc()
			cfg.Log.WarnContext(r.Context(), "origin fetch failed", slog.Any("error", err))
		}
		return resp, err
	}
	if cfg.Cache != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res := cfg.Cache.Serve(w, r, httpcache.FetcherFunc(fetch))
			x := exchangeOf(r.Context())
			if res.Hit {
				x.AnsweredBy = answeredByCache
			}
			x.Attrs = append(x.Attrs, attribute.String("edge.cache.status", res.Status), attribute.Bool("edge.cache.hit", res.Hit),
				attribute.Bool("edge.cache.storable", res.Storable), attribute.String("edge.cache.key", res.Key))
			n.metrics.cache.WithLabelValues(string(res.Outcome)).Inc()
		}), nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := fetch(r)
		if err != nil {
			http.Error(w, "edge: origin unreachable", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		maps.Copy(w.Header(), resp.Header)
		for _, h := range hopByHop {
			w.Header().Del(h)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}), nil
}

// hopByHop are the headers of one connection (RFC 9110 §7.6.1), never forwarded.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

type exchangeKey struct{}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// poolOf is the pool a request's exchange chose, poolMain by default.
func poolOf(ctx context.Context) originPool {
	if x := exchangeOf(ctx); x != nil && x.Pool != "" {
		return x.Pool
	}
	return poolMain
}

func exchangeOf(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// IdentityHeader carries the identity the edge verified to the origin; a user's copy is dropped.
const IdentityHeader = "Headroom-Edge-Identity"

// ServeHTTP runs the stages, then the origin.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Header.Del(IdentityHeader)
	x := &exchange{Pool: poolMain}
	r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
	sw := statuswriter.New(w)
	next := n.proxy
	for _, s := range slices.Backward(n.stages) {
		next = stageHandler{s, x, next}
	}
	next.ServeHTTP(sw, r)
	if x.AnsweredBy == "" {
		x.AnsweredBy = answeredByOrigin
	}
	span := trace.SpanFromContext(r.Context())
	span.SetAttributes(append(x.Attrs, attribute.String("headroom.tier", "edge"),
		attribute.String("url.path", r.URL.Path), attribute.String("edge.answered_by", string(x.AnsweredBy)))...)
	n.metrics.requests.WithLabelValues(routeOf(r.URL.Path), string(x.AnsweredBy), strconv.Itoa(sw.Status())).Inc()
}

// stageHandler is a stage bound to its exchange and its next step.
type stageHandler struct {
	s    stage
	x    *exchange
	next http.Handler
}

func (h stageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.s.Serve(w, r, h.x, h.next) }

// routeOf is a path's first segment, a bounded label for metrics.
func routeOf(path string) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch seg {
	case "api", "static", "page", "admin", "edge":
		return "/" + seg
	}
	return "/other"
}

// Info says where the node and its links listen.
func (n *Node) Info() Info { return n.info }

// Done receives the server's error if it stops on its own.
func (n *Node) Done() <-chan error { return n.served }

func (n *Node) onClose(f func(context.Context) error) { n.closers = append(n.closers, f) }

// Close stops the links, drains the node's in-flight requests (bounded by ctx) and closes the
// connections to the origin.
func (n *Node) Close(ctx context.Context) error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i](ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	n.closers = nil
	return errors.Join(errs...)
}
