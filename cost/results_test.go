package cost

import (
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

func TestFromResults(t *testing.T) {
	t.Parallel()
	l := &result.Load{AchievedRPS: 40, ServiceMS: result.Summary{Mean: 12.5},
		Timeline: []result.Second{{AchievedRPS: 38}, {AchievedRPS: 55}, {AchievedRPS: 27}}}
	tr, d := FromLoad(l, "run.json")
	if tr.MeanRPS != 40 || tr.PeakRPS != 55 || tr.RequestsPerMonth != 40*3600*730 || d != 12500*time.Microsecond {
		t.Errorf("FromLoad: %+v, %v", tr, d)
	}
	s, err := FromSweep(&result.Sweep{RecommendedRPS: 700, Headroom: 0.3, Outcome: "found"})
	if err != nil || s.CapacityRPS != 700 || s.Headroom != 0.3 {
		t.Errorf("FromSweep: %+v, %v", s, err)
	}
	if _, err := FromSweep(&result.Sweep{Outcome: "no_rate_meets_slo"}); err == nil {
		t.Error("a sweep without a recommended rate: no error")
	}
}
