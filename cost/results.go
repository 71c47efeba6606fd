package cost

import (
	"fmt"
	"math"
	"time"

	"github.com/headroom/headroom/result"
)

// FromLoad reads a load run as a month of traffic: its achieved rate all month, its busiest
// second (by achieved rate) as the peak, and its mean service time (from the actual send, so
// without the generator's queueing) as one invocation's duration — an upper bound of the handler's
// time, as it includes the network.
func FromLoad(l *result.Load, source string) (Traffic, time.Duration) {
	t := Steady(l.AchievedRPS, source)
	for _, s := range l.Timeline {
		t.PeakRPS = math.Max(t.PeakRPS, s.AchievedRPS)
	}
	return t, time.Duration(l.ServiceMS.Mean * float64(time.Millisecond))
}

// FromSweep takes one server's capacity from a sweep: its recommended rate, which already keeps
// the sweep's headroom ((1 − headroom) × the maximum under the SLO). It fails when the sweep found
// no rate under its SLO.
func FromSweep(s *result.Sweep) (Servers, error) {
	if !(s.RecommendedRPS > 0) {
		return Servers{}, fmt.Errorf("recommended_rps is %v (outcome %q): want a sweep that found a rate under its SLO", s.RecommendedRPS, s.Outcome)
	}
	return Servers{CapacityRPS: s.RecommendedRPS, Headroom: s.Headroom}, nil
}
