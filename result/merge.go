package result

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/hist"
)

// SlowestExemplars is how many of the slowest requests a result keeps trace ids for.
const SlowestExemplars = 10

// ErrTargetsDiffer is wrapped by the error of [MergeLoads] when the runs drove different
// targets: their sum describes no one system.
var ErrTargetsDiffer = errors.New("runs against different targets")

// ErrShardsDiffer is wrapped by the error of [MergeConfig.Merge] when shards of a sharded load
// do not make one load: their configs differ, a shard is missing or given twice, or they started
// too far apart.
var ErrShardsDiffer = errors.New("shards that do not make one load")

// StartToleranceDefault is MergeConfig.StartTolerance's default: a tenth of a timeline second.
const StartToleranceDefault = 100 * time.Millisecond

// MergeConfig says what [MergeConfig.Merge] accepts. The zero value merges runs of one target,
// and shards only of one load.
type MergeConfig struct {
	// AnyTarget merges runs against different targets (replicas behind a balancer, say) instead
	// of refusing them: the merged Target is the first run's, Targets lists them all, and a
	// verdict note says so. Default false.
	AnyTarget bool
	// AnyShards merges shards that do not make one load (see ErrShardsDiffer) instead of
	// refusing them, with a verdict note saying what is wrong. Default false.
	AnyShards bool
	// StartTolerance is how far apart the shards of a load may have started (their StartedAt,
	// each by its machine's clock). Default StartToleranceDefault.
	StartTolerance time.Duration
}

// MergeLoads is [MergeConfig.Merge] with the zero MergeConfig.
func MergeLoads(runs []*Load) (*Load, error) { return MergeConfig{}.Merge(runs) }

// Merge combines runs that drove the same target at the same time from several machines
// into one result. Histograms add exactly, so the merged percentiles are true percentiles of all
// requests, not averages of percentiles; rates and counts add; the timeline is aligned by second
// from each run's start. The merged result has no SLO outcome: check it again on the merged numbers.
// Runs of different models are refused, and runs against different targets unless AnyTarget
// (an error wrapping [ErrTargetsDiffer]).
func (c MergeConfig) Merge(runs []*Load) (*Load, error) {
	if len(runs) == 0 {
		return nil, errors.New("merge: no results given")
	}
	out := &Load{
		Schema: LoadSchema, Target: runs[0].Target, Model: runs[0].Model, StartedAt: runs[0].StartedAt,
		Config: runs[0].Config, ErrorsByKind: map[string]int64{}, Verdict: Verdict{Valid: true, Reasons: []string{}},
	}
	if err := c.mergeShards(runs, out); err != nil {
		return nil, err
	}
	lat, svc, lag := hist.New(), hist.New(), hist.New()
	var wallCores float64
	seconds := map[int]*secondAcc{}
	for i, r := range runs {
		if r.Model != out.Model {
			return nil, fmt.Errorf("merge: run %d used the %s model, run 1 the %s model: merge runs of one model", i+1, r.Model, out.Model)
		}
		if r.Target != out.Target && !c.AnyTarget {
			return nil, fmt.Errorf("merge: %w: run %d drove %s, run 1 %s: merge runs of one target (--force merges them anyway)", ErrTargetsDiffer, i+1, r.Target, out.Target)
		}
		if !slices.Contains(out.Targets, r.Target) {
			out.Targets = append(out.Targets, r.Target)
		}
		for _, p := range []struct {
			into *hist.Histogram
			enc  string
		}{{lat, r.Histograms.Latency}, {svc, r.Histograms.Service}, {lag, r.Histograms.SendLag}} {
			h, err := hist.Decode(p.enc)
			if err != nil {
				return nil, fmt.Errorf("merge: run %d: %w", i+1, err)
			}
			p.into.Merge(h)
		}
		if r.StartedAt.Before(out.StartedAt) {
			out.StartedAt = r.StartedAt
		}
		out.Partial = out.Partial || r.Partial
		out.OfferedRPS += r.OfferedRPS
		out.AchievedRPS += r.AchievedRPS
		out.DurationS = max(out.DurationS, r.DurationS)
		out.Requests += r.Requests
		out.Errors += r.Errors
		for k, v := range r.ErrorsByKind {
			out.ErrorsByKind[k] += v
		}
		out.MergedFrom += max(r.MergedFrom, 1)
		out.Exemplars = append(out.Exemplars, r.Exemplars...)
		mergeGenerator(&out.Generator, r.Generator)
		wallCores += r.DurationS * float64(r.Generator.Cores)
		if !r.Verdict.Valid {
			out.Verdict.Valid = false
		}
		for _, reason := range r.Verdict.Reasons {
			out.Verdict.Reasons = append(out.Verdict.Reasons, fmt.Sprintf("run %d: %s", i+1, reason))
		}
		for _, note := range r.Verdict.Notes {
			out.Verdict.Notes = append(out.Verdict.Notes, fmt.Sprintf("run %d: %s", i+1, note))
		}
		for _, s := range r.Timeline {
			acc := seconds[s.T]
			if acc == nil {
				acc = &secondAcc{Second: Second{T: s.T}, h: hist.New()}
				seconds[s.T] = acc
			}
			if err := acc.add(s); err != nil {
				return nil, fmt.Errorf("merge: run %d: timeline second %d: %w", i+1, s.T, err)
			}
		}
	}
	if len(out.Targets) > 1 {
		out.Verdict.Notes = append(out.Verdict.Notes, fmt.Sprintf("merged runs against %d targets (%s): the numbers are of them together", len(out.Targets), strings.Join(out.Targets, ", ")))
	} else {
		out.Targets = nil // one target: Target says it
	}
	out.LatencyMS, out.ServiceMS, out.SendLagMS = Summarize(lat), Summarize(svc), Summarize(lag)
	var err error
	if out.Histograms, err = encodeAll(lat, svc, lag); err != nil {
		return nil, err
	}
	if wallCores > 0 {
		out.Generator.CPUUtilization = out.Generator.CPUSeconds / wallCores
	}
	if out.OfferedRPS > 0 && out.DurationS > 0 {
		out.Generator.AchievedRatio = out.AchievedRPS / out.OfferedRPS
	}
	out.Exemplars = KeepExemplars(out.Exemplars)
	if out.PerTarget, err = mergePerTarget(runs); err != nil {
		return nil, err
	}
	for _, acc := range seconds {
		s, err := acc.finish()
		if err != nil {
			return nil, err
		}
		out.Timeline = append(out.Timeline, s)
	}
	slices.SortFunc(out.Timeline, func(a, b Second) int { return cmp.Compare(a.T, b.T) })
	return out, nil
}

// mergeShards checks that runs, when any is a shard, are the shards of one load: one config
// (but for the shard), shards 0 to N-1 each once, started within StartTolerance. It gives out
// their config without the shard, their start spread and a note, or refuses them (unless
// AnyShards: then the problems are notes).
func (c MergeConfig) mergeShards(runs []*Load, out *Load) error {
	if !slices.ContainsFunc(runs, func(r *Load) bool { return r.Shard != nil }) {
		return nil
	}
	tol := cmp.Or(c.StartTolerance, StartToleranceDefault)
	var problems []string
	count := 0
	for _, r := range runs {
		if r.Shard != nil {
			count = r.Shard.Count
			break
		}
	}
	seen := map[int]int{} // shard index → run number
	var base []byte
	first, last := runs[0].StartedAt, runs[0].StartedAt
	for i, r := range runs {
		first, last = minTime(first, r.StartedAt), maxTime(last, r.StartedAt)
		cfg, err := withoutShard(r.Config)
		if err != nil {
			return fmt.Errorf("merge: run %d: config: %w", i+1, err)
		}
		if i == 0 {
			base, out.Config = cfg, cfg
		} else if !bytes.Equal(cfg, base) {
			problems = append(problems, fmt.Sprintf("run %d's config differs from run 1's (%s)", i+1, configDiff(base, cfg)))
		}
		switch {
		case r.Shard == nil:
			problems = append(problems, fmt.Sprintf("run %d is not a shard (load --shard I/N)", i+1))
		case r.Shard.Count != count:
			problems = append(problems, fmt.Sprintf("run %d is shard %d/%d, the others of %d", i+1, r.Shard.Index, r.Shard.Count, count))
		case seen[r.Shard.Index] != 0:
			problems = append(problems, fmt.Sprintf("shard %d/%d is given twice (runs %d and %d)", r.Shard.Index, count, seen[r.Shard.Index], i+1))
		default:
			seen[r.Shard.Index] = i + 1
		}
	}
	var missing []string
	for i := range count {
		if seen[i] == 0 {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("shards %s of %d are missing", strings.Join(missing, ", "), count))
	}
	spread := last.Sub(first)
	if spread > tol {
		problems = append(problems, fmt.Sprintf("the shards started %v apart, more than the tolerance of %v (set --start-at, and check the machines' clocks)", spread, tol))
	}
	spreadMS := float64(spread) / float64(time.Millisecond)
	out.StartSpreadMS = &spreadMS
	if len(problems) > 0 && !c.AnyShards {
		return fmt.Errorf("merge: %w: %s (--force merges them anyway)", ErrShardsDiffer, strings.Join(problems, "; "))
	}
	for _, p := range problems {
		out.Verdict.Notes = append(out.Verdict.Notes, "merged anyway (--force): "+p)
	}
	out.Verdict.Notes = append(out.Verdict.Notes, fmt.Sprintf("merged %d shards of %d, started within %.1f ms of each other (tolerance %v)", len(seen), count, spreadMS, tol))
	return nil
}

// withoutShard returns a run's config without its shard, in a canonical form (sorted keys) that
// compares byte for byte.
func withoutShard(cfg json.RawMessage) ([]byte, error) {
	if len(cfg) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(cfg, &m); err != nil {
		return nil, err
	}
	delete(m, "shard")
	return json.Marshal(m)
}

// configDiff names the top-level keys in which two canonical configs differ.
func configDiff(a, b []byte) string {
	var ma, mb map[string]json.RawMessage
	_ = json.Unmarshal(a, &ma)
	_ = json.Unmarshal(b, &mb)
	var keys []string
	for k, v := range ma {
		if !bytes.Equal(v, mb[k]) {
			keys = append(keys, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// mergePerTarget merges the runs' per-target parts by name, in the order they first appear:
// counts and rates add, histograms merge exactly.
func mergePerTarget(runs []*Load) ([]TargetStats, error) {
	var out []TargetStats
	var hs []*hist.Histogram
	index := map[string]int{}
	for i, r := range runs {
		for _, t := range r.PerTarget {
			j, ok := index[t.Name]
			if !ok {
				j = len(out)
				index[t.Name] = j
				out = append(out, TargetStats{Name: t.Name})
				hs = append(hs, hist.New())
			}
			o := &out[j]
			o.Requests += t.Requests
			o.Errors += t.Errors
			o.AchievedRPS += t.AchievedRPS
			for k, v := range t.ErrorsByKind {
				if o.ErrorsByKind == nil {
					o.ErrorsByKind = map[string]int64{}
				}
				o.ErrorsByKind[k] += v
			}
			h, err := hist.Decode(t.Latency)
			if err != nil {
				return nil, fmt.Errorf("merge: run %d: target %s: %w", i+1, t.Name, err)
			}
			hs[j].Merge(h)
		}
	}
	for j := range out {
		out[j].LatencyMS = Summarize(hs[j])
		enc, err := hs[j].Encode()
		if err != nil {
			return nil, err
		}
		out[j].Latency = enc
	}
	return out, nil
}

// mergeGenerator adds the additive fields of g to into and keeps the worse of the others: the
// merged lag summaries are the worst run's, an upper bound rather than an exact merge.
func mergeGenerator(into *Generator, g Generator) {
	into.CPUSeconds += g.CPUSeconds
	into.LateDispatches += g.LateDispatches
	into.SamplesWritten += g.SamplesWritten
	into.SamplesDropped += g.SamplesDropped
	into.Cores += g.Cores
	into.Connections += g.Connections
	if into.IO == "" {
		into.IO = g.IO
	} else if g.IO != "" && !slices.Contains(strings.Split(into.IO, "+"), g.IO) {
		into.IO += "+" + g.IO
	}
	into.QueuedShare = max(into.QueuedShare, g.QueuedShare)
	if g.DispatchLagMS.P99 > into.DispatchLagMS.P99 {
		into.DispatchLagMS = g.DispatchLagMS
	}
	if g.QueueWaitMS.P99 > into.QueueWaitMS.P99 {
		into.QueueWaitMS = g.QueueWaitMS
	}
}

// encodeAll encodes the three run-wide histograms.
func encodeAll(lat, svc, lag *hist.Histogram) (Histograms, error) {
	var out Histograms
	for _, p := range []struct {
		dst *string
		h   *hist.Histogram
	}{{&out.Latency, lat}, {&out.Service, svc}, {&out.SendLag, lag}} {
		s, err := p.h.Encode()
		if err != nil {
			return Histograms{}, err
		}
		*p.dst = s
	}
	return out, nil
}

// secondAcc sums one timeline second across runs.
type secondAcc struct {
	Second
	h      *hist.Histogram
	approx bool // some run had no histogram for this second
}

func (a *secondAcc) add(s Second) error {
	a.OfferedRPS += s.OfferedRPS
	a.AchievedRPS += s.AchievedRPS
	a.Requests += s.Requests
	a.Errors += s.Errors
	if s.Latency == "" {
		a.approx = true
		a.P50, a.P99, a.Max = max(a.P50, s.P50), max(a.P99, s.P99), max(a.Max, s.Max)
		return nil
	}
	h, err := hist.Decode(s.Latency)
	if err != nil {
		return err
	}
	a.h.Merge(h)
	return nil
}

func (a *secondAcc) finish() (Second, error) {
	s := a.Second
	if a.approx || a.h.Count() == 0 {
		return s, nil
	}
	sum := Summarize(a.h)
	s.P50, s.P99, s.Max = sum.P50, sum.P99, sum.Max
	enc, err := a.h.Encode()
	s.Latency = enc
	return s, err
}

// KeepExemplars reduces exemplars to the SlowestExemplars slowest plus the first of each latency
// bucket, ordered by latency, slowest first.
func KeepExemplars(ex []Exemplar) []Exemplar {
	var slow []Exemplar
	buckets := map[float64]Exemplar{}
	for _, e := range ex {
		switch e.Why {
		case "bucket":
			if old, ok := buckets[e.BucketMS]; !ok || e.AtS < old.AtS {
				buckets[e.BucketMS] = e
			}
		default:
			slow = append(slow, e)
		}
	}
	slices.SortStableFunc(slow, func(a, b Exemplar) int { return cmp.Compare(b.LatencyMS, a.LatencyMS) })
	out := slow[:min(len(slow), SlowestExemplars)]
	for _, e := range buckets {
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b Exemplar) int {
		return cmp.Or(cmp.Compare(b.LatencyMS, a.LatencyMS), cmp.Compare(a.Why, b.Why))
	})
	return out
}
