package cli

import (
	"github.com/spf13/pflag"

	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/edge/httpcache"
)

// edgeFlags are lab's --edge-… flags.
type edgeFlags struct {
	on, noCache bool
	cacheMB     int64
	node        edge.Config
}

func addEdgeFlags(f *pflag.FlagSet) *edgeFlags {
	e := &edgeFlags{}
	g := &e.node.Geography
	f.BoolVar(&e.on, "edge", false, "start the edge tier in front of the lab: an edge node (cache, edge functions) with a user link and a long link to the origin, and a direct user → origin link")
	f.StringVar(&e.node.Listen, "edge-addr", "127.0.0.1:8081", "where users reach the edge (the user ↔ edge link)")
	f.StringVar(&e.node.DirectListen, "direct-addr", "127.0.0.1:8082", "where users reach the origin without the edge (both distances)")
	f.DurationVar(&g.UserRTT, "edge-user-rtt", edge.UserRTTDefault, "round trip between users and the edge node")
	f.DurationVar(&g.UserJitter, "edge-user-jitter", edge.UserJitterDefault, "most the user round trip varies either way")
	f.DurationVar(&g.OriginRTT, "edge-origin-rtt", edge.OriginRTTDefault, "round trip between the edge node and the origin (default: another continent)")
	f.DurationVar(&g.OriginJitter, "edge-origin-jitter", edge.OriginJitterDefault, "most the origin round trip varies either way")
	f.BoolVar(&e.node.OriginPlain, "edge-origin-plain", false, "reach the origin over plain HTTP instead of TLS 1.3")
	f.BoolVar(&e.node.NoKeepAlive, "edge-no-keepalive", false, "open a new origin connection per request (TCP and TLS handshakes every time)")
	f.BoolVar(&e.noCache, "edge-no-cache", false, "run the edge node without its HTTP cache (every request reaches the origin)")
	f.Int64Var(&e.cacheMB, "edge-cache-mb", httpcache.MaxBytesDefault>>20, "size of the edge's HTTP cache in MiB (bodies, headers and keys)")
	return e
}

// config is the app's EdgeConfig, nil without --edge. The flags' values are taken as given: a 0
// round trip means none.
func (e *edgeFlags) config() *app.EdgeConfig {
	if !e.on {
		return nil
	}
	nc := e.node
	nc.Geography.Bare = true
	return &app.EdgeConfig{Node: nc, NoCache: e.noCache, Cache: httpcache.Config{MaxBytes: e.cacheMB << 20}}
}

// edgeFlagNames maps the edge's Config fields to the flags, for its errors.
var edgeFlagNames = map[string]string{
	"Listen": "--edge-addr", "DirectListen": "--direct-addr",
	"UserRTT": "--edge-user-rtt", "UserJitter": "--edge-user-jitter",
	"OriginRTT": "--edge-origin-rtt", "OriginJitter": "--edge-origin-jitter",
	"MaxBytes": "--edge-cache-mb",
}

func renameEdgeErr(err error) error { return fielderr.Rename(err, edgeFlagNames) }
