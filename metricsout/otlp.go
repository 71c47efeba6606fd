package metricsout

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// encodeOTLP returns the OTLP ExportMetricsServiceRequest (protobuf) of ps, cumulative since
// start, at now.
func encodeOTLP(ps []point, start, now time.Time) ([]byte, error) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "headroom")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("github.com/headroom/headroom/metricsout")
	byMetric := map[*metric]pmetric.Metric{}
	st, ts := pcommon.NewTimestampFromTime(start), pcommon.NewTimestampFromTime(now)
	for _, p := range ps {
		m, ok := byMetric[p.metric]
		if !ok {
			m = sm.Metrics().AppendEmpty()
			m.SetName(p.metric.otel)
			m.SetUnit(p.metric.unit)
			m.SetDescription(p.metric.help)
			switch p.metric.kind {
			case kindCounter:
				s := m.SetEmptySum()
				s.SetIsMonotonic(true)
				s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			case kindGauge:
				m.SetEmptyGauge()
			case kindHistogram:
				m.SetEmptyExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			}
			byMetric[p.metric] = m
		}
		var attrs pcommon.Map
		switch p.metric.kind {
		case kindCounter:
			dp := m.Sum().DataPoints().AppendEmpty()
			dp.SetStartTimestamp(st)
			dp.SetTimestamp(ts)
			dp.SetIntValue(int64(p.value))
			attrs = dp.Attributes()
		case kindGauge:
			dp := m.Gauge().DataPoints().AppendEmpty()
			dp.SetTimestamp(ts)
			dp.SetDoubleValue(p.value)
			attrs = dp.Attributes()
		case kindHistogram:
			dp := m.ExponentialHistogram().DataPoints().AppendEmpty()
			dp.SetStartTimestamp(st)
			dp.SetTimestamp(ts)
			dp.SetScale(Scale)
			dp.SetCount(p.hist.Count)
			dp.SetSum(p.hist.Sum)
			// OTLP's bucket i holds (base^i, base^(i+1)]: Prometheus's index minus one.
			dp.Positive().SetOffset(p.hist.Offset - 1)
			dp.Positive().BucketCounts().FromRaw(p.hist.Counts)
			attrs = dp.Attributes()
		}
		attrs.PutStr("run_id", p.runID)
		attrs.PutStr("target", p.target)
		attrs.PutStr("phase", p.phase)
	}
	return pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
}
