package loadgen

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSamples: Config.Samples receives every request of the measured period, none of the
// warm-up, with its times, latency, status, body bytes, error kind, trace id and target, in
// both formats and on every engine.
func TestSamples(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r) // "404 page not found\n": 19 bytes
			return
		}
		_, _ = w.Write([]byte("hello"))
	}))
	t.Cleanup(srv.Close)
	eachEngine(t, openEngines, func(t *testing.T, ec engineCase) {
		for _, format := range SamplesFormats {
			var out bytes.Buffer
			before := time.Now()
			l := run(t, t.Context(), ec.config(Config{Targets: []Target{{URL: srv.URL}, {URL: srv.URL + "/missing"}},
				Arrival: Arrival{Rate: 100}, Warmup: 300 * time.Millisecond, Duration: time.Second, Samples: &out, SamplesFormat: format}))
			var rows [][]string
			if format == SamplesCSV {
				all, err := csv.NewReader(&out).ReadAll()
				if err != nil || len(all) == 0 || strings.Join(all[0], ",") != strings.Join(SamplesHeader, ",") {
					t.Fatalf("csv: %v, header %v", err, all)
				}
				rows = all[1:]
			} else {
				for line := range strings.Lines(out.String()) {
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatalf("jsonl line %q: %v", line, err)
					}
					row := make([]string, len(SamplesHeader))
					for i, k := range SamplesHeader {
						row[i] = strings.Trim(strconv.Quote(toString(m[k])), `"`)
					}
					rows = append(rows, row)
				}
			}
			if int64(len(rows)) != l.Requests || l.Generator.SamplesWritten != l.Requests || l.Generator.SamplesDropped != 0 {
				t.Fatalf("%s: %d samples, %d written, %d dropped, for %d requests", format, len(rows), l.Generator.SamplesWritten, l.Generator.SamplesDropped, l.Requests)
			}
			for _, r := range rows {
				intended, err1 := time.Parse(time.RFC3339Nano, r[0])
				sent, err2 := time.Parse(time.RFC3339Nano, r[1])
				lat, err3 := strconv.ParseFloat(r[2], 64)
				if err1 != nil || err2 != nil || err3 != nil || intended.Before(before.Add(300*time.Millisecond-time.Millisecond)) || sent.Before(intended) || lat < 0 {
					t.Fatalf("%s: row %v: intended %v (run started after %v), sent %v, latency %v", format, r, intended, before, sent, lat)
				}
				want := []string{"200", "5", "", "0"}
				if r[8] == "1" {
					want = []string{"404", "19", "status_404", "1"}
				}
				if got := []string{r[4], r[5], r[6], r[8]}; strings.Join(got, ",") != strings.Join(want, ",") || len(r[7]) != 32 {
					t.Fatalf("%s: row %v: status, bytes, error, target %v, want %v and a trace id", format, r, got, want)
				}
			}
		}
	})
}

// TestSamplesFieldsContinue: runs that share one Samples (a sweep's steps) write one CSV header,
// and every sample carries its run's SamplesFields after the standard fields, in both formats.
func TestSamplesFieldsContinue(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	for _, format := range SamplesFormats {
		var out bytes.Buffer
		var want []int64 // requests per run
		for i, rate := range []float64{40, 62.5} {
			l := run(t, t.Context(), Config{Targets: []Target{{URL: srv.URL}}, Arrival: Arrival{Rate: rate}, Duration: 400 * time.Millisecond,
				Samples: &out, SamplesFormat: format, SamplesContinue: i > 0,
				SamplesFields: []SamplesField{{Name: "step", Value: float64(i)}, {Name: "offered_rps", Value: rate}}})
			want = append(want, l.Requests)
		}
		got := make([]int64, 2)
		lines := slices.Collect(strings.Lines(out.String()))
		if format == SamplesCSV {
			if header := strings.TrimSpace(lines[0]); header != strings.Join(SamplesHeader, ",")+",step,offered_rps" {
				t.Fatalf("csv header %q", header)
			}
			lines = lines[1:]
		}
		for _, line := range lines {
			var step, rate string
			if format == SamplesCSV {
				f := strings.Split(strings.TrimSpace(line), ",")
				if len(f) != len(SamplesHeader)+2 {
					t.Fatalf("csv line %q: %d fields, want %d (a second header?)", line, len(f), len(SamplesHeader)+2)
				}
				step, rate = f[len(f)-2], f[len(f)-1]
			} else {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("jsonl line %q: %v", line, err)
				}
				step, rate = toString(m["step"]), toString(m["offered_rps"])
			}
			switch step + "/" + rate {
			case "0/40":
				got[0]++
			case "1/62.5":
				got[1]++
			default:
				t.Fatalf("%s line %q: step %q at %q req/s, want 0 at 40 or 1 at 62.5", format, line, step, rate)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: samples per run %v, want the runs' requests %v", format, got, want)
		}
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func BenchmarkRecordSamples(b *testing.B) {
	r := newRecorder(0, nil)
	r.keepSamples()
	s := sample{due: time.Second, pickup: time.Second, sent: time.Second, done: time.Second + 3*time.Millisecond, status: 200}
	spare := make([]sampleRec, 0, samplesBatch)
	for b.Loop() {
		r.record(&s)
		if len(r.samples) == cap(r.samples) {
			spare = r.takeSamples(spare[:0])
		}
	}
}
