package flame

import (
	"context"
	"sync"
	"time"

	"github.com/headroom/headroom/result"
)

// UnderLoadConfig says how UnderLoad profiles a target.
type UnderLoadConfig struct {
	// Fetch says which endpoints to fetch the profiles from and for how long (Fetch.Duration).
	Fetch FetchConfig
	// Delay is how long after the load starts the profiles begin: the load's warm-up, so that
	// they see steady traffic rather than the ramp-up. Default 0.
	Delay time.Duration
	// Dir receives the profiles and their graphs, as Set.WriteDir writes them. Required.
	Dir string
	// Hotspots sets when a function is a CPU hot spot.
	Hotspots HotspotConfig
}

// Profiled is what UnderLoad took and wrote.
type Profiled struct {
	// Set holds the profiles; a profile the target does not serve is nil, with its reason in
	// Set.CPUErr or Set.WallErr.
	Set    *Set
	Graphs []Graph
	// Files are the paths written into UnderLoadConfig.Dir.
	Files []string
	// Hotspots are the CPU profile's cpu_hotspot findings.
	Hotspots []result.Finding
}

// UnderLoad profiles target while load runs: it starts load (nil: no load) in its own goroutine,
// waits cfg.Delay, takes target's CPU and wall-clock profiles over cfg.Fetch.Duration, draws them
// and writes them into cfg.Dir. It returns when both the profiles and load are done; load's
// outcome is load's to record. ctx bounds both, and load receives it.
//
// The Profiled is nil when no profile could be fetched, or ctx ended first; the error says why.
// A Profiled with an error holds the profiles fetched but not all drawn or written.
func UnderLoad(ctx context.Context, cfg UnderLoadConfig, target string, load func(context.Context)) (*Profiled, error) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if load != nil {
		wg.Go(func() { load(ctx) })
	}
	t := time.NewTimer(cfg.Delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	set, err := Collect(ctx, cfg.Fetch, target)
	if err != nil {
		return nil, err
	}
	p := &Profiled{Set: set}
	if p.Graphs, err = set.Graphs(); err != nil {
		return p, err
	}
	if p.Files, err = set.WriteDir(cfg.Dir, p.Graphs); err != nil {
		return p, err
	}
	p.Hotspots = set.Hotspots(cfg.Hotspots)
	return p, nil
}
