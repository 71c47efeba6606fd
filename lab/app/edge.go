package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/felixge/fgprof"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/edge/functions"
	"github.com/headroom/headroom/lab/edge/httpcache"
	"github.com/headroom/headroom/lab/identity"
	"github.com/headroom/headroom/lab/isolate"
	"github.com/headroom/headroom/lab/telemetry"
)

// EdgeConfig configures an edge tier (Config.Edge, or StartEdge). Its EdgeEnv fills in the
// node's origin, keys, telemetry and metrics; the rest is the caller's.
type EdgeConfig struct {
	// Node configures the edge node and its links; Origin, Cache, Functions, Isolates,
	// IdentityKey, TracerProvider, Propagator, Registerer and Log are set by StartEdge.
	Node edge.Config
	// NoCache leaves the node without its HTTP cache. Default false: cached per RFC 9111.
	NoCache bool
	// Cache configures the node's cache (its size and windows; see httpcache.Config).
	Cache httpcache.Config
	// Functions are the edge functions to run (of functions.Names()), in the order they run.
	// Nil: all of them, in EdgeFunctionsDefault's order; empty: none (a plain CDN node).
	Functions []string
	// AuthPaths are the path prefixes the auth function guards. Default [EdgeAuthPathsDefault].
	AuthPaths []string
	// Isolates configures the functions' runtime (memory cap, CPU limit, node budget, compile
	// cache); its JWT keys, fetch origins and variables are set by StartEdge.
	Isolates isolate.Config
	// Vars are the functions' variables, by function then name (filter's rate, rules, b_percent,
	// …; docs/lab.md lists them), over EdgeVarsDefault.
	Vars map[string]map[string]string
}

// EdgeVarsDefault are the lab's own function variables: no per-client rate limit, since a load
// generator is one client (every request reaches the node from the user link's address);
// turn it on with filter.rate.
var EdgeVarsDefault = map[string]map[string]string{"filter": {"rate": "0"}}

// EdgeFunctionsDefault is the order the edge functions run in: cheap rejections first (filter,
// then auth), then the request's language, then the answer's customization.
var EdgeFunctionsDefault = []string{"filter", "auth", "locale", "prefs"}

// EdgeAuthPathsDefault are the paths the auth function guards by default: the routes that check
// a session at the origin.
var EdgeAuthPathsDefault = []string{"/api/me"}

// edgeFunctionRoutes says where each shipped function runs.
var edgeFunctionRoutes = map[string]edge.Function{
	"filter": {},
	"auth":   {}, // Prefixes: AuthPaths
	"locale": {Prefixes: []string{"/page/"}},
	"prefs":  {Prefixes: []string{"/page/"}, OnResponse: true},
}

// EdgeEnv is what an edge tier takes from its surroundings: the origin it fronts, the keys it
// shares with it, and where its telemetry goes.
type EdgeEnv struct {
	// Origin is the origin's plain HTTP address, host:port.
	Origin string
	// Keys are the origin's token and identity keys (identity.Keys; a keys file shares them
	// between processes).
	Keys identity.Keys
	// OTLP, SpanProcessors, Log and LogLevel are as in Config.
	OTLP           string
	SpanProcessors []sdktrace.SpanProcessor
	Log            io.Writer
	LogLevel       slog.Level
	// Registerer takes the edge's metrics.
	Registerer prometheus.Registerer
}

// Edge is a running edge tier: the node with its links, its cache and its isolates.
type Edge struct {
	node    *edge.Node
	cache   *httpcache.Cache // nil with NoCache
	closers []func(context.Context) error
}

// StartEdge starts an edge tier in front of env.Origin: the functions compiled (from the
// compilation cache when it has them) before the node accepts requests, so compiling is never
// on a request's path. It is what Config.Edge starts in process, and what `headroom lab edge`
// runs on its own, apart from the origin's CPU.
func StartEdge(ctx context.Context, ec EdgeConfig, env EdgeEnv) (_ *Edge, err error) {
	e := &Edge{}
	defer func() {
		if err != nil {
			_ = e.Close(context.WithoutCancel(ctx))
		}
	}()
	nc := ec.Node
	nc.Origin = env.Origin
	if !ec.NoCache {
		if e.cache, err = httpcache.New(ec.Cache); err != nil {
			return nil, fmt.Errorf("%w: edge cache: %w", ErrInvalidConfig, err)
		}
		e.onClose(e.cache.Close)
		nc.Cache = e.cache
	}
	tel, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: "headroom-edge", OTLPEndpoint: env.OTLP, SpanProcessors: env.SpanProcessors})
	if err != nil {
		return nil, err
	}
	e.onClose(tel.Shutdown)
	if nc.Isolates, nc.Functions, err = e.loadFunctions(ctx, ec, env); err != nil {
		return nil, err
	}
	nc.IdentityKey = env.Keys.Identity
	nc.TracerProvider, nc.Propagator, nc.Registerer = tel.TracerProvider, tel.Propagator, env.Registerer
	nc.Log = telemetry.NewLogger(env.Log, env.LogLevel)
	if e.node, err = edge.Start(ctx, nc); err != nil {
		return nil, err
	}
	e.onClose(e.node.Close)
	return e, nil
}

// loadFunctions starts the isolate runtime and loads the configured functions into it.
func (e *Edge) loadFunctions(ctx context.Context, ec EdgeConfig, env EdgeEnv) (*isolate.Runtime, []edge.Function, error) {
	names := ec.Functions
	if names == nil {
		names = EdgeFunctionsDefault
	}
	if len(names) == 0 {
		return nil, nil, nil
	}
	authPaths := ec.AuthPaths
	if len(authPaths) == 0 {
		authPaths = EdgeAuthPathsDefault
	}
	for _, name := range names {
		if _, ok := edgeFunctionRoutes[name]; !ok {
			return nil, nil, fmt.Errorf("%w: edge function %q: want one of %s", ErrInvalidConfig, name, strings.Join(functions.Names(), ", "))
		}
	}
	ic := ec.Isolates
	ic.JWT = isolate.JWTConfig{EdDSA: env.Keys.Public(), HS256: env.Keys.HS256, Issuer: identity.Issuer}
	ic.FetchOrigins = []string{"http://" + env.Origin}
	ic.Vars = map[string]map[string]string{"auth": {"protected": strings.Join(authPaths, ",")}}
	for _, vars := range []map[string]map[string]string{EdgeVarsDefault, ec.Vars} {
		for fn, kv := range vars {
			if ic.Vars[fn] == nil {
				ic.Vars[fn] = map[string]string{}
			}
			maps.Copy(ic.Vars[fn], kv)
		}
	}
	rt, err := isolate.New(ctx, ic)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: edge isolates: %w", ErrInvalidConfig, err)
	}
	e.onClose(rt.Close)
	var fns []edge.Function
	for _, name := range names {
		wasm, err := functions.Module(name)
		if err != nil {
			return nil, nil, err
		}
		f, err := rt.Load(ctx, name, wasm)
		if err != nil {
			return nil, nil, err
		}
		route := edgeFunctionRoutes[name]
		route.Fn = f
		if name == "auth" {
			route.Prefixes = authPaths
		}
		fns = append(fns, route)
	}
	return rt, fns, nil
}

func (e *Edge) onClose(f func(context.Context) error) { e.closers = append(e.closers, f) }

// Info says where the edge and its links listen.
func (e *Edge) Info() edge.Info { return e.node.Info() }

// Close stops the node first (draining its requests), then the isolates, the cache and the
// telemetry (flushing the edge's spans).
func (e *Edge) Close(ctx context.Context) error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i](ctx))
	}
	e.closers = nil
	return errors.Join(errs...)
}

// ServePurge answers POST /admin/edge/purge?url=URL|prefix=PATH|all=1: removes stored responses
// from the edge's cache and says how many.
func (e *Edge) ServePurge(w http.ResponseWriter, r *http.Request) {
	if e == nil || e.cache == nil {
		http.Error(w, `{"error":"no edge cache here (start the lab with --edge, without --edge-no-cache)"}`, http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	var n int
	var err error
	switch {
	case q.Get("url") != "":
		n, err = e.cache.Purge(q.Get("url"))
	case q.Get("prefix") != "":
		n, err = e.cache.PurgePrefix(q.Get("prefix"))
	case q.Get("all") == "1":
		n = e.cache.PurgeAll()
	default:
		err = errors.New("want ?url=URL, ?prefix=/PATH or ?all=1")
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]int{"purged": n})
}

// startEdge starts the edge tier in front of the lab's listener, with its own service name in
// the traces and its series on the lab's /metrics.
func (a *App) startEdge(ctx context.Context, reg prometheus.Registerer) error {
	e, err := StartEdge(ctx, *a.cfg.Edge, EdgeEnv{Origin: a.ln.Addr().String(), Keys: a.keys, OTLP: a.cfg.OTLP,
		SpanProcessors: a.cfg.SpanProcessors, Log: a.cfg.Log, LogLevel: a.cfg.LogLevel, Registerer: reg})
	if err != nil {
		return err
	}
	a.edge.Store(e)
	info := e.Info()
	a.info.Edge = &info
	return nil
}

// EdgeLines is the edge's part of the banner, one line each; none without an edge.
func (i Info) EdgeLines() []string {
	if i.Edge == nil {
		return nil
	}
	e := i.Edge
	return []string{
		"edge (users)   " + e.URL + "  (" + e.Geography + ")",
		"direct         " + e.DirectURL + "  (users → origin without the edge)",
		"edge node      " + e.NodeURL + "  (no link: the edge's own cost)",
		"edge → origin  " + e.OriginVia,
	}
}

// EdgeAlone configures [RunEdge]: an edge tier in a process of its own, in front of a lab
// elsewhere, so that the edge's CPU and the origin's are measured apart.
type EdgeAlone struct {
	// Edge configures the tier.
	Edge EdgeConfig
	// Origin is the lab's address, host:port. Required.
	Origin string
	// KeysFile is the lab's keys file (its --edge-keys), read to verify its tokens and vouch
	// for identities it trusts. Required.
	KeysFile string
	// AdminAddr serves GET /metrics, and to loopback clients POST /admin/edge/purge, pprof
	// (/debug/pprof/) and fgprof (/debug/fgprof).
	// Default [EdgeAdminAddrDefault].
	AdminAddr string
	// OTLP, Log and LogLevel are as in Config.
	OTLP     string
	Log      io.Writer
	LogLevel slog.Level
}

// EdgeAdminAddrDefault is EdgeAlone.AdminAddr's default.
const EdgeAdminAddrDefault = "127.0.0.1:8083"

// RunEdge starts an edge tier on its own, calls started with where it listens and where its
// admin endpoints are, and serves until ctx ends.
func RunEdge(ctx context.Context, cfg EdgeAlone, started func(info edge.Info, admin string)) error {
	if cfg.AdminAddr == "" {
		cfg.AdminAddr = EdgeAdminAddrDefault
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	if _, _, err := net.SplitHostPort(cfg.Origin); err != nil {
		return fmt.Errorf("%w: origin %q: want the lab's host:port", ErrInvalidConfig, cfg.Origin)
	}
	if cfg.KeysFile == "" {
		return fmt.Errorf("%w: keys file: required, the lab's --edge-keys FILE", ErrInvalidConfig)
	}
	keys, err := identity.LoadKeys(cfg.KeysFile)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e, err := StartEdge(ctx, cfg.Edge, EdgeEnv{Origin: cfg.Origin, Keys: keys, OTLP: cfg.OTLP, Log: cfg.Log, LogLevel: cfg.LogLevel, Registerer: reg})
	if err != nil {
		return err
	}
	defer func() { _ = e.Close(context.WithoutCancel(ctx)) }()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: reg}))
	loopbackOnly := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !api.IsLoopback(r.RemoteAddr) {
				http.Error(w, `{"error":"admin and debug endpoints answer loopback clients only"}`, http.StatusForbidden)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("POST /admin/edge/purge", loopbackOnly(e.ServePurge))
	mux.HandleFunc("/debug/pprof/", loopbackOnly(pprof.Index))
	mux.HandleFunc("/debug/pprof/profile", loopbackOnly(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", loopbackOnly(pprof.Symbol))
	mux.HandleFunc("/debug/pprof/trace", loopbackOnly(pprof.Trace))
	mux.Handle("/debug/fgprof", loopbackOnly(fgprof.Handler().ServeHTTP))
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.AdminAddr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if started != nil {
		started(e.Info(), "http://"+ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	_ = srv.Shutdown(context.WithoutCancel(ctx))
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
