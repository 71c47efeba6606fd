package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/headroom/headroom/result"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// TestSweepMetricsPerStep sweeps fixed steps with --metrics otlp=… to a receiver in the test: each
// step is a phase of its own, and its requests counter equals the step's requests.
func TestSweepMetricsPerStep(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	requests := map[string]int64{} // phase → the last export's headroom.requests
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		er := pmetricotlp.NewExportRequest()
		if err := er.UnmarshalProto(b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rms := er.Metrics().ResourceMetrics()
		mu.Lock()
		defer mu.Unlock()
		for i := range rms.Len() {
			ms := rms.At(i).ScopeMetrics().At(0).Metrics()
			for j := range ms.Len() {
				if ms.At(j).Name() != "headroom.requests" {
					continue
				}
				dps := ms.At(j).Sum().DataPoints()
				for k := range dps.Len() {
					ph, _ := dps.At(k).Attributes().Get("phase")
					requests[ph.Str()] = dps.At(k).IntValue()
				}
			}
		}
	}))
	defer rcv.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "sweep.json")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"sweep", srv.URL, "--slo", "p99<1s", "--steps", "20,40", "--step", "1s", "--warmup", "200ms", "--no-verify",
		"-q", "--out", out, "--metrics", "otlp=" + rcv.URL, "--metrics-interval", "1s"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "warning") {
		t.Fatal(stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sw, err := result.ReadSweep(f)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var phases []string
	for ph := range requests {
		phases = append(phases, ph)
	}
	slices.Sort(phases)
	if len(sw.Steps) != 2 || !slices.Equal(phases, []string{"step 1", "step 2"}) {
		t.Fatalf("%d steps, phases %v: want 2, step 1 and step 2", len(sw.Steps), phases)
	}
	for i, st := range sw.Steps {
		if ph := phases[i]; requests[ph] != st.Requests {
			t.Errorf("%s: headroom.requests %d, the step's %d", ph, requests[ph], st.Requests)
		}
	}
}
