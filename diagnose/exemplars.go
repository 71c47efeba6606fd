package diagnose

import (
	"cmp"
	"slices"
	"strings"

	"github.com/headroom/headroom/result"
)

// PreferExemplars joins load runs to the diagnosis: their exemplars' trace ids, slowest first,
// are appended to PreferTraceIDs (listed first as evidence), and those of the slowest requests
// to TailTraceIDs (the tail that the tail-vs-median comparison looks at). Exemplars of equal
// latency are ordered by trace id, so that the result does not depend on the order of loads.
func (c *Config) PreferExemplars(loads ...*result.Load) {
	var ex []result.Exemplar
	for _, l := range loads {
		if l != nil {
			ex = append(ex, l.Exemplars...)
		}
	}
	slices.SortFunc(ex, func(a, b result.Exemplar) int {
		return cmp.Or(cmp.Compare(b.LatencyMS, a.LatencyMS), strings.Compare(a.TraceID, b.TraceID))
	})
	for _, e := range ex {
		c.PreferTraceIDs = append(c.PreferTraceIDs, e.TraceID)
		// "slowest" is loadgen's word for the slowest requests' exemplars (result.Exemplar.Why).
		if e.Why == "slowest" {
			c.TailTraceIDs = append(c.TailTraceIDs, e.TraceID)
		}
	}
}
