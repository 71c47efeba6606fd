package capacity

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestMMcP99(t *testing.T) {
	t.Parallel()
	// M/M/1: exact closed form.
	if got, want := mmcP99(500, 0.001, 1), ln100/500; math.Abs(got-want) > 1e-12 {
		t.Errorf("M/M/1 p99 = %v, want %v", got, want)
	}
	// At low load an M/M/c's P99 is the service's own: ln(100)·S.
	if got, want := mmcP99(1, 0.01, 8), ln100*0.01; math.Abs(got-want)/want > 0.01 {
		t.Errorf("M/M/8 p99 at idle = %v, want %v", got, want)
	}
	// More servers at the same utilization wait less.
	if a, b := mmcP99(0.8*2/0.01, 0.01, 2), mmcP99(0.8*16/0.01, 0.01, 16); !(b < a) {
		t.Errorf("p99 at ρ=0.8: c=2 %v, c=16 %v; want c=16 lower", a, b)
	}
	if !math.IsInf(mmcP99(1000, 0.01, 8), 1) {
		t.Error("p99 past capacity is finite")
	}
	// Monotone in load.
	prev := 0.0
	for l := 10.0; l < 800; l += 10 {
		v := mmcP99(l, 0.01, 8)
		if v < prev {
			t.Fatalf("p99 fell from %v to %v at λ=%v", prev, v, l)
		}
		prev = v
	}
}

func queuePoints(s float64, c int, noise float64, seed uint64) []XY {
	rng := rand.New(rand.NewPCG(seed, 2))
	capacity := float64(c) / s
	var pts []XY
	for _, u := range []float64{0.1, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95} {
		l := u * capacity
		pts = append(pts, XY{l, mmcP99(l, s, c) * (1 + noise*(2*rng.Float64()-1))})
	}
	return pts
}

func TestFitQueues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		s      float64
		c      int
		noise  float64
		mmc    bool
		capTol float64 // relative
	}{
		{"M/M/1 exact", 0.002, 1, 0, false, 0.001},
		{"M/M/1 noisy", 0.002, 1, 0.1, false, 0.05},
		{"M/M/4 exact", 0.010, 4, 0, true, 0.01},
		{"M/M/16 exact", 0.020, 16, 0, true, 0.01},
		{"M/M/8 noisy", 0.005, 8, 0.1, true, 0.08},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pts := queuePoints(tc.s, tc.c, tc.noise, 7)
			fit := FitMM1
			if tc.mmc {
				fit = FitMMc
			}
			f, err := fit(pts)
			if err != nil {
				t.Fatal(err)
			}
			want := float64(tc.c) / tc.s
			if rel := math.Abs(f.Capacity()-want) / want; rel > tc.capTol {
				t.Errorf("capacity %.1f (S %.4g, c %d), want %.1f within %.0f%%", f.Capacity(), f.S, f.C, want, 100*tc.capTol)
			}
			if tc.noise == 0 && (f.R2 < 0.999 || f.C != tc.c) {
				t.Errorf("exact data: R² %v c %d, want ≈1 and %d", f.R2, f.C, tc.c)
			}
			if tc.noise > 0 && f.R2 < 0.8 {
				t.Errorf("R² %v on noisy data, want ≥ 0.8", f.R2)
			}
		})
	}
	if _, err := FitMMc([]XY{{1, 1}, {2, 2}}); !errors.Is(err, ErrTooFewPoints) {
		t.Errorf("FitMMc on 2 points: %v, want ErrTooFewPoints", err)
	}
}

func TestFitUSL(t *testing.T) {
	t.Parallel()
	truth := USLFit{Lambda: 1000, Sigma: 0.05, Kappa: 0.001}
	for _, tc := range []struct {
		name  string
		noise float64
		tol   float64
	}{{"exact", 0, 0.01}, {"noisy", 0.03, 0.1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(3, 4))
			var pts []XY
			for _, n := range []float64{1, 2, 4, 8, 16, 32, 48, 64} {
				pts = append(pts, XY{n, truth.X(n) * (1 + tc.noise*(2*rng.Float64()-1))})
			}
			u, err := FitUSL(pts)
			if err != nil {
				t.Fatal(err)
			}
			_, wantPeak := truth.Peak()
			_, peak := u.Peak()
			if rel := math.Abs(peak-wantPeak) / wantPeak; rel > tc.tol {
				t.Errorf("peak %.0f (λ %.1f σ %.4f κ %.5f), want %.0f within %.0f%%", peak, u.Lambda, u.Sigma, u.Kappa, wantPeak, 100*tc.tol)
			}
			if u.R2 < 0.95 {
				t.Errorf("R² %v", u.R2)
			}
		})
	}
	if _, err := FitUSL([]XY{{1, 1}, {2, 2}, {3, 3}}); !errors.Is(err, ErrTooFewPoints) {
		t.Errorf("FitUSL on 3 points: %v, want ErrTooFewPoints", err)
	}
}
