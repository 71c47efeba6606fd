package capacity

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/slo"
)

func mustConfig(t *testing.T, c Config) Config {
	t.Helper()
	if len(c.Objective.Clauses) == 0 {
		o, err := slo.Parse("p99<50ms")
		if err != nil {
			t.Fatal(err)
		}
		c.Objective = o
	}
	c = c.WithDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// drive runs the search against an oracle and returns the rates tried with their phases.
func drive(s *search, pass func(rate float64, n int) bool) (rates []float64, phases []string) {
	for n := 0; ; n++ {
		r, ph, ok := s.Next()
		if !ok {
			return rates, phases
		}
		rates, phases = append(rates, r), append(phases, ph)
		s.Observe(pass(r, n))
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		cfg        Config
		limit      float64 // a step passes iff its rate ≤ limit
		wantLo     float64 // found within [wantLo, wantHi]
		wantHi     float64
		lowerBound bool
		note       string
	}{
		{"limit between powers", Config{}, 1000, 950, 1000, false, ""},
		{"limit on a power", Config{}, 800, 760, 800, false, ""},
		{"fine precision", Config{Precision: 0.01}, 1234, 1222, 1234, false, ""},
		{"start above the limit", Config{Start: 1000}, 300, 285, 300, false, ""},
		{"limit below min rate", Config{Start: 100}, 5, 0, 0, false, "no rate tried meets it"},
		{"limit beyond max rate", Config{MaxRate: 5000}, 1e9, 5000, 5000, true, "lower bound"},
		{"step budget runs out", Config{MaxSteps: 4}, 1e9, 800, 800, true, "limit of 4 steps"},
		{"no verify", Config{NoVerify: true}, 1000, 950, 1000, false, ""},
		{"fixed steps", Config{Steps: []float64{400, 100, 200, 800}}, 500, 400, 400, false, ""},
		{"fixed steps all pass", Config{Steps: []float64{100, 200}}, 500, 200, 200, true, "every step passed"},
		{"fixed steps none pass", Config{Steps: []float64{100, 200}}, 50, 0, 0, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustConfig(t, tc.cfg)
			s := newSearch(cfg)
			rates, phases := drive(s, func(r float64, _ int) bool { return r <= tc.limit })
			if s.found < tc.wantLo || s.found > tc.wantHi {
				t.Errorf("found %v, want %v..%v (rates %v)", s.found, tc.wantLo, tc.wantHi, rates)
			}
			if s.lowerBound != tc.lowerBound {
				t.Errorf("lower bound %v, want %v", s.lowerBound, tc.lowerBound)
			}
			if tc.note != "" && !strings.Contains(strings.Join(s.notes, "; "), tc.note) {
				t.Errorf("notes %q, want one containing %q", s.notes, tc.note)
			}
			if len(rates) > cfg.MaxSteps {
				t.Errorf("%d steps, want at most %d", len(rates), cfg.MaxSteps)
			}
			if s.found > 0 && !cfg.NoVerify && len(cfg.Steps) == 0 && !s.lowerBound {
				if phases[len(phases)-1] != PhaseVerify || rates[len(rates)-1] != s.found {
					t.Errorf("last step %s at %v, want a verification at %v", phases[len(phases)-1], rates[len(rates)-1], s.found)
				}
			}
			if cfg.NoVerify && slices.Contains(phases, PhaseVerify) {
				t.Errorf("phases %v: verified with NoVerify", phases)
			}
		})
	}
}

func TestSearchFailedVerification(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, Config{})
	s := newSearch(cfg)
	rates, phases := drive(s, func(r float64, _ int) bool { return r <= 1000 })
	_ = rates
	if phases[len(phases)-1] != PhaseVerify {
		t.Fatalf("phases %v: no verification", phases)
	}
	// Same again, but the verification run fails: the next lower passing rate is reported.
	s = newSearch(cfg)
	var verified bool
	drive(s, func(r float64, n int) bool {
		if s.phase == PhaseVerify {
			verified = true
			return false
		}
		return r <= 1000
	})
	if !verified || s.found >= 975 || s.found < 800 {
		t.Errorf("found %v after a failed verification, want the next lower passing rate (800..975)", s.found)
	}
	if s.verifyFails != 2 || !strings.Contains(strings.Join(s.notes, ";"), "bisecting again") {
		t.Errorf("verify fails %d notes %q: want a second bisection, then the lower rate", s.verifyFails, s.notes)
	}
	if !strings.Contains(strings.Join(s.notes, ";"), "reporting the next lower passing rate") {
		t.Errorf("notes %q: no word of the failed verification", s.notes)
	}
}

func TestSearchVerificationFailsOnceByNoise(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, Config{})
	s := newSearch(cfg)
	first := true
	drive(s, func(r float64, _ int) bool {
		if s.phase == PhaseVerify && first {
			first = false
			return false // a noisy failure
		}
		return r <= 1000
	})
	if s.verifyFails != 1 || s.found < 800 || s.found > 1000 {
		t.Errorf("found %v after %d failed verifications, want 800..1000 after 1", s.found, s.verifyFails)
	}
}

func TestSearchStepCount(t *testing.T) {
	t.Parallel()
	// From 100 to a limit near 25 000: 9 exploring steps, ~5 bisections, 1 verification.
	cfg := mustConfig(t, Config{})
	s := newSearch(cfg)
	rates, _ := drive(s, func(r float64, _ int) bool { return r <= 25000 })
	if len(rates) > 16 {
		t.Errorf("%d steps %v, want at most 16", len(rates), rates)
	}
	if math.Abs(s.found-25000)/25000 > cfg.Precision {
		t.Errorf("found %v, want 25000 within %v", s.found, cfg.Precision)
	}
}

func TestOutOfTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		limit       float64 // a step passes iff its rate ≤ limit
		steps       int     // steps the budget allowed
		want        float64
		lowerBound  bool
		note        string
		unconfirmed float64
	}{
		{"still growing", 1e9, 3, 400, true, "ran out before a rate failed: the maximum is a lower bound", 0},
		{"while bisecting", 500, 5, 400, true, "ran out while bisecting, with the maximum below 600 req/s: the maximum is a lower bound", 0},
		{"nothing passed yet", 5, 1, 0, false, "ran out before a rate passed", 0},
		{"a failure awaiting its second run", 1e9, 3, 400, true, "ran out before a failure was confirmed (1600 req/s failed once; no time was left to confirm it): the maximum is a lower bound", 1600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSearch(mustConfig(t, Config{}))
			for range tc.steps {
				r, _, ok := s.Next()
				if !ok {
					t.Fatal("search ended before the budget")
				}
				s.Observe(r <= tc.limit)
			}
			s.OutOfTime(20*time.Second, tc.unconfirmed)
			if _, _, ok := s.Next(); ok || s.found != tc.want || s.lowerBound != tc.lowerBound {
				t.Errorf("next ok %v, found %v lower bound %v: want done, %v, %v", ok, s.found, s.lowerBound, tc.want, tc.lowerBound)
			}
			if !strings.Contains(strings.Join(s.notes, "; "), "time budget of 20s "+tc.note) {
				t.Errorf("notes %q, want one saying %q", s.notes, tc.note)
			}
		})
	}
}

func TestFits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		budget, elapsed, last time.Duration
		want                  bool
	}{
		{0, time.Hour, time.Minute, true}, // no budget
		{10 * time.Second, 0, 0, true},    // the first step always runs
		{10 * time.Second, 7 * time.Second, 3 * time.Second, true},
		{10 * time.Second, 7 * time.Second, 3*time.Second + 1, false},
		{10 * time.Second, 11 * time.Second, time.Second, false},
	} {
		if got := fits(tc.budget, tc.elapsed, tc.last); got != tc.want {
			t.Errorf("fits(%v, %v, %v) = %v, want %v", tc.budget, tc.elapsed, tc.last, got, tc.want)
		}
	}
}

func TestStepLength(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate       float64
		step, want time.Duration
	}{
		{10, 2 * time.Second, 2 * time.Second},          // 20 samples: no shorter
		{500, 3 * time.Second, 2 * time.Second},         // 1000 samples in 2 s
		{700, 3 * time.Second, 1400 * time.Millisecond}, // 1000 samples in 1.43 s
		{1000, 2 * time.Second, time.Second},
		{68000, 2 * time.Second, time.Second}, // never below MinStep
		{68000, 500 * time.Millisecond, 500 * time.Millisecond},
		{0, 2 * time.Second, 2 * time.Second},
	} {
		if got := StepLength(tc.rate, tc.step); got != tc.want {
			t.Errorf("StepLength(%v, %v) = %v, want %v", tc.rate, tc.step, got, tc.want)
		}
	}
}
