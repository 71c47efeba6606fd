package metricsout

import (
	"math"
	"strconv"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of Prometheus's prompb (remote write 1.0), encoded by hand so that headroom
// does not import Prometheus's module and its dependencies.
const (
	writeRequestTimeseries = 1
	writeRequestMetadata   = 3

	timeSeriesLabels     = 1
	timeSeriesSamples    = 2
	timeSeriesHistograms = 4

	labelName  = 1
	labelValue = 2

	sampleValue     = 1
	sampleTimestamp = 2

	histCountInt      = 1
	histSum           = 3
	histSchema        = 4
	histZeroThreshold = 5
	histZeroCountInt  = 6
	histPosSpans      = 11
	histPosDeltas     = 12
	histResetHint     = 14
	histTimestamp     = 15

	spanOffset = 1
	spanLength = 2

	metadataType   = 1
	metadataFamily = 2
	metadataHelp   = 4
	metadataUnit   = 5
)

// Metadata types of prompb.MetricMetadata.
const (
	metaCounter   = 1
	metaGauge     = 2
	metaHistogram = 3
)

// remote write headers, as the 1.0 specification requires.
const (
	rwContentType = "application/x-protobuf"
	rwEncoding    = "snappy"
	rwVersion     = "0.1.0"
)

// encodeRemoteWrite returns the snappy-compressed WriteRequest of ps at ms (milliseconds),
// histograms sent as hs says.
func encodeRemoteWrite(ps []point, ms int64, hs Histograms) []byte {
	var b []byte
	seen := map[string]bool{}
	for _, p := range ps {
		series := []point{p}
		if p.hist != nil {
			series = nil
			if hs != Classic {
				series = append(series, p)
			}
			if hs != Native {
				series = append(series, classic(p)...)
			}
		}
		for _, s := range series {
			b = protowire.AppendTag(b, writeRequestTimeseries, protowire.BytesType)
			b = protowire.AppendBytes(b, appendSeries(nil, s, ms))
		}
		if seen[p.metric.prom] || p.metric.help == "" {
			continue
		}
		seen[p.metric.prom] = true
		b = protowire.AppendTag(b, writeRequestMetadata, protowire.BytesType)
		b = protowire.AppendBytes(b, appendMetadata(nil, p.metric))
	}
	return snappy.Encode(nil, b)
}

// classic returns the _bucket, _sum and _count series of p's histogram. An exponential bucket
// counts below a bound when its upper end is at or below it, so a count may be off by the values
// within 0.27 % under a bound.
func classic(p point) []point {
	base := point{runID: p.runID, target: p.target, phase: p.phase}
	var out []point
	var cum uint64
	i := 0
	for _, le := range ClassicBounds {
		for ; i < len(p.hist.Counts) && upperBound(p.hist.Offset+int32(i)) <= le; i++ {
			cum += p.hist.Counts[i]
		}
		b := base
		b.metric, b.value, b.le = mLatencyBucket, float64(cum), strconv.FormatFloat(le, 'g', -1, 64)
		out = append(out, b)
	}
	b := base
	b.metric, b.value, b.le = mLatencyBucket, float64(p.hist.Count), "+Inf"
	out = append(out, b)
	s, c := base, base
	s.metric, s.value = mLatencySum, p.hist.Sum
	c.metric, c.value = mLatencyCount, float64(p.hist.Count)
	return append(out, s, c)
}

func appendSeries(b []byte, p point, ms int64) []byte {
	// Labels sorted by name, as the specification requires: __name__, le, phase, run_id, target.
	labels := [][2]string{{"__name__", p.metric.prom}, {"le", p.le}, {"phase", p.phase}, {"run_id", p.runID}, {"target", p.target}}
	if p.le == "" {
		labels = append(labels[:1], labels[2:]...)
	}
	for _, l := range labels {
		var lb []byte
		lb = protowire.AppendTag(lb, labelName, protowire.BytesType)
		lb = protowire.AppendString(lb, l[0])
		lb = protowire.AppendTag(lb, labelValue, protowire.BytesType)
		lb = protowire.AppendString(lb, l[1])
		b = protowire.AppendTag(b, timeSeriesLabels, protowire.BytesType)
		b = protowire.AppendBytes(b, lb)
	}
	if p.hist != nil {
		b = protowire.AppendTag(b, timeSeriesHistograms, protowire.BytesType)
		return protowire.AppendBytes(b, appendHistogram(nil, p.hist, ms))
	}
	var sb []byte
	sb = protowire.AppendTag(sb, sampleValue, protowire.Fixed64Type)
	sb = protowire.AppendFixed64(sb, math.Float64bits(p.value))
	sb = protowire.AppendTag(sb, sampleTimestamp, protowire.VarintType)
	sb = protowire.AppendVarint(sb, uint64(ms))
	b = protowire.AppendTag(b, timeSeriesSamples, protowire.BytesType)
	return protowire.AppendBytes(b, sb)
}

// appendHistogram encodes h as an integer native histogram: its non-empty buckets as spans
// (a span's offset is the gap since the previous span) and each count as the delta from the
// previous bucket's.
func appendHistogram(b []byte, h *expHist, ms int64) []byte {
	b = protowire.AppendTag(b, histCountInt, protowire.VarintType)
	b = protowire.AppendVarint(b, h.Count)
	b = protowire.AppendTag(b, histSum, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(h.Sum))
	b = protowire.AppendTag(b, histSchema, protowire.VarintType)
	b = protowire.AppendVarint(b, protowire.EncodeZigZag(Scale))
	b = protowire.AppendTag(b, histZeroThreshold, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(zeroThreshold))
	b = protowire.AppendTag(b, histZeroCountInt, protowire.VarintType)
	b = protowire.AppendVarint(b, 0)
	var deltas []byte
	var prev int64
	next := int32(0) // the index after the last span
	for i := 0; i < len(h.Counts); {
		if h.Counts[i] == 0 {
			i++
			continue
		}
		start := i
		for i < len(h.Counts) && h.Counts[i] != 0 {
			c := int64(h.Counts[i])
			deltas = protowire.AppendVarint(deltas, protowire.EncodeZigZag(c-prev))
			prev = c
			i++
		}
		idx := h.Offset + int32(start)
		var sp []byte
		sp = protowire.AppendTag(sp, spanOffset, protowire.VarintType)
		sp = protowire.AppendVarint(sp, protowire.EncodeZigZag(int64(idx-next)))
		sp = protowire.AppendTag(sp, spanLength, protowire.VarintType)
		sp = protowire.AppendVarint(sp, uint64(i-start))
		b = protowire.AppendTag(b, histPosSpans, protowire.BytesType)
		b = protowire.AppendBytes(b, sp)
		next = idx + int32(i-start)
	}
	if len(deltas) > 0 {
		b = protowire.AppendTag(b, histPosDeltas, protowire.BytesType)
		b = protowire.AppendBytes(b, deltas)
	}
	b = protowire.AppendTag(b, histResetHint, protowire.VarintType)
	b = protowire.AppendVarint(b, 2) // NO: the histogram is cumulative over the run
	b = protowire.AppendTag(b, histTimestamp, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(ms))
}

func appendMetadata(b []byte, m *metric) []byte {
	t := metaGauge
	switch m.kind {
	case kindCounter:
		t = metaCounter
	case kindHistogram:
		t = metaHistogram
	}
	b = protowire.AppendTag(b, metadataType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t))
	b = protowire.AppendTag(b, metadataFamily, protowire.BytesType)
	b = protowire.AppendString(b, m.prom)
	b = protowire.AppendTag(b, metadataHelp, protowire.BytesType)
	b = protowire.AppendString(b, m.help)
	b = protowire.AppendTag(b, metadataUnit, protowire.BytesType)
	return protowire.AppendString(b, m.promUnit)
}
