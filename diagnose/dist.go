package diagnose

import (
	"slices"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/result"
)

// dist is a distribution of durations: its count and sum exactly, its values exactly up to
// exact of them (percentiles by nearest rank, as [percentile]), past that in an HDR histogram
// (percentiles within its 3 significant digits). Memory: at most exact values, then one histogram.
type dist struct {
	n      int
	sum    float64 // float64: years-long spans of a wrong clock would overflow a Duration
	exact  int
	vals   []time.Duration
	sorted bool
	h      *hist.Histogram
}

func newDist(exact int) *dist { return &dist{exact: exact} }

func (d *dist) add(v time.Duration) {
	d.n++
	d.sum += float64(v)
	if d.h != nil {
		d.h.Record(v)
		return
	}
	d.vals = append(d.vals, v)
	d.sorted = false
	if len(d.vals) > d.exact {
		d.h = hist.New()
		for _, x := range d.vals {
			d.h.Record(x)
		}
		d.vals = nil
	}
}

// rank is the value of rank i (0-based) among the distribution sorted ascending.
func (d *dist) rank(i int) time.Duration {
	if d.n == 0 {
		return 0
	}
	i = min(max(i, 0), d.n-1)
	if d.h != nil {
		return d.h.Quantile(float64(i+1) / float64(d.n))
	}
	if !d.sorted {
		slices.Sort(d.vals)
		d.sorted = true
	}
	return d.vals[i]
}

// quantile is the nearest-rank percentile q, as [percentile] over the sorted values.
func (d *dist) quantile(q float64) time.Duration { return d.rank(nearestRank(q, d.n)) }

// quantileWithZeros is quantile q over the distribution plus zeros values of 0 (requests in which
// an operation took no time).
func (d *dist) quantileWithZeros(q float64, zeros int) time.Duration {
	i := nearestRank(q, d.n+zeros)
	if i < zeros {
		return 0
	}
	return d.rank(i - zeros)
}

func (d *dist) mean() time.Duration {
	if d.n == 0 {
		return 0
	}
	return fromFloat(d.sum / float64(d.n))
}

func (d *dist) tier() result.TierTime {
	return result.TierTime{Requests: d.n, P50MS: ms(d.quantile(0.5)), P99MS: ms(d.quantile(0.99))}
}

func (d *dist) callTime() result.CallTime {
	if d.n == 0 {
		return result.CallTime{}
	}
	return result.CallTime{Calls: d.n, P50MS: ms(d.quantile(0.5)), P99MS: ms(d.quantile(0.99)), MeanMS: ms(d.mean())}
}
