package experiments

import (
	"fmt"
	"testing"

	"github.com/headroom/headroom/result"
)

func TestNPlusOneCheck(t *testing.T) {
	t.Parallel()
	// runs makes the loads and traces of n-plus-one: per N, the N+1 P50 is base + perQuery ×
	// (N+1), the batched P50 batched(N), and the traces count the queries.
	runs := func(ns []int, perQuery float64, batched func(n int) float64, queries func(n int) float64, found bool) []result.ExperimentMeasurement {
		var ms []result.ExperimentMeasurement
		for _, n := range ns {
			p50 := 3 + perQuery*float64(n+1)
			name := fmt.Sprintf("n+1 n=%d", n)
			ms = append(ms, loadM(name, p50, p50*1.2, p50*1.3, p50))
			v := map[string]float64{"queries_per_request": queries(n)}
			if found {
				v["finding.n_plus_one_db"] = 1
			}
			ms = append(ms, figures(name+"/traces", v))
			name = fmt.Sprintf("batched n=%d", n)
			ms = append(ms, loadM(name, batched(n), batched(n)*1.2, batched(n)*1.3, batched(n)), figures(name+"/traces", map[string]float64{"queries_per_request": 2}))
		}
		return ms
	}
	all := []int{10, 20, 50, 100}
	flat := func(int) float64 { return 11.5 }
	exact := func(n int) float64 { return float64(n + 1) }
	testCheck(t, nPlusOne, []checkCase{
		{"linear at the round trip, batched flat", runs(all, 5.2, flat, exact, true), result.OutcomeHeld},
		{"quick: two Ns", runs([]int{10, 50}, 5.2, flat, exact, true), result.OutcomeHeld},
		{"a query costs far more than the round trip", runs(all, 12, flat, exact, true), result.OutcomeDidNotHold},
		{"batched grows too", runs(all, 5.2, func(n int) float64 { return 10 + float64(n) }, exact, true), result.OutcomeDidNotHold},
		{"the traces count other queries", runs(all, 5.2, flat, func(n int) float64 { return float64(n) / 2 }, true), result.OutcomeDidNotHold},
		{"diagnose missed it", runs(all, 5.2, flat, exact, false), result.OutcomeDidNotHold},
		{"one N", runs([]int{20}, 5.2, flat, exact, true), result.OutcomeInconclusive},
	})
	// Not linear: a knee at N=50 (the pool saturating).
	knee := runs(all, 5.2, flat, exact, true)
	for i, m := range knee {
		if m.Name == "n+1 n=100" {
			knee[i] = loadM(m.Name, 2000, 2500, 2600, 2100)
		}
	}
	testCheck(t, nPlusOne, []checkCase{{"a knee", knee, result.OutcomeDidNotHold}})
}
