package report

import (
	"fmt"
	"math"
	"testing"
)

func TestTimelineDownsampled(t *testing.T) {
	t.Parallel()
	p := DoctorFixture(t)
	c := timelineSpec(p.Steady["GET /api/posts?limit=20"])
	if len(c.X) != maxPoints {
		t.Errorf("timeline of 3000 seconds drawn with %d points, want %d", len(c.X), maxPoints)
	}
	for _, s := range c.Series {
		if len(s.Y) != len(c.X) {
			t.Errorf("series %s has %d values for %d x values", s.Label, len(s.Y), len(c.X))
		}
	}
}

func TestPercentileSpecReachesMax(t *testing.T) {
	t.Parallel()
	p := DoctorFixture(t)
	l := p.Steady["GET /api/posts?limit=20"]
	c := percentileSpec(l)
	y := c.Series[0].Y
	if got := *y[len(y)-1]; math.Abs(got-l.LatencyMS.Max) > 0.01*l.LatencyMS.Max {
		t.Errorf("last point %v ms, want the max %v ms", got, l.LatencyMS.Max)
	}
	var labels []string
	for _, tk := range c.XTicks {
		labels = append(labels, tk.Label)
	}
	if got := fmt.Sprint(labels); got != "[p50 p90 p99 p99.9 max]" {
		t.Errorf("percentile ticks %s, want p50 … p99.9 and max (5000 requests: no p99.99)", got)
	}
}
