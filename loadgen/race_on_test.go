//go:build race

package loadgen

// raceEnabled: the race detector slows the generator and in-process servers several-fold, so
// timing tests scale their load down (their expectations do not depend on the rate).
const raceEnabled = true
