package loadgen

import (
	"math"
	"slices"
	"testing"
	"time"
)

const s = time.Second

func TestShapesRateAndCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		shape     Shape
		at        time.Duration
		rate, cnt float64
	}{
		{"constant start", Constant{100}, 0, 100, 0},
		{"constant 2.5s", Constant{100}, 2500 * time.Millisecond, 100, 250},
		{"ramp start", Ramp{From: 0, To: 100, Over: 10 * s}, 0, 0, 0},
		{"ramp middle", Ramp{From: 0, To: 100, Over: 10 * s}, 5 * s, 50, 125},
		{"ramp end", Ramp{From: 0, To: 100, Over: 10 * s}, 10 * s, 100, 500},
		{"ramp after", Ramp{From: 0, To: 100, Over: 10 * s}, 12 * s, 100, 700},
		{"ramp down", Ramp{From: 100, To: 50, Over: 10 * s}, 10 * s, 50, 750},
		{"steps first", Steps{Rates: []float64{10, 20, 40}, Every: 2 * s}, 1 * s, 10, 10},
		{"steps second", Steps{Rates: []float64{10, 20, 40}, Every: 2 * s}, 3 * s, 20, 40},
		{"steps last holds", Steps{Rates: []float64{10, 20, 40}, Every: 2 * s}, 10 * s, 40, 20 + 40 + 6*40},
		{"bursts in spike", Bursts{Base: 100, Factor: 5, Length: s, Period: 10 * s}, 500 * time.Millisecond, 500, 250},
		{"bursts after spike", Bursts{Base: 100, Factor: 5, Length: s, Period: 10 * s}, 5 * s, 100, 500 + 400},
		{"bursts second period", Bursts{Base: 100, Factor: 5, Length: s, Period: 10 * s}, 10500 * time.Millisecond, 500, 1400 + 250},
		{"sine start", Sine{Mean: 100, Amplitude: 50, Period: 4 * s}, 0, 100, 0},
		{"sine peak", Sine{Mean: 100, Amplitude: 50, Period: 4 * s}, s, 150, 100 + 50*4/(2*math.Pi)},
		{"sine half", Sine{Mean: 100, Amplitude: 50, Period: 4 * s}, 2 * s, 100, 200 + 2*50*4/(2*math.Pi)},
		{"sine full period", Sine{Mean: 100, Amplitude: 50, Period: 4 * s}, 4 * s, 100, 400},
	} {
		if got := tc.shape.Rate(tc.at); math.Abs(got-tc.rate) > 1e-9 {
			t.Errorf("%s: Rate(%v) = %v, want %v", tc.name, tc.at, got, tc.rate)
		}
		if got := tc.shape.Count(tc.at); math.Abs(got-tc.cnt) > 1e-6 {
			t.Errorf("%s: Count(%v) = %v, want %v", tc.name, tc.at, got, tc.cnt)
		}
	}
}

// TestCountIsTheIntegralOfRate checks every shape's closed-form Count against a numeric integral.
func TestCountIsTheIntegralOfRate(t *testing.T) {
	t.Parallel()
	for _, shape := range []Shape{
		Constant{250},
		Ramp{From: 10, To: 300, Over: 7 * s},
		Steps{Rates: []float64{5, 0, 50}, Every: 3 * s},
		Bursts{Base: 20, Factor: 10, Length: 500 * time.Millisecond, Period: 3 * s},
		Sine{Mean: 80, Amplitude: 80, Period: 5 * s},
	} {
		const dt = time.Millisecond
		var sum float64
		for at := time.Duration(0); at < 12*s; at += dt {
			sum += shape.Rate(at+dt/2) * dt.Seconds()
			if got := shape.Count(at + dt); math.Abs(got-sum) > 0.01*sum+0.5 {
				t.Fatalf("%#v: Count(%v) = %v, numeric integral %v", shape, at+dt, got, sum)
			}
		}
	}
}

func TestScheduleEvenSpacing(t *testing.T) {
	t.Parallel()
	sch := NewSchedule(Constant{1000}, false, 1, 10*time.Millisecond)
	var got []time.Duration
	for {
		due, ok := sch.Next()
		if !ok {
			break
		}
		got = append(got, due)
	}
	if len(got) != 10 {
		t.Fatalf("got %d arrivals in 10ms at 1000/s, want 10: %v", len(got), got)
	}
	for i, d := range got {
		if want := time.Duration(i)*time.Millisecond + 500*time.Microsecond; d != want {
			t.Errorf("arrival %d due at %v, want %v", i, d, want)
		}
	}
}

func TestScheduleFollowsTheShape(t *testing.T) {
	t.Parallel()
	// Arrivals per second of a schedule must match the shape's Count, within one request for
	// even spacing and within 5 standard deviations for Poisson.
	for _, tc := range []struct {
		shape   Shape
		poisson bool
	}{
		{Ramp{From: 100, To: 1000, Over: 5 * s}, false},
		{Steps{Rates: []float64{100, 300, 0, 200}, Every: s}, false},
		{Bursts{Base: 200, Factor: 4, Length: 250 * time.Millisecond, Period: s}, false},
		{Sine{Mean: 500, Amplitude: 400, Period: 2 * s}, false},
		{Constant{2000}, true},
		{Bursts{Base: 200, Factor: 4, Length: 250 * time.Millisecond, Period: s}, true},
	} {
		sch := NewSchedule(tc.shape, tc.poisson, 42, 5*s)
		perSecond := make([]float64, 5)
		prev := time.Duration(-1)
		for {
			due, ok := sch.Next()
			if !ok {
				break
			}
			if due < prev {
				t.Fatalf("%#v: due times go back: %v after %v", tc.shape, due, prev)
			}
			prev = due
			perSecond[due/s]++
		}
		for i, got := range perSecond {
			want := tc.shape.Count(time.Duration(i+1)*s) - tc.shape.Count(time.Duration(i)*s)
			tol := 1.0
			if tc.poisson {
				tol = 5 * math.Sqrt(want)
			}
			if math.Abs(got-want) > tol {
				t.Errorf("%#v poisson=%v: second %d had %v arrivals, want %v ± %.1f", tc.shape, tc.poisson, i, got, want, tol)
			}
		}
	}
}

func TestPoissonGapsAreExponential(t *testing.T) {
	t.Parallel()
	sch := NewSchedule(Constant{1000}, true, 7, 20*s)
	var n, over3 float64
	prev, _ := sch.Next()
	for {
		due, ok := sch.Next()
		if !ok {
			break
		}
		n++
		if due-prev > 3*time.Millisecond { // P(gap > 3/λ) = e^-3 ≈ 0.0498
			over3++
		}
		prev = due
	}
	if share := over3 / n; math.Abs(share-math.Exp(-3)) > 0.005 {
		t.Errorf("share of gaps over 3 mean gaps = %.4f, want %.4f ± 0.005", share, math.Exp(-3))
	}
	// Same seed, same schedule.
	a, b := NewSchedule(Constant{1000}, true, 9, s), NewSchedule(Constant{1000}, true, 9, s)
	for range 100 {
		x, _ := a.Next()
		y, _ := b.Next()
		if x != y {
			t.Fatalf("same seed gave %v and %v", x, y)
		}
	}
}

func TestDueTimeNeverWhenRateStaysZero(t *testing.T) {
	t.Parallel()
	sch := NewSchedule(Steps{Rates: []float64{2, 0}, Every: s}, false, 1, 10*s)
	var n int
	for {
		if _, ok := sch.Next(); !ok {
			break
		}
		n++
	}
	if n != 2 {
		t.Errorf("got %d arrivals, want 2", n)
	}
}

func BenchmarkScheduleNextSine(b *testing.B) {
	sch := NewSchedule(Sine{Mean: 1e6, Amplitude: 5e5, Period: s}, false, 1, time.Duration(math.MaxInt64))
	for b.Loop() {
		sch.Next()
	}
}

// TestShardsMakeTheWholeSchedule: evenly spaced, the union of N shards' due times is exactly the
// whole schedule's, each shard taking every N-th arrival; Poisson, the shards are independent
// processes (distinct seeds) whose counts add up to the shape's within 5 standard deviations.
func TestShardsMakeTheWholeSchedule(t *testing.T) {
	t.Parallel()
	all := func(sch *Schedule) []time.Duration {
		var out []time.Duration
		for {
			due, ok := sch.Next()
			if !ok {
				return out
			}
			out = append(out, due)
		}
	}
	for _, shape := range []Shape{
		Constant{1000},
		Ramp{From: 100, To: 1000, Over: 5 * s},
		Steps{Rates: []float64{100, 300, 0, 200}, Every: s},
		Bursts{Base: 200, Factor: 4, Length: 250 * time.Millisecond, Period: s},
		Sine{Mean: 500, Amplitude: 400, Period: 2 * s},
	} {
		whole := all(NewSchedule(shape, false, 1, 5*s))
		const n = 4
		var union []time.Duration
		for i := range n {
			part := all(NewShardSchedule(shape, false, 1, 5*s, Shard{Index: i, Count: n}))
			for j, due := range part {
				if k := j*n + i; k >= len(whole) || due != whole[k] {
					t.Fatalf("%#v: shard %d's arrival %d due at %v, want the whole schedule's arrival %d", shape, i, j, due, k)
				}
			}
			union = append(union, part...)
		}
		slices.Sort(union)
		if !slices.Equal(union, whole) {
			t.Errorf("%#v: the %d shards hold %d arrivals, the whole schedule %d", shape, n, len(union), len(whole))
		}
	}

	shape := Constant{2000}
	const n = 4
	var first []time.Duration
	var total float64
	for i := range n {
		part := all(NewShardSchedule(shape, true, 7, 5*s, Shard{Index: i, Count: n}))
		want := shape.Count(5*s) / n
		if got := float64(len(part)); math.Abs(got-want) > 5*math.Sqrt(want) {
			t.Errorf("poisson shard %d: %v arrivals, want %v ± %.0f", i, got, want, 5*math.Sqrt(want))
		}
		if i > 0 && slices.Equal(part[:10], first) {
			t.Errorf("poisson shard %d repeats shard 0's arrivals: the seeds are not distinct", i)
		}
		if i == 0 {
			first = part[:10]
		}
		total += float64(len(part))
	}
	if want := shape.Count(5 * s); math.Abs(total-want) > 5*math.Sqrt(want) {
		t.Errorf("poisson shards: %v arrivals together, want %v ± %.0f", total, want, 5*math.Sqrt(want))
	}
}
