package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/edge/functions"
	"github.com/headroom/headroom/lab/edge/httpcache"
	"github.com/headroom/headroom/lab/identity"
	"github.com/headroom/headroom/lab/isolate"
	"github.com/headroom/headroom/lab/telemetry"
)

// EdgeConfig puts the edge tier in front of the lab (Config.Edge). The app fills in the node's
// origin, telemetry and metrics; the rest is the caller's.
type EdgeConfig struct {
	// Node configures the edge node and its links; Origin, Cache, TracerProvider, Propagator,
	// Registerer and Log are set by the app.
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
	// cache); its JWT keys, fetch origins and variables are set by the app.
	Isolates isolate.Config
}

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

// loadEdgeFunctions starts the isolate runtime and loads the configured functions into it.
func (a *App) loadEdgeFunctions(ctx context.Context, origin string) (*isolate.Runtime, []edge.Function, error) {
	ec := a.cfg.Edge
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
	ic := ec.Isolates
	ic.JWT = isolate.JWTConfig{EdDSA: a.keys.Public(), HS256: a.keys.HS256, Issuer: identity.Issuer}
	ic.FetchOrigins = []string{"http://" + origin}
	ic.Vars = map[string]map[string]string{"auth": {"protected": strings.Join(authPaths, ",")}}
	rt, err := isolate.New(ctx, ic)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: edge isolates: %w", ErrInvalidConfig, err)
	}
	a.onClose(rt.Close)
	var fns []edge.Function
	for _, name := range names {
		route, ok := edgeFunctionRoutes[name]
		if !ok {
			return nil, nil, fmt.Errorf("%w: edge function %q: want one of %s", ErrInvalidConfig, name, strings.Join(functions.Names(), ", "))
		}
		wasm, err := functions.Module(name)
		if err != nil {
			return nil, nil, err
		}
		f, err := rt.Load(ctx, name, wasm)
		if err != nil {
			return nil, nil, err
		}
		route.Fn = f
		if name == "auth" {
			route.Prefixes = authPaths
		}
		fns = append(fns, route)
	}
	return rt, fns, nil
}

// newEdgeCache makes the edge's cache before the routes, so the admin API can purge it.
func (a *App) newEdgeCache() error {
	if a.cfg.Edge == nil || a.cfg.Edge.NoCache {
		return nil
	}
	c, err := httpcache.New(a.cfg.Edge.Cache)
	if err != nil {
		return fmt.Errorf("%w: edge cache: %w", ErrInvalidConfig, err)
	}
	a.edgeCache = c
	a.onClose(c.Close)
	return nil
}

// servePurge answers POST /admin/edge/purge?url=URL|prefix=PATH|all=1: removes stored responses
// from the edge's cache and says how many.
func (a *App) servePurge(w http.ResponseWriter, r *http.Request) {
	if a.edgeCache == nil {
		http.Error(w, `{"error":"the lab runs without an edge cache (start it with --edge)"}`, http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	var n int
	var err error
	switch {
	case q.Get("url") != "":
		n, err = a.edgeCache.Purge(q.Get("url"))
	case q.Get("prefix") != "":
		n, err = a.edgeCache.PurgePrefix(q.Get("prefix"))
	case q.Get("all") == "1":
		n = a.edgeCache.PurgeAll()
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

// startEdge starts the edge node in front of the lab's listener, with its own service name in
// the traces and its series on the lab's /metrics.
func (a *App) startEdge(ctx context.Context, reg prometheus.Registerer) error {
	ec := a.cfg.Edge
	tel, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: "headroom-edge", OTLPEndpoint: a.cfg.OTLP, SpanProcessors: a.cfg.SpanProcessors})
	if err != nil {
		return err
	}
	a.onClose(tel.Shutdown)
	nc := ec.Node
	nc.Origin = a.ln.Addr().String()
	nc.Cache = a.edgeCache
	if nc.Isolates, nc.Functions, err = a.loadEdgeFunctions(ctx, nc.Origin); err != nil {
		return err
	}
	nc.IdentityKey = a.keys.Identity
	nc.TracerProvider, nc.Propagator, nc.Registerer = tel.TracerProvider, tel.Propagator, reg
	nc.Log = telemetry.NewLogger(a.cfg.Log, a.cfg.LogLevel)
	n, err := edge.Start(ctx, nc)
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	a.edge = n
	info := n.Info()
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
