package experiments

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/result"
)

// The edge claims (seeds/004, "Edge Computing") on the lab's edge tier: `headroom lab --edge`
// puts an edge node 2 ms from the user and 80 ms from the origin, and a direct path from the
// user to the origin across both distances. The same requests go both ways.

// edgeURLs are the edge tier's addresses, from the lab's /admin/info.
type edgeURLs struct {
	URL       string `json:"url"`
	DirectURL string `json:"direct_url"`
	NodeURL   string `json:"node_url"`
	Geography string `json:"geography"`
}

// startEdge starts a lab with its edge tier on free ports and returns the tier's URLs.
func startEdge(ctx context.Context, e *Env) (edgeURLs, error) {
	if _, err := e.StartLab(ctx, "--edge", "--edge-addr", "127.0.0.1:0", "--direct-addr", "127.0.0.1:0"); err != nil {
		return edgeURLs{}, err
	}
	var info struct {
		Edge *edgeURLs `json:"edge"`
	}
	if err := e.GetJSON(ctx, "/admin/info", &info); err != nil {
		return edgeURLs{}, err
	}
	if info.Edge == nil || info.Edge.URL == "" || info.Edge.DirectURL == "" {
		return edgeURLs{}, fmt.Errorf("the lab started with --edge has no edge in /admin/info")
	}
	return *info.Edge, nil
}

var edgeAuth = Definition{
	Name:  "edge-auth",
	Title: "Edge computing: unauthorized requests rejected at the edge, fast, and off the origin",
	Claim: "Traditional: User → Server → DB check → Response (~100 ms); Edge: User → Edge → Validate session → Response (~2–3 ms); " +
		"Benefits: Faster rejection of unauthorized requests; Reduces load on main servers",
	Source: Seed004 + ":22-32 (Example: Authentication)",
	Expected: "a request without a valid token is rejected at the edge with P50 ≤ 4 ms (the notes' ~2–3 ms, 1 ms " +
		"allowed for the generator on the same machine) and at the origin at least 10 times slower; with a share " +
		"`unauth` of the requests unauthorized, the origin checks at most (1 − unauth) + 0.05 of the requests sent " +
		"through the edge, and at least 0.95 of those sent to it directly",
	Tier: TierEdge,
	Params: []Param{
		{Name: "rate", Default: "50", Help: "requests per second", Valid: positive},
		{Name: "unauth", Default: "0.5", Help: "share of the mixed requests without a token", Valid: share},
	},
	Measure: func(ctx context.Context, e *Env) error {
		unauth := e.Float("unauth")
		edge, err := startEdge(ctx, e)
		if err != nil {
			return err
		}
		r, err := e.Call(ctx, http.MethodPost, "/api/login", `{"user_id":7}`)
		if err != nil {
			return err
		}
		var login struct{ Token string }
		if err := json.Unmarshal(r.Body, &login); r.Status != http.StatusOK || err != nil || login.Token == "" {
			return fmt.Errorf("POST /api/login: status %d, want 200 with a token: %.200s", r.Status, r.Body)
		}
		d := e.Length(10*time.Second, 6*time.Second)
		for _, c := range []struct{ name, base, setup string }{
			{"edge-401", edge.URL, "no token, through the edge (its auth function rejects): " + edge.Geography},
			{"origin-401", edge.DirectURL, "no token, straight to the origin (it checks and rejects)"},
		} {
			if _, err := e.Load(ctx, Load{Name: c.name, Setup: c.setup, Path: c.base + "/api/me", Rate: e.Float("rate"),
				Duration: d, Warmup: time.Second}); err != nil {
				return err
			}
		}
		// The origin's share of the work: its session checks, per request of a mix.
		for _, c := range []struct{ name, base, setup string }{
			{"mix-edge", edge.URL, "through the edge"},
			{"mix-origin", edge.DirectURL, "straight to the origin"},
		} {
			before, err := e.Metric(ctx, "", "lab_auth_checks_total", nil)
			if err != nil {
				return err
			}
			res, err := e.Load(ctx, Load{Name: c.name, Setup: fmt.Sprintf("%.0f %% without a token, %s", 100*unauth, c.setup),
				Path: c.base + "/api/me", Weight: unauth, Rate: e.Float("rate"), Duration: d,
				Mix: []loadgen.Target{{Method: http.MethodGet, URL: c.base + "/api/me", Weight: 1 - unauth,
					Headers: map[string]string{"Authorization": "Bearer " + login.Token}}}})
			if err != nil {
				return err
			}
			after, err := e.Metric(ctx, "", "lab_auth_checks_total", nil)
			if err != nil {
				return err
			}
			e.Record(result.ExperimentMeasurement{Name: c.name + "-origin", Setup: "the origin's session checks during " + c.name,
				Values: map[string]float64{"checks": after - before, "requests": float64(res.Requests),
					"checks_per_request": (after - before) / float64(max(res.Requests, 1))}})
		}
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		ed, or := m.Latency("edge-401"), m.Latency("origin-401")
		viaEdge, direct := m.Value("mix-edge-origin", "checks_per_request"), m.Value("mix-origin-origin", "checks_per_request")
		unauth := floatParam(m, "unauth")
		why := fmt.Sprintf("rejection P50 %.2f ms at the edge, %.1f ms at the origin (%.0f×; P99 %.2f vs %.1f ms); "+
			"with %.0f %% unauthorized, the origin checked %.2f of the requests sent through the edge and %.2f of those sent to it",
			ed.P50, or.P50, or.P50/ed.P50, ed.P99, or.P99, 100*unauth, viaEdge, direct)
		if ed.P50 <= 4 && or.P50 >= 10*ed.P50 && viaEdge <= 1-unauth+0.05 && direct >= 0.95 {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

var cdnStatic = Definition{
	Name:  "cdn-static",
	Title: "A CDN serves static content from close to the user",
	Claim: "Traditional CDNs: Serve static content only (JS, CSS, images, videos); Edge nodes are: Closer to users (geographically); " +
		"Reduces round-trip latency",
	Source: Seed004 + ":6-19 (Edge Computing, Why Edge Computing is Faster)",
	Expected: "the fingerprinted script served from the edge's cache has a P50 at most a tenth of the same file " +
		"fetched from the origin, and at least 95 % of the requests through the edge are cache hits",
	Tier: TierEdge,
	Params: []Param{
		{Name: "rate", Default: "50", Help: "requests per second", Valid: positive},
	},
	Quick: true,
	Measure: func(ctx context.Context, e *Env) error {
		edge, err := startEdge(ctx, e)
		if err != nil {
			return err
		}
		var manifest map[string]string
		if err := e.GetJSON(ctx, "/static/manifest.json", &manifest); err != nil {
			return err
		}
		js := manifest["/static/app.js"]
		if !strings.HasPrefix(js, "/static/") {
			return fmt.Errorf("the lab's /static/manifest.json names no /static/app.js: %v", manifest)
		}
		d := e.Length(15*time.Second, 6*time.Second)
		// The first request fills the cache; then every lookup of the run (and its warm-up) counts.
		if _, err := e.Call(ctx, http.MethodGet, edge.URL+js, ""); err != nil {
			return err
		}
		cache := func(ctx context.Context) (hits, all float64, err error) {
			if hits, err = e.Metric(ctx, "", "headroom_edge_cache_total", map[string]string{"result": "hit"}); err != nil {
				return 0, 0, err
			}
			all, err = e.Metric(ctx, "", "headroom_edge_cache_total", nil)
			return hits, all, err
		}
		h0, a0, err := cache(ctx)
		if err != nil {
			return err
		}
		if _, err := e.Load(ctx, Load{Name: "edge", Setup: "through the edge node's cache: " + edge.Geography, Path: edge.URL + js,
			Rate: e.Float("rate"), Duration: d, Warmup: time.Second}); err != nil {
			return err
		}
		h1, a1, err := cache(ctx)
		if err != nil {
			return err
		}
		e.Record(result.ExperimentMeasurement{Name: "edge-cache", Setup: "the edge cache's lookups during the run and its warm-up",
			Values: map[string]float64{"hits": h1 - h0, "lookups": a1 - a0, "hit_share": (h1 - h0) / max(a1-a0, 1)}})
		_, err = e.Load(ctx, Load{Name: "origin", Setup: "straight from the origin", Path: edge.DirectURL + js,
			Rate: e.Float("rate"), Duration: d, Warmup: time.Second})
		return err
	},
	Check: func(m Measured) (result.Outcome, string) {
		ed, or := m.Latency("edge"), m.Latency("origin")
		share := m.Value("edge-cache", "hit_share")
		why := fmt.Sprintf("static script P50 %.2f ms from the edge cache, %.1f ms from the origin (%.0f×; P99 %.2f vs %.1f ms); %.1f %% cache hits",
			ed.P50, or.P50, or.P50/ed.P50, ed.P99, or.P99, 100*share)
		if ed.P50*10 <= or.P50 && share >= 0.95 {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// floatParam is a numeric parameter as run (validated by Run).
func floatParam(m Measured, name string) float64 {
	var f float64
	_, _ = fmt.Sscan(m.Param(name), &f)
	return f
}
