package doctor

import (
	"slices"
	"testing"
	"time"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/result"
)

// TestDiagnoseConfigJoinsLoadsAsTheCLI: doctor joins its steady loads to the diagnosis as
// `diagnose --load` does (diagnose.Config.PreferExemplars), tail trace ids included, which the
// copy doctor had before did not set; only the N+1 threshold differs, on purpose.
func TestDiagnoseConfigJoinsLoadsAsTheCLI(t *testing.T) {
	t.Parallel()
	a := &result.Load{Exemplars: []result.Exemplar{
		{TraceID: "a1", LatencyMS: 900, Why: "slowest"}, {TraceID: "a2", LatencyMS: 5, Why: "bucket"}}}
	b := &result.Load{Exemplars: []result.Exemplar{
		{TraceID: "b1", LatencyMS: 1200, Why: "slowest"}, {TraceID: "b2", LatencyMS: 900, Why: "slowest"}}}
	for _, loads := range [][]*result.Load{{a, b}, {b, a}} {
		got := diagnoseConfig(loads)
		cli := diagnose.DefaultConfig()
		cli.NPlusOneMinTotal = 100 * time.Microsecond // doctor's one deliberate difference, see diagnoseConfig
		cli.PreferExemplars(a, b)
		if !slices.Equal(got.PreferTraceIDs, cli.PreferTraceIDs) || !slices.Equal(got.TailTraceIDs, cli.TailTraceIDs) {
			t.Errorf("doctor prefers %v, tail %v; diagnose --load prefers %v, tail %v",
				got.PreferTraceIDs, got.TailTraceIDs, cli.PreferTraceIDs, cli.TailTraceIDs)
		}
		if want := []string{"b1", "a1", "b2"}; !slices.Equal(got.TailTraceIDs, want) {
			t.Errorf("tail trace ids %v: want the slowest exemplars %v, slowest first", got.TailTraceIDs, want)
		}
	}
}
