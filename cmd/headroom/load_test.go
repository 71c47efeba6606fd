package main

import (
	"runtime/debug"
	"testing"
)

// TestLowerGCTargetLeavesGOGC checks that the load command lowers the GC target only when the
// user did not set one with GOGC.
func TestLowerGCTargetLeavesGOGC(t *testing.T) {
	for _, tc := range []struct {
		gogc string
		want int
	}{
		{"", loadGCPercent},
		{"100", 100},
		{"off", 100},
	} {
		t.Run("GOGC="+tc.gogc, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			prev := debug.SetGCPercent(100)
			t.Cleanup(func() { debug.SetGCPercent(prev) })
			lowerGCTarget()
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("GOGC=%q: GC percent %d after lowerGCTarget, want %d", tc.gogc, got, tc.want)
			}
		})
	}
}
