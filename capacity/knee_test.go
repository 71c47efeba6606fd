package capacity

import (
	"math"
	"math/rand/v2"
	"testing"
)

// hockey is flat at 10 until the elbow, then rises steeply.
func hockey(elbow float64, noise float64, seed uint64) []XY {
	rng := rand.New(rand.NewPCG(seed, 1))
	var pts []XY
	for x := 100.0; x <= 1500; x += 100 {
		y := 10.0
		if x > elbow {
			y += (x - elbow) * 0.5
		}
		y *= 1 + noise*(2*rng.Float64()-1)
		pts = append(pts, XY{x, y})
	}
	return pts
}

func TestKnee(t *testing.T) {
	t.Parallel()
	mm1 := func() []XY { // M/M/1 with S = 1 ms: P99 = ln(100)·S/(1−λS)
		var pts []XY
		for l := 50.0; l <= 950; l += 50 {
			pts = append(pts, XY{l, ln100 / (1000 - l)})
		}
		return pts
	}
	for _, tc := range []struct {
		name   string
		pts    []XY
		want   float64
		tol    float64
		wantOK bool
	}{
		{"hockey stick", hockey(800, 0, 1), 800, 0, true},
		{"hockey stick, 5% noise", hockey(800, 0.05, 2), 800, 100, true},
		{"hockey stick, 10% noise", hockey(600, 0.10, 3), 600, 100, true},
		// For the M/M/1 curve the elbow is where the slope equals the chord's: λ ≈ 763 here.
		{"M/M/1", mm1(), 750, 50, true},
		{"unsorted input", []XY{{300, 50}, {100, 10}, {200, 11}}, 200, 0, true},
		{"flat", []XY{{100, 10}, {200, 10.2}, {300, 10.1}, {400, 10.3}}, 0, 0, false},
		{"straight line has no elbow", []XY{{100, 10}, {200, 20}, {300, 30}, {400, 40}}, 0, 0, false},
		{"too few points", []XY{{100, 10}, {200, 100}}, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Knee(tc.pts)
			if ok != tc.wantOK || math.Abs(got-tc.want) > tc.tol {
				t.Errorf("Knee = %v, %v; want %v±%v, %v", got, ok, tc.want, tc.tol, tc.wantOK)
			}
		})
	}
}

func TestSaturation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		pts    []XY
		want   float64
		wantOK bool
	}{
		{"keeps up", []XY{{100, 100}, {200, 199.5}}, 0, false},
		{"stops at 400", []XY{{400, 350}, {100, 100}, {200, 200}, {800, 360}}, 400, true},
		{"just under 99%", []XY{{100, 98.9}}, 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Saturation(tc.pts, 0.99)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Saturation = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
