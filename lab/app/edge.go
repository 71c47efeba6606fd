package app

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/telemetry"
)

// EdgeConfig puts the edge tier in front of the lab (Config.Edge). The app fills in the node's
// origin, telemetry and metrics; the rest is the caller's.
type EdgeConfig struct {
	// Node configures the edge node and its links; Origin, TracerProvider, Propagator,
	// Registerer and Log are set by the app.
	Node edge.Config
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
