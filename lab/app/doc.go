// Package app wires the lab together: storage, seeding, the simulated outside world, the cache,
// telemetry and the HTTP API behind one listener that also serves /metrics, /debug/pprof and
// /debug/fgprof. cmd/headroom maps flags onto [Config]; tests start the lab with [Start].
//
// It must not import headroom's measurement packages: the lab is reached over the wire only.
package app
