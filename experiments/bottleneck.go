package experiments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/result"
)

// misidentifiedBottleneck is the notes' "the DB is slow, add Redis": GET /api/feed with the
// lab's sync_logging (every request ships its log line to the remote collector, 500 ms, before
// answering) and no_cache (the feed's aggregate query on every request); then the cache added
// (no_cache off), then the logging fixed instead (sync_logging off, still no cache).
var misidentifiedBottleneck = Definition{
	Name:  "misidentified-bottleneck",
	Title: "The misidentified bottleneck: a cache does not fix a slow log call",
	Claim: "API appears slow → Assumption: Database is slow. Action: Added caching (Redis). Result: No improvement. " +
		"Actual Issue: Logging function: Synchronous remote logging, Took ~500 ms; DB query: Only ~10 ms. Lesson: Never guess → Always measure",
	Source: Seed000 + ":171-189 (Example: Misidentified Bottleneck)",
	Expected: "adding the cache improves the P50 by less than 20 % (cached P50 ≥ 0.8 × uncached); the traces of the uncached " +
		"run put at least 10× more time in the logging call than in the database, and diagnose's first finding is " +
		"sync_remote_call; making the logging asynchronous, without the cache, divides the P50 by at least 5",
	Params: []Param{
		{Name: "cache", Default: "memory", Help: "the cache added (the lab's --cache: memory, or redis://HOST:PORT/DB for a Redis you run)", Valid: cacheURL},
		{Name: "log-latency", Default: "500ms", Help: "the remote log collector's latency (the lab's --log-latency)"},
		{Name: "rate", Default: "4", Help: "feed requests per second", Valid: positive},
	},
	Measure: func(ctx context.Context, e *Env) error {
		otlp, err := e.OTLP(ctx)
		if err != nil {
			return err
		}
		if _, err := e.StartLab(ctx, "--otlp", otlp, "--cache", e.Param("cache"), "--log-latency", e.Param("log-latency")); err != nil {
			return err
		}
		d := e.Length(10*time.Second, 5*time.Second)
		for _, c := range []struct{ name, switches, setup string }{
			{"uncached", "sync_logging,no_cache", "sync_logging and no_cache on: the API as found"},
			{"cached", "sync_logging", "the cache added (" + e.Param("cache") + "), the logging still synchronous"},
			{"async-logging", "no_cache", "the logging asynchronous, no cache"},
		} {
			if err := e.Switch(ctx, c.switches); err != nil {
				return err
			}
			if _, err := e.Load(ctx, Load{Name: c.name, Setup: c.setup, Path: "/api/feed", Rate: e.Float("rate"), Duration: d, Warmup: time.Second}); err != nil {
				return err
			}
		}
		_, err = e.Diagnose(ctx, "uncached", diagnose.DefaultConfig())
		return err
	},
	Check: func(m Measured) (result.Outcome, string) {
		u, c, a := m.Latency("uncached"), m.Latency("cached"), m.Latency("async-logging")
		logMS, dbMS := m.Value("uncached/traces", "self_ms.logging"), m.Value("uncached/traces", "self_ms.db")
		t, _ := m.Get("uncached/traces")
		kinds := kindsByRank(t.Values)
		why := fmt.Sprintf("P50 %.0f ms uncached, %.0f ms with the cache (%.0f %% better), %.1f ms with the logging asynchronous; "+
			"traces: %.1f ms logging vs %.1f ms database per request; findings: %s",
			u.P50, c.P50, 100*(1-c.P50/u.P50), a.P50, logMS, dbMS, orNone(kinds))
		if c.P50 >= 0.8*u.P50 && logMS >= 10*dbMS && len(kinds) > 0 && kinds[0] == string(result.KindSyncRemoteCall) && a.P50*5 <= u.P50 {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// tracingFindsDB is the notes' "business logic 2 ms, DB query 800 ms": GET /api/search scans
// every post with the lab's no_index (LIKE '%q%' over a table of --seed-users × 5 posts); the
// traces say where the time goes; with the full-text index the database's time falls.
var tracingFindsDB = Definition{
	Name:  "tracing-finds-db",
	Title: "Tracing finds the database: where a request's time goes",
	Claim: "Distributed Tracing … Helps identify: Where time is spent; Exact bottleneck location. Example insight: " +
		"Business logic: 2 ms; DB query: 800 ms → Actual bottleneck",
	Source: Seed000 + ":222-233 (Distributed Tracing)",
	Expected: "with no_index, the traces put at least 80 % of the search's time in the database and at least 10× more than " +
		"in the service's own code (the business logic); with the index, the database's time per request falls by at " +
		"least half (slow_query, from 500 ms, is reported when the scan is that slow: a larger table)",
	Params: []Param{
		{Name: "seed-users", Default: "10000", Help: "users seeded (5 posts each; the lab's --seed-users)", Valid: whole(1)},
		{Name: "query", Default: "zebra", Help: "the search word (zebra matches nothing: a full scan)"},
		{Name: "rate", Default: "4", Help: "searches per second", Valid: positive},
	},
	Measure: func(ctx context.Context, e *Env) error {
		otlp, err := e.OTLP(ctx)
		if err != nil {
			return err
		}
		if _, err := e.StartLab(ctx, "--otlp", otlp, "--seed-users", e.Param("seed-users")); err != nil {
			return err
		}
		d := e.Length(10*time.Second, 5*time.Second)
		for _, c := range []struct{ name, switches, setup string }{
			{"no-index", "no_index", "no_index on: a LIKE scan over every post"},
			{"indexed", "none", "the full-text index"},
		} {
			if err := e.Switch(ctx, c.switches); err != nil {
				return err
			}
			if _, err := e.Load(ctx, Load{Name: c.name, Setup: c.setup, Path: "/api/search?q=" + e.Param("query"),
				Rate: e.Float("rate"), Duration: d, Warmup: time.Second}); err != nil {
				return err
			}
		}
		for _, name := range []string{"no-index", "indexed"} {
			if _, err := e.Diagnose(ctx, name, diagnose.DefaultConfig()); err != nil {
				return err
			}
		}
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		mean := m.Value("no-index/traces", "mean_ms")
		db, own := m.Value("no-index/traces", "self_ms.db"), m.Value("no-index/traces", "self_ms.internal")
		dbIndexed := m.Value("indexed/traces", "self_ms.db")
		if mean <= 0 {
			return result.OutcomeInconclusive, "the no_index run's traces give no latency"
		}
		t, _ := m.Get("no-index/traces")
		_, slow := t.Values["finding."+string(result.KindSlowQuery)]
		why := fmt.Sprintf("with no_index, per request %.1f ms: database %.1f ms (%.0f %%), own code %.2f ms; slow_query %s; "+
			"with the index the database takes %.1f ms", mean, db, 100*db/mean, own, map[bool]string{true: "reported", false: "not reported"}[slow], dbIndexed)
		if db >= 0.8*mean && db >= 10*own && dbIndexed*2 <= db {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// indexBeforeCache is "index before caching", on the lab's two remedies at one rate: the feed's
// cache (no_cache off: hits are served from memory, the misses still run the aggregate) and
// search's full-text index (no_index off: every search is cheaper). The lab caches only the
// feed and indexes only search, so each remedy is measured on its own endpoint.
var indexBeforeCache = Definition{
	Name:  "index-before-cache",
	Title: "Index before caching: a cache helps the hits, an index helps every request",
	Claim: "Common mistake: Jumping to solutions without identifying bottleneck. Wrong Approaches: Add caching blindly; " +
		"Upgrade database … Databases are often bottlenecks because they: … Execute complex queries",
	Source: Seed000 + ":161-170 (Bottlenecks), 234-240 (Database as Bottleneck)",
	Expected: "at the same rate: the cache divides the feed's P50 by at least 5 yet leaves its P99 at least half of the " +
		"uncached P99 (the misses still pay the query: it helps some requests); the index divides search's P50 and its " +
		"P99 by at least 2 (it helps all)",
	Params: []Param{
		{Name: "seed-users", Default: "10000", Help: "users seeded (5 posts and about 25 comments each; the lab's --seed-users)", Valid: whole(1)},
		{Name: "cache-ttl", Default: "2s", Help: "how long the feed stays cached (the lab's --cache-ttl)"},
		{Name: "rate", Default: "4", Help: "requests per second, the same for every run", Valid: positive},
	},
	Measure: func(ctx context.Context, e *Env) error {
		otlp, err := e.OTLP(ctx)
		if err != nil {
			return err
		}
		if _, err := e.StartLab(ctx, "--otlp", otlp, "--seed-users", e.Param("seed-users"), "--cache-ttl", e.Param("cache-ttl")); err != nil {
			return err
		}
		d := e.Length(10*time.Second, 5*time.Second)
		for _, c := range []struct{ name, switches, path, setup string }{
			{"feed-uncached", "no_cache,no_index", "/api/feed", "no_cache on: the aggregate on every request"},
			{"feed-cached", "no_index", "/api/feed", "the cache (TTL " + e.Param("cache-ttl") + ")"},
			{"search-scan", "no_index", "/api/search?q=zebra", "no_index on: a LIKE scan"},
			{"search-indexed", "none", "/api/search?q=zebra", "the full-text index"},
		} {
			if err := e.Switch(ctx, c.switches); err != nil {
				return err
			}
			if _, err := e.Load(ctx, Load{Name: c.name, Setup: c.setup, Path: c.path, Rate: e.Float("rate"), Duration: d, Warmup: time.Second}); err != nil {
				return err
			}
		}
		// The share of cached feed requests that still ran the query: the misses.
		_, err = e.Diagnose(ctx, "feed-cached", diagnose.DefaultConfig())
		return err
	},
	Check: func(m Measured) (result.Outcome, string) {
		fu, fc, ss, si := m.Latency("feed-uncached"), m.Latency("feed-cached"), m.Latency("search-scan"), m.Latency("search-indexed")
		why := fmt.Sprintf("feed P50/P99 %.1f/%.1f ms uncached, %.1f/%.1f ms cached (%.2f queries per request); search %.1f/%.1f ms scanning, %.1f/%.1f ms indexed",
			fu.P50, fu.P99, fc.P50, fc.P99, m.Value("feed-cached/traces", "queries_per_request"), ss.P50, ss.P99, si.P50, si.P99)
		var fails []string
		if fc.P50*5 > fu.P50 {
			fails = append(fails, "the cache did not divide the feed's P50 by 5")
		}
		if fc.P99*2 < fu.P99 {
			fails = append(fails, "the cache helped the feed's slowest requests too (P99 halved): no request paid a miss")
		}
		if si.P50*2 > ss.P50 || si.P99*2 > ss.P99 {
			fails = append(fails, "the index did not halve search's P50 and P99")
		}
		if len(fails) > 0 {
			return result.OutcomeDidNotHold, strings.Join(fails, "; ") + " — " + why
		}
		return result.OutcomeHeld, why
	},
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

// cacheURL accepts what the lab's --cache does: memory, or a Redis URL.
func cacheURL(v string) error {
	if v != "memory" && !strings.HasPrefix(v, "redis://") {
		return errors.New("want memory or redis://HOST:PORT/DB")
	}
	return nil
}
