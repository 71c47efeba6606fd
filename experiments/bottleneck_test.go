package experiments

import (
	"testing"

	"github.com/headroom/headroom/result"
)

// figures is a measurement of figures only (a "…/traces" or "…/profile").
func figures(name string, kv map[string]float64) result.ExperimentMeasurement {
	return result.ExperimentMeasurement{Name: name, Values: kv, Valid: true}
}

// checkCase is a Check judged on recorded measurements.
type checkCase struct {
	name string
	ms   []result.ExperimentMeasurement
	want result.Outcome
}

func testCheck(t *testing.T, def Definition, cases []checkCase) {
	t.Helper()
	for _, c := range cases {
		checkOutcome(t, def, c.name, c.ms, c.want)
	}
}

func TestMisidentifiedBottleneckCheck(t *testing.T) {
	t.Parallel()
	traces := func(logMS, dbMS float64, first result.Kind) result.ExperimentMeasurement {
		v := map[string]float64{"self_ms.logging": logMS, "self_ms.db": dbMS}
		if first != "" {
			v["finding."+string(first)] = 1
		}
		return figures("uncached/traces", v)
	}
	testCheck(t, misidentifiedBottleneck, []checkCase{
		{"the notes' story", run(loadM("uncached", 505, 510, 520, 506), loadM("cached", 502, 507, 515, 503), loadM("async-logging", 4.5, 8, 9, 5),
			traces(500.8, 3.4, result.KindSyncRemoteCall)), result.OutcomeHeld},
		{"the cache helped: the DB was the bottleneck", run(loadM("uncached", 700, 800, 900, 710), loadM("cached", 502, 507, 515, 503), loadM("async-logging", 200, 300, 320, 210),
			traces(500, 200, result.KindSyncRemoteCall)), result.OutcomeDidNotHold},
		{"the traces blame the database", run(loadM("uncached", 505, 510, 520, 506), loadM("cached", 502, 507, 515, 503), loadM("async-logging", 4.5, 8, 9, 5),
			traces(500, 3.4, result.KindSlowQuery)), result.OutcomeDidNotHold},
		{"no finding", run(loadM("uncached", 505, 510, 520, 506), loadM("cached", 502, 507, 515, 503), loadM("async-logging", 4.5, 8, 9, 5),
			traces(500, 3.4, "")), result.OutcomeDidNotHold},
	})
}

func TestTracingFindsDBCheck(t *testing.T) {
	t.Parallel()
	tr := func(name string, mean, db, own float64) result.ExperimentMeasurement {
		return figures(name, map[string]float64{"mean_ms": mean, "self_ms.db": db, "self_ms.internal": own})
	}
	testCheck(t, tracingFindsDB, []checkCase{
		{"the database dominates", run(tr("no-index/traces", 31.1, 30.8, 0.35), tr("indexed/traces", 2.5, 2.2, 0.2)), result.OutcomeHeld},
		{"the service's own code dominates", run(tr("no-index/traces", 31, 10, 20), tr("indexed/traces", 22, 2, 20)), result.OutcomeDidNotHold},
		{"the index does not help", run(tr("no-index/traces", 31.1, 30.8, 0.35), tr("indexed/traces", 25, 24, 0.3)), result.OutcomeDidNotHold},
		{"no traces", run(tr("no-index/traces", 0, 0, 0)), result.OutcomeInconclusive},
	})
}

func TestIndexBeforeCacheCheck(t *testing.T) {
	t.Parallel()
	testCheck(t, indexBeforeCache, []checkCase{
		{"the cache helps the hits, the index all", run(loadM("feed-uncached", 179, 291, 300, 180), loadM("feed-cached", 0.7, 217, 230, 20),
			loadM("search-scan", 26, 39.5, 42, 27), loadM("search-indexed", 1.6, 2.2, 2.5, 1.7)), result.OutcomeHeld},
		{"no miss in the run: the cache helped all", run(loadM("feed-uncached", 179, 291, 300, 180), loadM("feed-cached", 0.7, 1.2, 1.5, 0.8),
			loadM("search-scan", 26, 39.5, 42, 27), loadM("search-indexed", 1.6, 2.2, 2.5, 1.7)), result.OutcomeDidNotHold},
		{"the index helps only the median", run(loadM("feed-uncached", 179, 291, 300, 180), loadM("feed-cached", 0.7, 217, 230, 20),
			loadM("search-scan", 26, 39.5, 42, 27), loadM("search-indexed", 1.6, 35, 38, 5)), result.OutcomeDidNotHold},
	})
}
