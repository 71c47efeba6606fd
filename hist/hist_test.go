package hist_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/headroom/headroom/hist"
)

// within reports whether got is within the histogram's relative precision (0.1 %, plus one unit)
// of want.
func within(got, want time.Duration) bool {
	tol := want/1000 + hist.Lowest
	return got >= want-tol && got <= want+tol
}

func TestQuantilesOfAKnownDistribution(t *testing.T) {
	t.Parallel()
	h := hist.New()
	// 1..10000 ms, once each: the q-quantile is q*10000 ms.
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5000 * time.Millisecond},
		{0.9, 9000 * time.Millisecond},
		{0.99, 9900 * time.Millisecond},
		{0.999, 9990 * time.Millisecond},
		{1, 10000 * time.Millisecond},
	} {
		if got := h.Quantile(tc.q); !within(got, tc.want) {
			t.Errorf("Quantile(%v) = %v, want %v ± 0.1%%", tc.q, got, tc.want)
		}
	}
	if got := h.Count(); got != 10000 {
		t.Errorf("Count = %d, want 10000", got)
	}
	if got, want := h.Mean(), 5000500*time.Microsecond; !within(got, want) {
		t.Errorf("Mean = %v, want %v", got, want)
	}
	if got := h.Min(); got != time.Millisecond {
		t.Errorf("Min = %v, want 1ms", got)
	}
}

func TestClampsOutOfRange(t *testing.T) {
	t.Parallel()
	h := hist.New()
	h.Record(0)
	h.Record(-time.Second)
	h.Record(5 * time.Hour)
	if h.Count() != 3 {
		t.Fatalf("Count = %d, want 3", h.Count())
	}
	if got := h.Min(); got != hist.Lowest {
		t.Errorf("Min = %v, want %v", got, hist.Lowest)
	}
	if got := h.Max(); !within(got, hist.Highest) {
		t.Errorf("Max = %v, want %v", got, hist.Highest)
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	h := hist.New()
	if h.Count() != 0 || h.Quantile(0.99) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Errorf("empty histogram: count %d p99 %v min %v max %v mean %v", h.Count(), h.Quantile(.99), h.Min(), h.Max(), h.Mean())
	}
}

func TestMergeEqualsRecordingEverythingInOne(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	a, b, all := hist.New(), hist.New(), hist.New()
	for range 50000 {
		d := time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))
		all.Record(d)
		if rng.IntN(3) == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(b)
	if !a.Equal(all) {
		t.Fatalf("merged histogram differs from the one that saw every sample")
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("Quantile(%v): merged %v, all %v", q, a.Quantile(q), all.Quantile(q))
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		vals []time.Duration
	}{
		{"empty", nil},
		{"one", []time.Duration{3 * time.Millisecond}},
		{"spread", []time.Duration{time.Microsecond, 5 * time.Millisecond, 2 * time.Second, 59 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := hist.New()
			for _, v := range tc.vals {
				h.RecordN(v, 7)
			}
			s, err := h.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := hist.Decode(s)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(h) {
				t.Errorf("decoded histogram differs: count %d vs %d, max %v vs %v", got.Count(), h.Count(), got.Max(), h.Max())
			}
		})
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "not base64!", "aGVsbG8=", "HISTFAAAAB94nJNpmSzMwMDAxQABzFCaEUQxmujfhwgwMQAANNwCjA=="[:20]} {
		if _, err := hist.Decode(s); err == nil {
			t.Errorf("Decode(%q) succeeded, want an error", s)
		}
	}
}

func FuzzDecode(f *testing.F) {
	h := hist.New()
	h.Record(time.Millisecond)
	s, _ := h.Encode()
	f.Add(s)
	f.Add("")
	f.Add("aGVsbG8=")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := hist.Decode(s)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same counts.
		s2, err := got.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := hist.Decode(s2)
		if err != nil || !again.Equal(got) {
			t.Fatalf("round trip of a decoded histogram failed: %v", err)
		}
	})
}

func BenchmarkRecord(b *testing.B) {
	h := hist.New()
	d := 1234 * time.Microsecond
	for b.Loop() {
		h.Record(d)
	}
}
