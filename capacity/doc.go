// Package capacity finds how much traffic a target can take: it drives load steps at chosen rates
// (an exponential search up to the first failing step, bisection, then a verification run, as
// Envoy's Nighthawk does; or a fixed list of rates), judges each step against an SLO, and from the
// measured points derives the maximum throughput under the SLO, the knee (Kneedle elbow of P99
// over the offered rate, and where achieved stops tracking offered), the recommended operating
// rate that keeps a headroom, queueing (M/M/1, M/M/c) and Universal Scalability Law fits, and
// what-if projections at multiples of today's traffic.
//
// Every decision (judging a step, the next rate to try, the knee, the fits) is a pure function
// tested with tables. Load is produced through the Stepper interface declared here; capacity never
// imports loadgen (internal/loadstep implements Stepper with it). capacity imports result, slo and hist
// of headroom, and nothing outside the standard library.
package capacity
