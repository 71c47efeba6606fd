// Package metricsout streams a run's measurements, while it runs, to the metrics systems users
// already have: Prometheus remote write 1.0 and OTLP/HTTP metrics. It is fed by loadgen's
// once-a-second progress reports (the timeline second's latency histogram), so the load's hot
// path never sees it, and it pushes from its own goroutine every Config.Interval and at Close.
//
// Latency goes out as a histogram, not as quantiles (k6's trend outputs send p95/p99 per
// machine, which cannot be combined): headroom's HDR histograms are converted to Prometheus
// native histograms and OTLP exponential histograms of Scale (buckets 0.27 % wide), which sum
// across runs and machines before a quantile is taken.
//
// It imports loadgen (for Progress) and hist; nothing of the lab, and no Prometheus module.
package metricsout
