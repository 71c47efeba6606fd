package diagnose

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/result"
)

// minTailTraces is the least number of an endpoint's traces for a tail-vs-median comparison: with
// fewer, "the tail" and "the median" are the same few requests.
const minTailTraces = 5

// tailVsMedian compares the mean self time per category and per operation of the endpoint's
// slowest requests (the load run's slowest exemplars, else its slowest 1 %) with that of its
// median ones (between P40 and P60), and lists what the tail spends more time on. as is sorted by
// latency; lat holds its latencies.
func (d *diagnoser) tailVsMedian(ep string, as []*analyzed, lat []time.Duration) *result.TailComparison {
	if len(as) < minTailTraces {
		return nil
	}
	var tail []*analyzed
	p90 := percentile(lat, 0.9)
	for _, a := range as {
		if slices.Contains(d.cfg.TailTraceIDs, a.id) && a.latency >= p90 {
			tail = append(tail, a)
		}
	}
	if len(tail) == 0 {
		n := max(int(math.Ceil(float64(len(as))*0.01)), 1)
		tail = as[len(as)-n:]
	}
	lo, hi := int(float64(len(as))*0.4), int(math.Ceil(float64(len(as))*0.6))
	var median []*analyzed
	for _, a := range as[lo:max(hi, lo+1)] {
		if !slices.Contains(tail, a) {
			median = append(median, a)
		}
	}
	if len(median) == 0 {
		return nil
	}
	tc, tm := d.composition(tail), d.composition(median)
	tl, ml := meanLatency(tail), meanLatency(median)
	gap := tl - ml
	if gap <= 0 {
		return nil
	}
	keys := map[opKey]bool{}
	for k := range tc {
		keys[k] = true
	}
	for k := range tm {
		keys[k] = true
	}
	var rows []result.Contribution
	for k := range keys {
		delta := tc[k] - tm[k]
		// Only what explains a visible part (≥ 5 %) of the gap is worth a line.
		if delta <= 0 || float64(delta) < 0.05*float64(gap) {
			continue
		}
		rows = append(rows, result.Contribution{Category: k.cat.String(), Operation: k.op, TailMS: ms(tc[k]), MedianMS: ms(tm[k]),
			DeltaMS: ms(delta), ShareOfGap: round3(float64(delta) / float64(gap))})
	}
	slices.SortFunc(rows, func(a, b result.Contribution) int {
		// Categories (no operation) first, then operations, each by delta.
		return cmp.Or(cmp.Compare(hasOp(a), hasOp(b)), cmp.Compare(b.DeltaMS, a.DeltaMS),
			strings.Compare(a.Category, b.Category), strings.Compare(a.Operation, b.Operation))
	})
	const maxRows = 8
	rows = rows[:min(len(rows), maxRows)]
	out := &result.TailComparison{Endpoint: ep, TailMS: ms(tl), MedianMS: ms(ml), OverRepresented: rows,
		TailTraceIDs: ids(tail, d.cfg.MaxEvidence), MedianTraceIDs: ids(median, d.cfg.MaxEvidence)}
	var parts []string
	for _, r := range rows {
		what := r.Category
		if r.Operation != "" {
			what = r.Operation
		}
		parts = append(parts, fmt.Sprintf("%s +%.1f ms (%.0f %% of the gap)", what, r.DeltaMS, r.ShareOfGap*100))
		if len(parts) == 3 {
			break
		}
	}
	out.Summary = fmt.Sprintf("the %d slowest requests take %.1f ms, the %d median ones %.1f ms", len(tail), ms(tl), len(median), ms(ml))
	if len(parts) > 0 {
		out.Summary += "; over-represented in the tail: " + strings.Join(parts, ", ")
	} else {
		out.Summary += "; no category or operation stands out: the tail is slower across the board"
	}
	return out
}

// composition is the mean self time per request by category (operation "") and by category and
// operation.
func (d *diagnoser) composition(as []*analyzed) map[opKey]time.Duration {
	sums := map[opKey]float64{} // float64: years-long spans of a wrong clock would overflow a Duration
	for _, a := range as {
		for _, i := range a.order {
			n := &a.nodes[i]
			if n.self <= 0 {
				continue
			}
			sums[opKey{n.cat, ""}] += float64(n.self)
			sums[opKey{n.cat, d.operation(n)}] += float64(n.self)
		}
	}
	m := make(map[opKey]time.Duration, len(sums))
	for k, v := range sums {
		m[k] = fromFloat(v / float64(len(as)))
	}
	return m
}

func hasOp(c result.Contribution) int {
	if c.Operation != "" {
		return 1
	}
	return 0
}

func meanLatency(as []*analyzed) time.Duration {
	var s float64
	for _, a := range as {
		s += float64(a.latency)
	}
	return fromFloat(s / float64(len(as)))
}

// ids lists up to n trace ids, slowest first.
func ids(as []*analyzed, n int) []string {
	out := []string{}
	for i := len(as) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, as[i].id)
	}
	return out
}
