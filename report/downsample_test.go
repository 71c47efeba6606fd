package report

import (
	"math"
	"testing"
)

func TestLTTB(t *testing.T) {
	t.Parallel()
	const n = 10000
	xs, ys := make([]float64, n), make([]float64, n)
	for i := range xs {
		xs[i], ys[i] = float64(i), math.Sin(float64(i)/300)
	}
	ys[4321] = 50 // one spike: a stride would likely drop it, LTTB must keep it
	idx := lttb(xs, ys, 200)
	if len(idx) != 200 {
		t.Fatalf("kept %d points, want 200", len(idx))
	}
	if idx[0] != 0 || idx[len(idx)-1] != n-1 {
		t.Errorf("first and last kept = %d, %d; want 0 and %d", idx[0], idx[len(idx)-1], n-1)
	}
	spike := false
	for i := 1; i < len(idx); i++ {
		if idx[i] <= idx[i-1] {
			t.Fatalf("indexes not increasing at %d: %d after %d", i, idx[i], idx[i-1])
		}
		spike = spike || idx[i] == 4321
	}
	if !spike {
		t.Error("the spike at 4321 was dropped")
	}
	if got := lttb(xs[:50], ys[:50], 200); len(got) != 50 {
		t.Errorf("fewer points than the budget: kept %d of 50", len(got))
	}
}

func BenchmarkLTTB(b *testing.B) {
	xs, ys := make([]float64, 100000), make([]float64, 100000)
	for i := range xs {
		xs[i], ys[i] = float64(i), math.Sin(float64(i))
	}
	for b.Loop() {
		lttb(xs, ys, 1000)
	}
}
