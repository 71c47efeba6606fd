// Package hist is headroom's latency histogram: record durations, read quantiles, merge exactly and
// encode losslessly. It wraps the HDR histogram (1 µs to 1 h, 3 significant digits), so memory is
// fixed whatever the number of samples, and two histograms add exactly, which makes percentiles of
// runs merged across machines true percentiles.
//
// hist imports nothing of headroom and is the only importer of the HDR library.
package hist
