package compare

import (
	"math"
	"time"

	"github.com/headroom/headroom/hist"
)

// zFor returns the two-sided standard normal quantile for confidence conf (1.96 for 0.95).
func zFor(conf float64) float64 { return math.Sqrt2 * math.Erfinv(conf) }

// QuantileCI returns a distribution-free confidence interval, at confidence conf (e.g. 0.95),
// for the q-quantile (0 < q < 1) of the population h was sampled from: the values at the order
// statistics j and k around rank n·q, with j, k = n·q ∓ z·√(n·q·(1−q)) (the normal approximation
// of the binomial count of samples below the quantile). ok is false when h has fewer than two
// values. The bounds are within the histogram's precision (3 significant digits).
func QuantileCI(h *hist.Histogram, q, conf float64) (low, high time.Duration, ok bool) {
	n := h.Count()
	if n < 2 || q <= 0 || q >= 1 {
		return 0, 0, false
	}
	nf := float64(n)
	half := zFor(conf) * math.Sqrt(nf*q*(1-q))
	j := int64(math.Floor(nf*q - half))
	k := int64(math.Ceil(nf*q + half))
	j = min(max(j, 1), n)
	k = min(max(k, 1), n)
	dist := h.Distribution()
	return valueAtRank(dist, j), valueAtRank(dist, k), true
}

// valueAtRank returns the r-th smallest value (1-based) of a distribution, as the top of its
// bucket, which is how hist.Quantile reports values.
func valueAtRank(dist []hist.Bucket, r int64) time.Duration {
	var seen int64
	var last time.Duration
	for _, b := range dist {
		seen += b.Count
		last = b.To
		if seen >= r {
			return b.To
		}
	}
	return last
}

// TwoProportions tests whether two rates e1/n1 and e2/n2 differ, by the pooled two-proportion
// z-test at confidence conf. It returns the z statistic and whether |z| exceeds the critical
// value; equal rates, or no events at all, are not significant.
func TwoProportions(e1, n1, e2, n2 int64, conf float64) (z float64, significant bool) {
	if n1 <= 0 || n2 <= 0 {
		return 0, false
	}
	p1, p2 := float64(e1)/float64(n1), float64(e2)/float64(n2)
	p := float64(e1+e2) / float64(n1+n2)
	se := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0, false
	}
	z = (p2 - p1) / se
	return z, math.Abs(z) > zFor(conf)
}

// Overlap reports whether the intervals [a1, a2] and [b1, b2] share a point.
func Overlap(a1, a2, b1, b2 time.Duration) bool { return a1 <= b2 && b1 <= a2 }
