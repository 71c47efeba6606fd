package flame

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/result"
)

// RouteLabel is the pprof label that splits a CPU profile per endpoint. The lab sets it on every
// request (runtime/pprof.Do); any Go service can do the same.
const RouteLabel = "http.route"

// Set is the CPU and wall-clock profiles of one target over the same interval. A profile the
// target does not serve is nil, with the reason in CPUErr or WallErr.
type Set struct {
	Target   string
	Duration time.Duration
	CPU      *Profile
	Wall     *Profile
	// CPURaw and WallRaw are the profiles as served (gzipped pprof), to save.
	CPURaw, WallRaw []byte
	CPUErr, WallErr error
}

// Collect fetches the CPU and the wall-clock profile of target at the same time, each over
// cfg.Duration (so it takes about that long; ctx bounds it). It fails only when neither profile
// could be fetched, or when the configuration is bad; a missing one is recorded in the Set.
func Collect(ctx context.Context, cfg FetchConfig, target string) (*Set, error) {
	if _, err := cfg.ProfileURL(target, CPU); err != nil {
		return nil, err
	}
	s := &Set{Target: target, Duration: cfg.Duration}
	var wg sync.WaitGroup
	wg.Go(func() { s.CPU, s.CPURaw, s.CPUErr = Fetch(ctx, cfg, target, CPU) })
	wg.Go(func() { s.Wall, s.WallRaw, s.WallErr = Fetch(ctx, cfg, target, Wall) })
	wg.Wait()
	if s.CPU == nil && s.Wall == nil {
		return nil, errors.Join(s.CPUErr, s.WallErr)
	}
	return s, nil
}

// Graph is one flame graph of a Set: its folded stacks and its SVG.
type Graph struct {
	// Name is the file base name: "cpu", "wall", or "cpu-" and the route made file-safe.
	Name string
	Kind Kind
	// Route is the endpoint the graph covers; "" for the whole process.
	Route  string
	Folded *Folded
	SVG    []byte
}

// Graphs renders the Set's flame graphs: CPU and wall clock for the whole process, then one CPU
// graph per route when the CPU samples carry RouteLabel (fgprof records no labels, so wall-clock
// graphs are per process only).
func (s *Set) Graphs() ([]Graph, error) {
	var gs []Graph
	add := func(p *Profile, kind Kind, route string) error {
		opt := FoldOptions{}
		name, title := string(kind), kind.Title()
		if route != "" {
			opt = FoldOptions{LabelKey: RouteLabel, LabelValue: route}
			name += "-" + fileSafe(route)
			title += " — " + route
		}
		f := p.Fold(opt)
		var b bytes.Buffer
		sub := fmt.Sprintf("%s, %s profile over %v, %s sampled", s.Target, kind, s.Duration, formatValue(f.Total, f.Unit))
		if err := WriteSVG(&b, f.Tree(), SVGOptions{Title: title, Subtitle: sub, Unit: f.Unit}); err != nil {
			return err
		}
		gs = append(gs, Graph{Name: name, Kind: kind, Route: route, Folded: f, SVG: b.Bytes()})
		return nil
	}
	if s.CPU != nil {
		if err := add(s.CPU, CPU, ""); err != nil {
			return nil, err
		}
	}
	if s.Wall != nil {
		if err := add(s.Wall, Wall, ""); err != nil {
			return nil, err
		}
	}
	if s.CPU != nil {
		for _, r := range s.CPU.LabelValues(RouteLabel) {
			if err := add(s.CPU, CPU, r); err != nil {
				return nil, err
			}
		}
	}
	return gs, nil
}

// Hotspots returns the cpu_hotspot findings of the CPU profile: per route when the samples
// carry RouteLabel, else for the whole process. Nil without a CPU profile.
func (s *Set) Hotspots(cfg HotspotConfig) []result.Finding {
	if s.CPU == nil {
		return nil
	}
	routes := s.CPU.LabelValues(RouteLabel)
	if len(routes) == 0 {
		return Hotspots(s.CPU.Fold(FoldOptions{}), "", cfg)
	}
	var out []result.Finding
	for _, r := range routes {
		out = append(out, Hotspots(s.CPU.Fold(FoldOptions{LabelKey: RouteLabel, LabelValue: r}), r, cfg)...)
	}
	return out
}

// WriteDir writes the Set into dir (created if missing): cpu.pb.gz and wall.pb.gz as served, and
// NAME.folded and NAME.svg for each graph. Each file appears whole or not at all. It returns the
// paths written.
func (s *Set) WriteDir(dir string, graphs []Graph) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	write := func(name string, b []byte) error {
		p := filepath.Join(dir, name)
		if err := atomicfile.Write(p, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	}
	if s.CPURaw != nil {
		if err := write("cpu.pb.gz", s.CPURaw); err != nil {
			return paths, err
		}
	}
	if s.WallRaw != nil {
		if err := write("wall.pb.gz", s.WallRaw); err != nil {
			return paths, err
		}
	}
	for _, g := range graphs {
		var b bytes.Buffer
		if err := g.Folded.WriteFolded(&b); err != nil {
			return paths, err
		}
		if err := write(g.Name+".folded", b.Bytes()); err != nil {
			return paths, err
		}
		if err := write(g.Name+".svg", g.SVG); err != nil {
			return paths, err
		}
	}
	return paths, nil
}

// fileSafe turns a route such as "GET /api/posts/{id}" into "GET_api_posts_id".
func fileSafe(route string) string {
	var b strings.Builder
	under := false
	for _, r := range route {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.'
		switch {
		case ok:
			b.WriteRune(r)
			under = false
		case !under && b.Len() > 0:
			b.WriteByte('_')
			under = true
		}
	}
	if s := strings.TrimRight(b.String(), "_"); s != "" {
		return s
	}
	return "route"
}
