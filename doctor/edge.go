package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/headroom/headroom/flame"
	"github.com/headroom/headroom/result"
)

// edgeArgs start the lab's edge tier on free loopback ports, in the lab's default geography.
var edgeArgs = []string{"--edge", "--edge-addr", "127.0.0.1:0", "--direct-addr", "127.0.0.1:0"}

// EdgeEndpoints are the routes of the lab's edge showcase that Config.Edge adds to the default
// endpoints when the lab serves them: a localized page the edge may cache for a minute. Its
// script, a fingerprinted immutable asset (/static/app.<hash>.js), joins too, named as the
// page links it.
var EdgeEndpoints = []string{"GET /page/home"}

// showcasePageMax bounds the read of the showcase page, to find its script's name.
const showcasePageMax = 1 << 20

// useEdge makes the lab's edge tier the target of every phase: the loads go to its user URL,
// the direct run to its direct URL. The lab's own URL stays the admin one (profiles, switches).
func (r *run) useEdge(ctx context.Context, info labInfo) error {
	if info.Edge == nil || info.Edge.URL == "" || info.Edge.DirectURL == "" {
		return fmt.Errorf("the lab at %s was started with --edge but its /admin/info names no edge and direct URLs: is headroom-lab older than headroom?", info.URL)
	}
	r.rep.Lab.Edge = info.Edge
	r.base, r.rep.Target = info.Edge.URL, info.Edge.URL
	r.progress(fmt.Sprintf("edge: users → %s, direct → %s (%s; %s)", info.Edge.URL, info.Edge.DirectURL, info.Edge.Geography, info.Edge.OriginVia))
	if r.cfg.endpointsDefault {
		added := showcaseEndpoints(ctx, r.admin)
		r.cfg.Endpoints = append(slices.Clip(r.cfg.Endpoints), added...)
		if len(added) == 0 {
			r.progress("edge: the lab serves no /page/home: its default endpoints only")
		}
	}
	return nil
}

// path is the path of the phases that go through base: PathEdge with Config.Edge, else none.
func (r *run) path() result.Path {
	if r.cfg.Edge {
		return result.PathEdge
	}
	return ""
}

// direct measures, right after the steady run and in its condition, every endpoint at its
// steady rate straight to the origin across the lab's direct link: the other path of each
// endpoint, before the comparison flips the lab's switches.
func (r *run) direct(ctx context.Context) error {
	if !r.cfg.Edge {
		return nil
	}
	r.progress(fmt.Sprintf("direct: the same rates straight to the origin at %s, without the edge", r.rep.Lab.Edge.DirectURL))
	var err error
	var wg sync.WaitGroup
	wg.Go(func() { err = r.runAll(ctx, r.condition(), result.PathDirect, false) })
	if r.profiled.Duration > 0 {
		// The steady run's profiles cost the lab CPU (fgprof samples every goroutine's stack):
		// the direct run bears them too, at the same moment of its run, so that the two paths
		// differ by the path alone. These profiles are not kept.
		t := time.NewTimer(r.cfg.Warmup)
		select {
		case <-ctx.Done():
		case <-t.C:
			_, _ = flame.Collect(ctx, r.profiled, r.admin)
		}
		t.Stop()
	}
	wg.Wait()
	return err
}

// showcaseEndpoints returns the edge showcase's endpoints that the lab at base serves:
// EdgeEndpoints when GET /page/home answers 200, with the script the page links when that
// answers 200 too. A lab without them (404, or any failure) gets none: they are extras.
func showcaseEndpoints(ctx context.Context, base string) []string {
	page, ok := get(ctx, base+"/page/home", showcasePageMax)
	if !ok {
		return nil
	}
	out := slices.Clone(EdgeEndpoints)
	if asset := showcaseAsset(page); asset != "" {
		if _, ok := get(ctx, base+asset, 0); ok {
			out = append(out, "GET "+asset)
		}
	}
	return out
}

// get fetches u and reports whether it answered 200, with up to limit bytes of its body.
func get(ctx context.Context, u string, limit int64) ([]byte, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	return body, err == nil && resp.StatusCode == http.StatusOK
}

// assetRef finds a script the page loads from /static/, by a plain path (no query, no
// fragment, nothing an endpoint line could misread).
var assetRef = regexp.MustCompile(`<script\b[^>]*\bsrc=["'](/static/[A-Za-z0-9._/-]+\.js)["']`)

// showcaseAsset returns the path of the first script page loads from /static/; "" when none.
func showcaseAsset(page []byte) string {
	m := assetRef.FindSubmatch(page)
	if m == nil {
		return ""
	}
	return string(m[1])
}
