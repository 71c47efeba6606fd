package diagnose

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/result"
)

// Config sets the detectors' thresholds. The zero value uses the defaults documented per field.
type Config struct {
	// NPlusOneMinCount is how many times the same normalized statement must run under one parent
	// to be an N+1. Default 5.
	NPlusOneMinCount int
	// NPlusOneMinTotal is the least total time of the repeats (their union when concurrent).
	// Default 50ms.
	NPlusOneMinTotal time.Duration
	// SlowQueryMin is the duration from which one database span is a slow_query. Default 500ms.
	SlowQueryMin time.Duration
	// MaxEvidence is how many trace ids a finding lists. Default 5.
	MaxEvidence int
	// PreferTraceIDs are trace ids listed first as evidence when they show the finding (the load
	// run's exemplars, slowest first).
	PreferTraceIDs []string
}

func (c Config) withDefaults() Config {
	if c.NPlusOneMinCount <= 0 {
		c.NPlusOneMinCount = 5
	}
	if c.NPlusOneMinTotal <= 0 {
		c.NPlusOneMinTotal = 50 * time.Millisecond
	}
	if c.SlowQueryMin <= 0 {
		c.SlowQueryMin = 500 * time.Millisecond
	}
	if c.MaxEvidence <= 0 {
		c.MaxEvidence = 5
	}
	return c
}

var (
	reString = regexp.MustCompile(`'(?:[^']|'')*'`)
	reNumber = regexp.MustCompile(`\b-?\d+(?:\.\d+)?\b`)
	reInList = regexp.MustCompile(`(?i)\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)`)
	reSpace  = regexp.MustCompile(`\s+`)
)

// Normalize replaces literals, numbers and IN-lists of a SQL statement by placeholders, so that
// repeats of one query with different arguments compare equal.
func Normalize(stmt string) string {
	s := reString.ReplaceAllString(stmt, "?")
	s = reNumber.ReplaceAllString(s, "?")
	s = strings.NewReplacer("$?", "?").Replace(s)
	s = reInList.ReplaceAllString(s, "IN (?)")
	return strings.TrimSpace(reSpace.ReplaceAllString(s, " "))
}

func statement(s *Span) string {
	if _, ok := s.Attrs["db.system"]; !ok {
		if _, ok := s.Attrs["db.system.name"]; !ok {
			return ""
		}
	}
	if q := s.Attrs["db.query.text"]; q != "" {
		return q
	}
	return s.Attrs["db.statement"]
}

// root returns the trace's root span: the one without a parent present in the trace.
func root(t *Trace) *Span {
	ids := make(map[string]bool, len(t.Spans))
	for _, s := range t.Spans {
		ids[s.SpanID] = true
	}
	var r *Span
	for _, s := range t.Spans {
		if s.ParentID == "" || !ids[s.ParentID] {
			if r == nil || s.Duration() > r.Duration() {
				r = s
			}
		}
	}
	return r
}

// Endpoint is the route of a trace: the root's http.route (with its method) or its name.
func Endpoint(t *Trace) string {
	r := root(t)
	if r == nil {
		return ""
	}
	if route := r.Attrs["http.route"]; route != "" {
		m := cmp.Or(r.Attrs["http.request.method"], r.Attrs["http.method"])
		if m != "" && !strings.HasPrefix(route, m+" ") {
			return m + " " + route
		}
		return route
	}
	return r.Name
}

// unionDuration is the time covered by at least one of the spans.
func unionDuration(spans []*Span) time.Duration {
	ss := slices.Clone(spans)
	slices.SortFunc(ss, func(a, b *Span) int { return a.Start.Compare(b.Start) })
	var total time.Duration
	var curS, curE time.Time
	for i, s := range ss {
		if i == 0 || s.Start.After(curE) {
			if i > 0 {
				total += curE.Sub(curS)
			}
			curS, curE = s.Start, s.End
			continue
		}
		if s.End.After(curE) {
			curE = s.End
		}
	}
	if len(ss) > 0 {
		total += curE.Sub(curS)
	}
	return total
}

// percentile is the nearest-rank q-quantile of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

type hit struct {
	trace   string
	count   int
	union   time.Duration
	latency time.Duration
}

// Diagnose runs the detectors over traces and returns findings ranked by share of P99 time.
func Diagnose(traces []*Trace, cfg Config) *result.Findings {
	cfg = cfg.withDefaults()
	type key struct{ endpoint, stmt string }
	latencies := map[string][]time.Duration{}
	hits := map[key][]hit{}
	slow := map[key][]hit{}
	for _, t := range traces {
		r := root(t)
		if r == nil {
			continue
		}
		ep := Endpoint(t)
		latencies[ep] = append(latencies[ep], r.Duration())
		groups := map[[2]string][]*Span{}
		for _, s := range t.Spans {
			if st := statement(s); st != "" {
				k := [2]string{s.ParentID, Normalize(st)}
				groups[k] = append(groups[k], s)
				if s.Duration() >= cfg.SlowQueryMin {
					sk := key{ep, k[1]}
					slow[sk] = append(slow[sk], hit{t.ID, 1, s.Duration(), r.Duration()})
				}
			}
		}
		for k, g := range groups {
			if len(g) < cfg.NPlusOneMinCount {
				continue
			}
			u := unionDuration(g)
			if u < cfg.NPlusOneMinTotal {
				continue
			}
			hits[key{ep, k[1]}] = append(hits[key{ep, k[1]}], hit{t.ID, len(g), u, r.Duration()})
		}
	}
	out := &result.Findings{Schema: result.FindingsSchema, Findings: []result.Finding{}}
	for k, hs := range hits {
		lat := slices.Clone(latencies[k.endpoint])
		slices.Sort(lat)
		p99 := percentile(lat, 0.99)
		// Judge the finding on the traces at or above the median of those that show it, the tail.
		slices.SortFunc(hs, func(a, b hit) int { return cmp.Compare(b.latency, a.latency) })
		var union, perCall time.Duration
		maxCount := 0
		for _, h := range hs {
			union += h.union
			perCall += h.union / time.Duration(h.count)
			maxCount = max(maxCount, h.count)
		}
		meanUnion := union / time.Duration(len(hs))
		meanPerCall := perCall / time.Duration(len(hs))
		share := 0.0
		if p99 > 0 {
			share = min(float64(meanUnion)/float64(p99), 1)
		}
		saving := max(meanUnion-meanPerCall, 0) // one batched query costs about one call
		f := result.Finding{
			Kind:     "n_plus_one_db",
			Endpoint: k.endpoint,
			Summary: fmt.Sprintf("N+1 query — %s runs %d× per request under one parent, %.0f %% of P99 time",
				k.stmt, maxCount, share*100),
			Evidence: result.Evidence{
				TraceIDs: evidence(hs, cfg), Count: maxCount, Statement: k.stmt,
				TotalMS: ms(meanUnion),
			},
			ShareOfP99:        math.Round(share*1000) / 1000,
			EstimatedSavingMS: ms(saving),
			Remedy:            "batch it (one IN query or a join) or load the rows up front",
		}
		out.Findings = append(out.Findings, f)
	}
	for k, hs := range slow {
		lat := slices.Clone(latencies[k.endpoint])
		slices.Sort(lat)
		p99 := percentile(lat, 0.99)
		slices.SortFunc(hs, func(a, b hit) int { return cmp.Compare(b.latency, a.latency) })
		var total time.Duration
		for _, h := range hs {
			total += h.union
		}
		mean := total / time.Duration(len(hs))
		share := 0.0
		if p99 > 0 {
			share = min(float64(mean)/float64(p99), 1)
		}
		out.Findings = append(out.Findings, result.Finding{
			Kind:     "slow_query",
			Endpoint: k.endpoint,
			Summary: fmt.Sprintf("slow query — %s takes %.0f ms on average in %d slow executions (≥ %v), %.0f %% of P99 time",
				k.stmt, ms(mean), len(hs), cfg.SlowQueryMin, share*100),
			Evidence:   result.Evidence{TraceIDs: evidence(hs, cfg), Count: len(hs), Statement: k.stmt, TotalMS: ms(mean)},
			ShareOfP99: math.Round(share*1000) / 1000,
			// Saving down to the threshold: a lower bound of what an index or a cache would give.
			EstimatedSavingMS: ms(mean - cfg.SlowQueryMin),
			Remedy:            "check its plan (EXPLAIN ANALYZE): add an index, narrow the rows, or cache the result",
		})
	}
	slices.SortFunc(out.Findings, func(a, b result.Finding) int {
		return cmp.Or(cmp.Compare(b.ShareOfP99, a.ShareOfP99), cmp.Compare(a.Endpoint, b.Endpoint), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Evidence.Statement, b.Evidence.Statement))
	})
	return out
}

func evidence(hs []hit, cfg Config) []string {
	seen := map[string]bool{}
	for _, h := range hs {
		seen[h.trace] = true
	}
	ids := []string{}
	for _, id := range cfg.PreferTraceIDs {
		if seen[id] && len(ids) < cfg.MaxEvidence && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, h := range hs {
		if len(ids) < cfg.MaxEvidence && !slices.Contains(ids, h.trace) {
			ids = append(ids, h.trace)
		}
	}
	return ids
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }
