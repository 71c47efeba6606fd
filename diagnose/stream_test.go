package diagnose

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

// recordedInputs are the inputs whose findings were recorded (testdata/stream) with the
// whole-slice analysis before diagnose streamed: the stream must reproduce them.
func recordedInputs() map[string][]*Trace {
	var mixed []*Trace
	for _, c := range goldenCases {
		mixed = append(mixed, c.tr...)
	}
	for _, c := range edgeGoldenCases {
		mixed = append(mixed, c.tr...)
	}
	for _, c := range svcGoldenCases {
		mixed = append(mixed, c.tr...)
	}
	mixed = append(mixed, lambdaInvocations(100, []int{0, 31, 64, 97}, 300, nil, 0)...)
	mixed = append(mixed, labInvocations(100, []int{0, 40, 80}, 30, 45)...)
	mixed = append(mixed, checkouts(300, 4, 5000)...)
	mixed = append(mixed, mixedEdge()...)
	return map[string][]*Trace{"bench_3000": benchTraces(3000), "mixed": mixed, "checkouts_2000": checkouts(2000, 30, 400)}
}

func stream(trs []*Trace, cfg Config) *result.Findings {
	s := NewStream(cfg)
	for _, tr := range trs {
		s.Add(tr)
	}
	return s.Findings()
}

// TestStreamRecorded compares the stream, fed one trace at a time, with the findings the
// whole-slice analysis recorded before diagnose streamed (testdata/stream): byte for byte with
// bounds that hold the input (as Diagnose sets them), and within the stated tolerances with the
// default bounds (3000 requests of one endpoint exceed the median sample of 1024) and with bounds
// far below the input (percentiles from HDR histograms, a tail of 32, a sample of 256).
func TestStreamRecorded(t *testing.T) {
	t.Parallel()
	for name, trs := range recordedInputs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, err := os.ReadFile(filepath.Join("testdata", "stream", name+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			all := len(trs)
			for _, c := range []struct {
				what  string
				cfg   Config
				exact bool
			}{
				{"Diagnose", Config{}, true},
				{"stream holding the input", Config{ExactValues: 1 << 20, TailExemplars: all, SampleExemplars: all}, true},
				{"stream with the default bounds", Config{}, all <= SampleExemplarsDefault},
				{"stream with small bounds", Config{ExactValues: 128, TailExemplars: 32, SampleExemplars: 256}, false},
			} {
				f := stream(trs, c.cfg)
				if c.what == "Diagnose" {
					f = Diagnose(trs, c.cfg)
				}
				var got bytes.Buffer
				if err := f.Write(&got); err != nil {
					t.Fatal(err)
				}
				if c.exact {
					if !bytes.Equal(want, got.Bytes()) {
						t.Errorf("%s: differs from the recorded findings:\n%s", c.what, got.String())
					}
					continue
				}
				for _, diff := range compareWithin(want, got.Bytes()) {
					t.Errorf("%s: %s", c.what, diff)
				}
			}
		})
	}
}

// The tolerances of a stream past its bounds, by JSON key (see the package documentation):
// percentiles from an HDR histogram are within its 3 significant digits (the relative error of
// a value is at most 2^-10, plus the rounding to 0.01 ms); what is derived from P99 (shares of
// it, savings capped by it) inherits that error; the median requests are a sample of them:
// their mean times are within 1 % of the endpoint's median latency, and an operation's share of
// the tail's gap over them within 0.1.
var (
	percentileKeys = regexp.MustCompile(`^p\d+_ms$`)
	fromP99Keys    = map[string]bool{"share_of_p99": true, "estimated_saving_ms": true}
	sampledKeys    = map[string]bool{"median_ms": true, "delta_ms": true}
)

const (
	hdrTolerance        = 1.0 / 1024
	medianTolerance     = 0.01
	shareOfGapTolerance = 0.1
)

// compareWithin lists where got differs from want, both findings JSON, beyond the tolerances:
// the findings' kinds, ranking, evidence and counts must be equal; summaries and the median's
// trace ids (a sample's) are not compared.
func compareWithin(want, got []byte) []string {
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		return []string{err.Error()}
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return []string{err.Error()}
	}
	var diffs []string
	median := 0.0 // the median latency of the tail-vs-median comparison being walked
	var walk func(path, key string, w, g any)
	walk = func(path, key string, w, g any) {
		switch wv := w.(type) {
		case map[string]any:
			gv, ok := g.(map[string]any)
			if !ok || len(gv) != len(wv) {
				diffs = append(diffs, fmt.Sprintf("%s: %v, want %v", path, g, w))
				return
			}
			if key == "tail_vs_median" {
				median, _ = wv["median_ms"].(float64)
			}
			for k := range wv {
				walk(path+"."+k, k, wv[k], gv[k])
			}
		case []any:
			gv, ok := g.([]any)
			if key == "median_trace_ids" {
				return
			}
			if !ok || len(gv) != len(wv) {
				diffs = append(diffs, fmt.Sprintf("%s: %v, want %v", path, g, w))
				return
			}
			for i := range wv {
				walk(fmt.Sprintf("%s[%d]", path, i), key, wv[i], gv[i])
			}
		case float64:
			gv, ok := g.(float64)
			tol := 0.0
			switch {
			case percentileKeys.MatchString(key) || fromP99Keys[key]:
				tol = hdrTolerance*math.Abs(wv) + 0.01
			case sampledKeys[key]:
				tol = medianTolerance*median + 0.01
			case key == "share_of_gap":
				tol = shareOfGapTolerance
			}
			if !ok || math.Abs(gv-wv) > tol {
				diffs = append(diffs, fmt.Sprintf("%s: %v, want %v (tolerance %.3g)", path, g, w, tol))
			}
		case string:
			if key != "summary" && w != g {
				diffs = append(diffs, fmt.Sprintf("%s: %v, want %v", path, g, w))
			}
		default:
			if w != g {
				diffs = append(diffs, fmt.Sprintf("%s: %v, want %v", path, g, w))
			}
		}
	}
	walk("", "", w, g)
	return diffs
}

// TestDist: percentiles are the nearest rank's while the values are kept, within the HDR
// histogram's precision past Config.ExactValues, and absent values count as zeros where asked.
func TestDist(t *testing.T) {
	t.Parallel()
	vals := make([]time.Duration, 10_000)
	for i := range vals {
		vals[i] = time.Duration(i*i+1) * time.Microsecond // spread over eight decades
	}
	for _, exact := range []int{len(vals), 100} {
		d := newDist(exact)
		for _, v := range slices.Backward(vals) {
			d.add(v)
		}
		for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
			want, got := percentile(vals, q), d.quantile(q)
			tol := 0.0
			if exact < len(vals) {
				tol = hdrTolerance * float64(want)
			}
			if math.Abs(float64(got-want)) > tol {
				t.Errorf("exact %d: q%v = %v, want %v ± %.0f ns", exact, q, got, want, tol)
			}
		}
	}
	d := newDist(10)
	d.add(5)
	d.add(6)
	for q, want := range map[float64]time.Duration{0.5: 0, 0.6: 0, 0.8: 5, 1: 6} {
		if got := d.quantileWithZeros(q, 3); got != want {
			t.Errorf("q%v with 3 zeros = %v, want %v", q, got, want)
		}
	}
}

// TestMissingDeadlineBounded: past Config.ExactValues calls waiting for the endpoint's P50, the
// threshold is fixed at the P50 so far; where that P50 is the final one, the findings are those
// of the whole-slice analysis.
func TestMissingDeadlineBounded(t *testing.T) {
	t.Parallel()
	var trs []*Trace
	for i := range 60 {
		d := 120.0
		if i%3 == 0 {
			d = 500
		}
		trs = append(trs, svcTrace(fmt.Sprintf("md%02d", i), "/api/profile", d+3, remote("a", "h", "accounts", "/users/7", 1, 1+d, 0.4)))
	}
	var want, got bytes.Buffer
	if err := Diagnose(trs, Config{}).Write(&want); err != nil {
		t.Fatal(err)
	}
	if err := stream(trs, Config{ExactValues: 8}).Write(&got); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(want.String(), string(result.KindMissingDeadline)) {
		t.Fatalf("no missing_deadline in the whole-slice findings:\n%s", want.String())
	}
	for _, diff := range compareWithin(want.Bytes(), got.Bytes()) {
		t.Error(diff)
	}
}

// TestFindingsEndsTheStream: a second call returns the same findings, not the cross-trace
// findings (edge_cacheable) counted twice.
func TestFindingsEndsTheStream(t *testing.T) {
	t.Parallel()
	s := NewStream(Config{})
	for _, tr := range mixedEdge() {
		s.Add(tr)
	}
	if a, b := s.Findings(), s.Findings(); a != b {
		t.Error("Findings returned new findings on its second call")
	}
}
