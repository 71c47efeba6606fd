package diagnose

import (
	"slices"
	"testing"

	"github.com/headroom/headroom/result"
)

func TestPreferExemplars(t *testing.T) {
	t.Parallel()
	l := &result.Load{Exemplars: []result.Exemplar{
		{TraceID: "fast", LatencyMS: 2, Why: "bucket"},
		{TraceID: "tie-b", LatencyMS: 50, Why: "slowest"},
		{TraceID: "slow", LatencyMS: 80, Why: "slowest"},
		{TraceID: "tie-a", LatencyMS: 50, Why: "bucket"},
	}}
	var c Config
	c.PreferExemplars(l, nil)
	if want := []string{"slow", "tie-a", "tie-b", "fast"}; !slices.Equal(c.PreferTraceIDs, want) {
		t.Errorf("PreferTraceIDs %v: want %v (slowest first, ties by id)", c.PreferTraceIDs, want)
	}
	if want := []string{"slow", "tie-b"}; !slices.Equal(c.TailTraceIDs, want) {
		t.Errorf("TailTraceIDs %v: want the slowest exemplars %v", c.TailTraceIDs, want)
	}
}
