package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/result"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// expHist records n exponential latencies of the given mean, from a seeded source.
func expHist(n int, mean time.Duration, seed uint64) (*hist.Histogram, []float64) {
	r := rand.New(rand.NewPCG(seed, 7))
	h := hist.New()
	vs := make([]float64, n)
	for i := range n {
		d := time.Duration(r.ExpFloat64() * float64(mean))
		h.Record(d)
		vs[i] = float64(d)
	}
	return h, vs
}

func TestQuantileCIBounds(t *testing.T) {
	t.Parallel()
	h := hist.New()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	// n = 1000, q = 0.5: ranks 500 ∓ 1.96·√250 = 500 ∓ 31 → [469, 532].
	lo, hi, ok := QuantileCI(h, 0.5, 0.95)
	if !ok || math.Abs(msOf(lo)-469) > 1 || math.Abs(msOf(hi)-532) > 1 {
		t.Errorf("p50 CI [%v, %v], want about [469ms, 532ms]", lo, hi)
	}
	// q = 0.99: ranks 990 ∓ 6.2 → [983, 997].
	lo, hi, _ = QuantileCI(h, 0.99, 0.95)
	if math.Abs(msOf(lo)-983) > 1 || math.Abs(msOf(hi)-997) > 1 {
		t.Errorf("p99 CI [%v, %v], want about [983ms, 997ms]", lo, hi)
	}
	// Few samples: the interval is clamped to the extremes.
	small := hist.New()
	small.Record(time.Millisecond)
	small.Record(2 * time.Millisecond)
	lo, hi, ok = QuantileCI(small, 0.99, 0.95)
	if !ok || msOf(lo) > 2.01 || msOf(hi) < 1.99 {
		t.Errorf("two-sample p99 CI [%v, %v], want within [1ms, 2ms] and reaching the max", lo, hi)
	}
	one := hist.New()
	one.Record(time.Millisecond)
	if _, _, ok := QuantileCI(one, 0.5, 0.95); ok {
		t.Error("CI from one sample")
	}
}

// TestQuantileCICoverage checks the interval's promise: over many samples from a known
// distribution, a 95 % interval for the P99 holds the true P99 at least about 95 % of the time.
func TestQuantileCICoverage(t *testing.T) {
	t.Parallel()
	const trials, n = 500, 1000
	mean := 10 * time.Millisecond
	truth := time.Duration(-math.Log(0.01) * float64(mean)) // exponential: P99 = mean·ln 100
	hits := 0
	for i := range trials {
		h, _ := expHist(n, mean, uint64(i))
		lo, hi, _ := QuantileCI(h, 0.99, 0.95)
		// The histogram keeps 3 significant digits: allow that much slack.
		if float64(lo) <= float64(truth)*1.001 && float64(hi) >= float64(truth)*0.999 {
			hits++
		}
	}
	cov := float64(hits) / trials
	t.Logf("95 %% P99 interval held the true P99 in %.1f %% of %d samples of %d", 100*cov, trials, n)
	// The normal approximation of the binomial ranks is conservative in the tail (about 98 % at
	// n = 1000 for the P99); it must not undercover, nor be so wide it never misses.
	if cov < 0.93 || cov > 0.995 {
		t.Errorf("coverage %.3f of the true P99 over %d trials, want 0.93–0.995 (nominal 0.95)", cov, trials)
	}
}

func TestTwoProportions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e1, n1, e2, n2 int64
		sig            bool
	}{
		{0, 1000, 0, 1000, false},
		{10, 1000, 12, 1000, false},
		{10, 1000, 50, 1000, true},
		{50, 1000, 10, 1000, true},
		{0, 10000, 10, 10000, true},
		{0, 0, 5, 10, false},
	} {
		if _, sig := TwoProportions(tc.e1, tc.n1, tc.e2, tc.n2, 0.95); sig != tc.sig {
			t.Errorf("TwoProportions(%d/%d, %d/%d) significant = %v, want %v", tc.e1, tc.n1, tc.e2, tc.n2, sig, tc.sig)
		}
	}
}

func loadFrom(t testing.TB, h *hist.Histogram, errs int64, rate float64) *result.Load {
	t.Helper()
	enc, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return &result.Load{
		Schema: result.LoadSchema, Target: "http://127.0.0.1:8080/api/posts", OfferedRPS: rate, AchievedRPS: rate,
		DurationS: 10, Requests: h.Count(), Errors: errs, LatencyMS: result.Summarize(h),
		Histograms: result.Histograms{Latency: enc, Service: enc, SendLag: enc},
		Verdict:    result.Verdict{Valid: true, Reasons: []string{}},
	}
}

func row(c *Comparison, metric string) Row {
	for _, r := range c.Rows {
		if r.Metric == metric {
			return r
		}
	}
	return Row{}
}

func TestLoads(t *testing.T) {
	t.Parallel()
	base, _ := expHist(5000, 10*time.Millisecond, 1)
	same, _ := expHist(5000, 10*time.Millisecond, 2)
	slower, _ := expHist(5000, 15*time.Millisecond, 3)
	faster, _ := expHist(5000, 3*time.Millisecond, 4)
	for _, tc := range []struct {
		name      string
		next      *hist.Histogram
		threshold float64
		p99       Significance
		regressed bool
	}{
		{"same distribution, other sample", same, 0, NotSignificant, false},
		{"50 % slower", slower, 0, Significant, true},
		{"50 % slower, 60 % threshold", slower, 0.6, Significant, false},
		{"faster", faster, 0, Significant, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Loads(loadFrom(t, base, 0, 500), loadFrom(t, tc.next, 0, 500), Config{Threshold: tc.threshold})
			r := row(c, "p99")
			if r.Significance != tc.p99 || r.Regression != tc.regressed {
				t.Errorf("p99 %.2f → %.2f ms, CIs %v %v: %s, regression %v; want %s, %v", r.Base, r.New, *r.BaseCI, *r.NewCI, r.Significance, r.Regression, tc.p99, tc.regressed)
			}
			if got := len(c.Regressions()) > 0; got != tc.regressed {
				t.Errorf("regressions %v", c.Regressions())
			}
			if m := row(c, "max"); m.Significance != Unknown || m.Regression {
				t.Errorf("max judged: %+v", m)
			}
		})
	}
	c := Loads(loadFrom(t, base, 0, 500), loadFrom(t, same, 100, 400), Config{})
	if e := row(c, "error rate"); e.Significance != Significant || !e.Regression || FormatChange(e) != "new" {
		t.Errorf("errors 0 → 2 %%: %+v, change %s; want a significant regression shown as new", e, FormatChange(e))
	}
	if !strings.Contains(strings.Join(c.Notes, "\n"), "offered rates differ") {
		t.Errorf("notes %v lack the different offered rates", c.Notes)
	}
}

func TestSweeps(t *testing.T) {
	t.Parallel()
	cfg := json.RawMessage(`{"sweep":{"precision":0.1},"step":{}}`)
	s := func(max float64) *result.Sweep {
		return &result.Sweep{Schema: result.SweepSchema, Target: "t", SLO: "p99<100ms", MaxRPSUnderSLO: max, RecommendedRPS: 0.7 * max, Config: cfg}
	}
	for _, tc := range []struct {
		base, next float64
		sig        Significance
		regressed  bool
		change     string
	}{
		{100, 340, Significant, false, "3.40×"},
		{100, 105, NotSignificant, false, "1.05×"},
		{100, 50, Significant, true, "0.50×"},
		{0, 50, Unknown, false, "new"},
	} {
		c := Sweeps(s(tc.base), s(tc.next), Config{})
		r := row(c, "max rate under SLO")
		if r.Significance != tc.sig || r.Regression != tc.regressed || FormatChange(r) != tc.change {
			t.Errorf("%g → %g: %s, regression %v, %s; want %s, %v, %s", tc.base, tc.next, r.Significance, r.Regression, FormatChange(r), tc.sig, tc.regressed, tc.change)
		}
	}
}

func TestFormatChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    Row
		want string
	}{
		{Row{Base: 10, New: 2.9}, "−71.0 %"},
		{Row{Base: 10, New: 11}, "+10.0 %"},
		{Row{Base: 10, New: 785}, "+7750 % (78.5×)"},
		{Row{Base: 10, New: 10}, "="},
		{Row{Base: 0, New: 1}, "new"},
		{Row{Base: 100, New: 340, Ratio: true}, "3.40×"},
	} {
		tc.r = judge(tc.r, Config{}.withDefaults())
		if got := FormatChange(tc.r); got != tc.want {
			t.Errorf("FormatChange(%v → %v) = %q, want %q", tc.r.Base, tc.r.New, got, tc.want)
		}
	}
}

func TestCompareMismatch(t *testing.T) {
	t.Parallel()
	_, err := Compare(&Input{Path: "a.json", Schema: result.LoadSchema}, &Input{Path: "b.json", Schema: result.SweepSchema}, Config{})
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "a.json is headroom.load/v1, b.json is headroom.sweep/v1") {
		t.Errorf("error %v", err)
	}
}

func TestDecodeBadInput(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                  "not a headroom result",
		"[1,2]":             "not a headroom result",
		`{"schema":"x/v9"}`: `schema "x/v9": want headroom.load/v1`,
		`{"schema":"headroom.load/v1","histograms":{"latency":"zz"}}`: "histograms.latency",
		`{"schema":"headroom.sweep/v1","steps":7}`:                    "decode sweep result",
		`{"schema":"headroom.doctor/v1","measurements":{}}`:           "f.json",
	} {
		if _, err := Decode("f.json", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%q) error %v, want %q", in, err, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"base-load.json", "new-load.json", "base-sweep.json", "base-doctor.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := Decode("f.json", b)
		if err != nil {
			return
		}
		c, err := Compare(in, in, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Regressions()) != 0 {
			t.Fatalf("a result regressed against itself: %v", c.Regressions())
		}
		var out bytes.Buffer
		if err := c.WriteText(&out); err != nil {
			t.Fatal(err)
		}
	})
}

// TestGolden renders comparisons of the result files in testdata as text and Markdown.
func TestGolden(t *testing.T) {
	t.Parallel()
	if *update {
		writeTestdata(t)
	}
	for _, kind := range []string{"load", "sweep", "doctor"} {
		base, err := ReadFile(filepath.Join("testdata", "base-"+kind+".json"))
		if err != nil {
			t.Fatal(err)
		}
		next, err := ReadFile(filepath.Join("testdata", "new-"+kind+".json"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := Compare(base, next, Config{})
		if err != nil {
			t.Fatal(err)
		}
		var txt, md bytes.Buffer
		if err := c.WriteText(&txt); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMarkdown(&md); err != nil {
			t.Fatal(err)
		}
		golden(t, kind+".txt", txt.Bytes())
		golden(t, kind+".md", md.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

// writeTestdata writes the result files the golden and script tests compare: a load run whose
// P99 improved threefold, a sweep whose maximum grew 3.4×, and two doctor runs with their loads.
func writeTestdata(t *testing.T) {
	t.Helper()
	write := func(name string, v any) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", name), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hb, _ := expHist(3000, 20*time.Millisecond, 11)
	hn, _ := expHist(3000, 6*time.Millisecond, 12)
	hw, _ := expHist(3000, 30*time.Millisecond, 13)
	write("base-load.json", loadFrom(t, hb, 3, 300))
	write("new-load.json", loadFrom(t, hn, 0, 300))
	write("worse-load.json", loadFrom(t, hw, 0, 300))
	cfg := json.RawMessage(`{"sweep":{"precision":0.1},"step":{}}`)
	write("base-sweep.json", &result.Sweep{Schema: result.SweepSchema, Target: "http://127.0.0.1:8080/api/posts", SLO: "p99<100ms", Outcome: "found",
		MaxRPSUnderSLO: 250, KneeRPS: 200, RecommendedRPS: 175, PeakAchievedRPS: 260, Headroom: 0.3, Config: cfg, Steps: []result.SweepStep{}, Notes: []string{}})
	write("new-sweep.json", &result.Sweep{Schema: result.SweepSchema, Target: "http://127.0.0.1:8080/api/posts", SLO: "p99<100ms", Outcome: "found",
		MaxRPSUnderSLO: 850, KneeRPS: 700, RecommendedRPS: 595, PeakAchievedRPS: 870, Headroom: 0.3, Config: cfg, Steps: []result.SweepStep{}, Notes: []string{}})
	doc := func(l *result.Load, file string) *result.Doctor {
		return &result.Doctor{Schema: result.DoctorSchema, Target: "lab", Measurements: []result.Measurement{{
			Endpoint: "GET /api/posts", Condition: "as is", File: file, OfferedRPS: l.OfferedRPS, AchievedRPS: l.AchievedRPS,
			Requests: l.Requests, Errors: l.Errors, LatencyMS: l.LatencyMS, Valid: true}}}
	}
	write("doctor-base-load.json", loadFrom(t, hb, 3, 300))
	write("doctor-new-load.json", loadFrom(t, hw, 0, 300))
	write("base-doctor.json", doc(loadFrom(t, hb, 3, 300), "doctor-base-load.json"))
	write("new-doctor.json", doc(loadFrom(t, hw, 0, 300), "doctor-new-load.json"))
}
