package loadgen

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
