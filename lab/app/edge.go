package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/edge/httpcache"
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
