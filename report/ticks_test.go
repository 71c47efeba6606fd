package report

import (
	"slices"
	"testing"
)

func TestLogTicks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		lo, hi float64
		want   []float64
	}{
		{"decades and their 2s and 5s", 0.8, 60, []float64{1, 2, 5, 10, 20, 50}},
		{"only decades when the 1-2-5 steps are many", 0.05, 20000, []float64{0.1, 1, 10, 100, 1000, 10000}},
		{"narrow: no decade mark inside, linear steps", 1.95, 2.95, []float64{2, 2.2, 2.4, 2.6, 2.8}},
		{"narrow across a decade mark", 8.5, 12.5, []float64{9, 10, 11, 12}},
	} {
		if got := logTicks(tc.lo, tc.hi); !slices.Equal(got, tc.want) {
			t.Errorf("%s: logTicks(%v, %v) = %v, want %v", tc.name, tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestInterpolate(t *testing.T) {
	t.Parallel()
	curve := map[float64]float64{10: 1, 20: 3, 40: 7}
	for _, tc := range []struct {
		x, want float64
		ok      bool
	}{{10, 1, true}, {15, 2, true}, {30, 5, true}, {40, 7, true}, {5, 0, false}, {41, 0, false}} {
		if got, ok := interpolate(curve, tc.x); got != tc.want || ok != tc.ok {
			t.Errorf("interpolate(%v) = %v, %v; want %v, %v", tc.x, got, ok, tc.want, tc.ok)
		}
	}
}
