package slo_test

import (
	"fmt"

	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

func ExampleObjective_Check() {
	obj, err := slo.Parse("p99<200ms,errors<0.1%")
	if err != nil {
		fmt.Println(err)
		return
	}
	run := &result.Load{Requests: 10000, Errors: 25, LatencyMS: result.Summary{P99: 180}, Verdict: result.Verdict{Valid: true}}
	out := obj.Check(run)
	for _, c := range out.Checks {
		fmt.Printf("%s pass=%v actual=%g%s\n", c.Expr, c.Pass, c.Actual, c.Unit)
	}
	// Output:
	// p99<200ms pass=true actual=180ms
	// errors<0.1% pass=false actual=0.25%
}
