package capacity_test

import (
	"context"
	"fmt"

	"github.com/headroom/headroom/capacity"
	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

// A sweep drives any Stepper. This one fakes a target whose P99 is 10 ms up to 1000 req/s and
// explodes past it; cmd/headroom drives real load through loadgen instead.
func ExampleRun() {
	target := capacity.StepperFunc(func(_ context.Context, rate float64) (capacity.Measurement, error) {
		p99 := 10.0
		if rate > 1000 {
			p99 = 10 + (rate-1000)/2
		}
		return capacity.Measurement{Load: &result.Load{
			OfferedRPS: rate, AchievedRPS: rate, DurationS: 5, Requests: int64(5 * rate),
			LatencyMS: result.Summary{P99: p99}, Verdict: result.Verdict{Valid: true},
		}}, nil
	})
	obj, err := slo.Parse("p99<50ms")
	if err != nil {
		panic(err)
	}
	sw, err := capacity.Run(context.Background(), capacity.Config{Objective: obj, Start: 100}, target, nil, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("max %.0f req/s, recommended %.0f req/s, %d steps, last %s\n",
		sw.MaxRPSUnderSLO, sw.RecommendedRPS, len(sw.Steps), sw.Steps[len(sw.Steps)-1].Phase)
	// Output: max 1050 req/s, recommended 735 req/s, 10 steps, last verify
}
