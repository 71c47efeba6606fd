package capacity

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestQueueP99(t *testing.T) {
	t.Parallel()
	if got, want := mm1P99(500, 0.001), ln100/500; math.Abs(got-want) > 1e-12 {
		t.Errorf("M/M/1 p99 = %v, want %v", got, want)
	}
	if !math.IsInf(mm1P99(1000, 0.001), 1) || !math.IsInf(mmcWaitP99(800, 0.01, 8), 1) {
		t.Error("p99 at capacity is finite")
	}
	// At low load almost nobody waits in an M/M/8.
	if got := mmcWaitP99(50, 0.01, 8); got != 0 {
		t.Errorf("M/M/8 wait p99 at 6%% load = %v, want 0", got)
	}
	// M/M/1's wait: P(wait) = ρ, so the wait p99 is ln(100ρ)/(μ−λ).
	if got, want := mmcWaitP99(500, 0.001, 1), math.Log(50)/500; math.Abs(got-want) > 1e-12 {
		t.Errorf("M/M/1 wait p99 = %v, want %v", got, want)
	}
	// More servers at the same utilization wait less; the wait grows with load.
	if a, b := mmcWaitP99(0.9*2/0.01, 0.01, 2), mmcWaitP99(0.9*16/0.01, 0.01, 16); !(b < a) {
		t.Errorf("wait p99 at ρ=0.9: c=2 %v, c=16 %v; want c=16 lower", a, b)
	}
	prev := 0.0
	for l := 10.0; l < 800; l += 10 {
		v := mmcWaitP99(l, 0.01, 8)
		if v < prev {
			t.Fatalf("wait p99 fell from %v to %v at λ=%v", prev, v, l)
		}
		prev = v
	}
}

// queuePoints samples a queue model at utilizations from 10 % to 95 %, with relative noise.
func queuePoints(f QueueFit, noise float64, seed uint64) []XY {
	rng := rand.New(rand.NewPCG(seed, 2))
	var pts []XY
	for _, u := range []float64{0.1, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95} {
		l := u * f.Capacity()
		pts = append(pts, XY{l, f.P99(l) * (1 + noise*(2*rng.Float64()-1))})
	}
	return pts
}

func TestFitQueues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		truth  QueueFit
		noise  float64
		hint   float64 // the measured mean service time given to the M/M/c fit; 0 for M/M/1
		capTol float64 // relative
		exactC bool
	}{
		{"M/M/1 exact", QueueFit{S: 0.002, C: 1}, 0, 0, 0.001, true},
		{"M/M/1 noisy", QueueFit{S: 0.002, C: 1}, 0.1, 0, 0.05, false},
		{"M/M/4 exact", QueueFit{S: 0.010, C: 4, Base: 0.012, mmc: true}, 0, 0.010, 0.01, true},
		{"M/M/16 exact", QueueFit{S: 0.020, C: 16, Base: 0.025, mmc: true}, 0, 0.020, 0.01, true},
		{"M/M/8 noisy, hint 10% off", QueueFit{S: 0.005, C: 8, Base: 0.008, mmc: true}, 0.1, 0.0055, 0.1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pts := queuePoints(tc.truth, tc.noise, 7)
			var f QueueFit
			var err error
			if tc.truth.mmc {
				f, err = FitMMc(pts, tc.truth.Base, tc.hint)
			} else {
				f, err = FitMM1(pts)
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.truth.Capacity()
			if rel := math.Abs(f.Capacity()-want) / want; rel > tc.capTol {
				t.Errorf("capacity %.1f (S %.4g, c %d), want %.1f within %.0f%%", f.Capacity(), f.S, f.C, want, 100*tc.capTol)
			}
			if tc.exactC && (f.R2 < 0.999 || f.C != tc.truth.C) {
				t.Errorf("exact data: R² %v c %d, want ≈1 and %d", f.R2, f.C, tc.truth.C)
			}
			if !tc.exactC && f.R2 < 0.7 {
				t.Errorf("R² %v on noisy data, want ≥ 0.7", f.R2)
			}
		})
	}
	if _, err := FitMMc([]XY{{1, 1}, {2, 2}}, 0, 0); !errors.Is(err, ErrTooFewPoints) {
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
