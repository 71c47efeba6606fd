package doctor_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/doctor"
	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// TestEdgeBothPaths runs doctor --edge on the lab (this test binary plays headroom-lab, started
// with --edge in its default geography): every phase goes through the edge, the direct phase
// follows the steady run, and each endpoint is measured on both paths. The latencies are checked
// against the geography from below only: a loaded machine only adds.
func TestEdgeBothPaths(t *testing.T) {
	t.Parallel()
	const posts = "GET /api/posts?limit=20"
	endpoints := []string{posts, "GET /api/posts/1"}
	dir := t.TempDir()
	var lines []string
	rep := runDoctor(t, doctor.Config{
		Edge: true, Endpoints: endpoints, Antipatterns: "n_plus_one",
		// One sweep step per endpoint: enough to see it goes through the edge.
		Start: 10, MaxSteps: 1, Step: time.Second, Duration: time.Second, Warmup: 300 * time.Millisecond, OutDir: dir,
	}, func(s string) { lines = append(lines, s) })
	log := strings.Join(lines, "\n")
	e := rep.Lab.Edge
	if e == nil || e.URL == "" || e.DirectURL == "" || e.URL == rep.Lab.URL || rep.Target != e.URL {
		t.Fatalf("lab %+v, target %s: want the edge's URLs, and the edge as the target", rep.Lab, rep.Target)
	}
	for _, de := range rep.Endpoints {
		if de.Sweep == nil || !strings.HasPrefix(de.Sweep.Target, e.URL+"/") {
			t.Errorf("%s: sweep %+v: want it through the edge %s", de.Endpoint, de.Sweep, e.URL)
		}
	}

	// Through the edge with the anti-patterns on, then direct, then the comparison through the edge.
	type key struct {
		endpoint string
		cond     result.Condition
		path     result.Path
	}
	var order []key
	got := map[key]result.Measurement{}
	for _, m := range rep.Measurements {
		k := key{m.Endpoint, m.Condition, m.Path}
		order = append(order, k)
		got[k] = m
		if _, err := os.Stat(filepath.Join(dir, m.File)); err != nil || !strings.Contains(m.File, string(m.Path)) {
			t.Errorf("%v: load result %q (%v): want a file named by its path", k, m.File, err)
		}
	}
	var want []key
	for _, c := range []struct {
		cond result.Condition
		path result.Path
	}{{result.ConditionAntipatternsOn, result.PathEdge}, {result.ConditionAntipatternsOn, result.PathDirect}, {result.ConditionAntipatternsOff, result.PathEdge}} {
		for _, ep := range endpoints {
			want = append(want, key{ep, c.cond, c.path})
		}
	}
	if !slices.Equal(order, want) {
		t.Fatalf("measurements %v, want %v:\n%s", order, want, log)
	}
	var phases []string
	for _, p := range rep.Phases {
		phases = append(phases, p.Name)
	}
	if i := slices.Index(phases, "direct"); i < 0 || phases[i-1] != "steady" || phases[i+1] != "comparison" {
		t.Errorf("phases %v: want direct between steady and comparison", phases)
	}

	// The direct path crosses both distances: no request is faster than their round trips.
	g := edge.Geography{}.WithDefaults()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	directFloor := ms(g.UserRTT + g.OriginRTT - g.UserJitter - g.OriginJitter)
	originFloor := ms(g.OriginRTT - g.OriginJitter)
	for _, ep := range endpoints {
		d := got[key{ep, result.ConditionAntipatternsOn, result.PathDirect}]
		if d.Requests == 0 || d.LatencyMS.Min < directFloor {
			t.Errorf("%s direct: %d requests, min %.2f ms: want requests all ≥ %.1f ms (the summed round trips)", ep, d.Requests, d.LatencyMS.Min, directFloor)
		}
	}
	// Through the edge, what the origin answered crossed the edge ↔ origin link: the traces'
	// breakdown shows it, and an endpoint the edge never answered is no faster than that link.
	var seen bool
	for _, b := range rep.Edge {
		if b.Link.Requests == 0 {
			continue
		}
		seen = true
		if b.Link.P50MS < originFloor {
			t.Errorf("%s: link P50 %.2f ms: want ≥ %.1f ms (the edge ↔ origin round trip)", b.Endpoint, b.Link.P50MS, originFloor)
		}
	}
	if !seen {
		t.Errorf("no edge breakdown with origin fetches in %+v: want the traces' edge / link / origin times", rep.Edge)
	}
	if m := got[key{posts, result.ConditionAntipatternsOn, result.PathEdge}]; m.LatencyMS.P50 < originFloor {
		t.Errorf("%s through the edge: P50 %.2f ms: want ≥ %.1f ms (uncacheable: every request reaches the origin)", posts, m.LatencyMS.P50, originFloor)
	}

	// The report names the paths, in the terminal, report.json and report.html.
	var buf bytes.Buffer
	if err := report.WriteDoctor(&buf, rep, report.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"path", "direct", "→ through the edge P50", "through the edge (from traces)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the terminal report lacks %q:\n%s", want, buf.String())
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"path": "edge"`, `"path": "direct"`, `"direct_url": "` + e.DirectURL + `"`, `"answered_at_edge"`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("report.json lacks %s", want)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<td>antipatterns on</td><td>direct</td>`, `id="edge"`, "through the edge P50"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report.html lacks %s", want)
		}
	}
}

// TestLabArgsReachTheLab: doctor hands LabArgs to the lab it starts; a bad one is the lab's
// usage error, named in doctor's.
func TestLabArgsReachTheLab(t *testing.T) {
	t.Parallel()
	_, err := doctor.Run(t.Context(), doctor.Config{LabArgs: []string{"--seed-users=0"}, OutDir: t.TempDir()}, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "start the lab") || !strings.Contains(err.Error(), "--seed-users") {
		t.Fatalf("doctor with a bad lab argument: %v; want the lab's error naming --seed-users", err)
	}
}
