// Package compare sets two results of one kind (load, sweep or doctor) side by side and judges
// each change: a percentile change is called significant only when the order-statistic
// confidence intervals of the two percentiles, read from the HDR histograms, do not overlap; an
// error-rate change by a two-proportion z-test; a sweep's maximum against the search precision.
// A regression is a change for the worse beyond the threshold that is significant.
//
// The statistics are pure functions; the package reads result files (ReadFile) and writes text
// or Markdown tables, and nothing else. It imports result and hist only.
package compare
