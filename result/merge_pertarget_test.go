package result_test

import (
	"math"
	"testing"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/result"
)

// withTargets gives a fake run two per-target parts, /a with lat[:n] and /b with the rest.
func withTargets(t *testing.T, l *result.Load, lat []time.Duration, n int) {
	t.Helper()
	for _, p := range []struct {
		name string
		lat  []time.Duration
	}{{"GET /a", lat[:n]}, {"GET /b/{n}", lat[n:]}} {
		h := hist.New()
		for _, d := range p.lat {
			h.Record(d)
		}
		enc, err := h.Encode()
		if err != nil {
			t.Fatal(err)
		}
		l.PerTarget = append(l.PerTarget, result.TargetStats{
			Name: p.name, Requests: int64(len(p.lat)), AchievedRPS: float64(len(p.lat)) / l.DurationS,
			LatencyMS: result.Summarize(h), Latency: enc,
		})
	}
	l.PerTarget[1].Errors, l.PerTarget[1].ErrorsByKind = 1, map[string]int64{"status_500": 1}
}

// TestMergePerTargetIsExact: each target's merged percentiles are those of all its requests,
// from the histograms, not averages.
func TestMergePerTargetIsExact(t *testing.T) {
	t.Parallel()
	latA, latB := randomLatencies(1, 3000, 5*time.Millisecond), randomLatencies(2, 1000, 50*time.Millisecond)
	a, _ := fakeRun(t, latA, 5, 1)
	b, _ := fakeRun(t, latB, 5, 1)
	withTargets(t, a, latA, 2000)
	withTargets(t, b, latB, 100)
	m, err := result.MergeLoads([]*result.Load{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.PerTarget) != 2 {
		t.Fatalf("merged per target: %+v", m.PerTarget)
	}
	want := []struct {
		lat  []time.Duration
		errs int64
	}{{append(append([]time.Duration{}, latA[:2000]...), latB[:100]...), 0}, {append(append([]time.Duration{}, latA[2000:]...), latB[100:]...), 2}}
	for i, pt := range m.PerTarget {
		h := hist.New()
		for _, d := range want[i].lat {
			h.Record(d)
		}
		exact := result.Summarize(h)
		if pt.Requests != int64(len(want[i].lat)) || pt.Errors != want[i].errs || pt.ErrorsByKind["status_500"] != want[i].errs {
			t.Errorf("%s: %d requests %d errors %v, want %d and %d", pt.Name, pt.Requests, pt.Errors, pt.ErrorsByKind, len(want[i].lat), want[i].errs)
		}
		if pt.LatencyMS != exact {
			t.Errorf("%s: merged latency %+v, want %+v", pt.Name, pt.LatencyMS, exact)
		}
		if r := float64(len(want[i].lat)) / 5; math.Abs(pt.AchievedRPS-r) > 1e-9 {
			t.Errorf("%s: achieved %v req/s, want %v (rates of concurrent runs add)", pt.Name, pt.AchievedRPS, r)
		}
	}
}
