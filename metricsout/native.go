package metricsout

import (
	"math"

	"github.com/headroom/headroom/hist"
)

// Scale is the resolution of the exported histograms, Prometheus's native-histogram schema and
// OTLP's exponential scale: bucket boundaries grow by 2^(2^-Scale), 0.27 % per bucket, the
// finest Prometheus accepts. headroom's HDR histograms hold 3 significant digits (0.1 %), so
// the conversion adds at most one bucket's width (0.27 %) to a quantile's error.
const Scale = 8

// zeroThreshold is Prometheus's default width of the zero bucket; no latency falls in it
// (hist's smallest value is a microsecond).
const zeroThreshold = 2.938735877055719e-39

// expHist is a histogram of durations in seconds in the exponential buckets of Scale, indexed
// the Prometheus way: bucket i holds the values in (base^(i-1), base^i].
type expHist struct {
	Count  uint64
	Sum    float64 // seconds
	Offset int32   // the index of Counts[0]
	Counts []uint64
}

// bucketIndex is the Prometheus index of the Scale bucket holding v seconds (v > 0).
func bucketIndex(v float64) int32 {
	return int32(math.Ceil(math.Log2(v) * (1 << Scale)))
}

// upperBound is the upper end, in seconds, of the Scale bucket of Prometheus index i.
func upperBound(i int32) float64 { return math.Exp2(float64(i) / (1 << Scale)) }

// toExp converts h: each HDR bucket's count goes to the exponential bucket that holds the
// HDR bucket's midpoint.
func toExp(h *hist.Histogram) expHist {
	var e expHist
	for _, b := range h.Distribution() {
		mid := (b.From + b.To).Seconds() / 2
		if mid <= 0 {
			mid = hist.Lowest.Seconds()
		}
		i := bucketIndex(mid)
		if len(e.Counts) == 0 {
			e.Offset = i
		}
		for int(i-e.Offset) >= len(e.Counts) {
			e.Counts = append(e.Counts, 0)
		}
		e.Counts[i-e.Offset] += uint64(b.Count)
		e.Count += uint64(b.Count)
		e.Sum += mid * float64(b.Count)
	}
	return e
}
