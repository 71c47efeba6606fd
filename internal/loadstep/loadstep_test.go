package loadstep_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/cpusample"
	"github.com/headroom/headroom/internal/loadstep"
	"github.com/headroom/headroom/loadgen"
)

func TestStep(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	watched := 0
	s := &loadstep.Stepper{
		Base: loadgen.Config{Targets: []loadgen.Target{{Method: "GET", URL: srv.URL}}, Model: "open",
			Arrival: loadgen.Arrival{Kind: "constant"}, Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond, Connections: 4},
		CPU: cpusample.Proc{PID: os.Getpid()}, Cores: 1,
		Watch: func(total time.Duration) (func(loadgen.Progress), func()) {
			if total != 600*time.Millisecond {
				t.Errorf("watch total %v, want the step's 600ms with its warm-up", total)
			}
			return nil, func() { watched++ }
		},
	}
	m, err := s.Step(t.Context(), 40)
	if err != nil {
		t.Fatal(err)
	}
	// 40 req/s for 0.5 s: 20 requests due, the constant schedule sends every one.
	if m.Load.Requests < 18 || m.Load.Requests > 22 {
		t.Errorf("%d requests at 40 req/s over 0.5 s, want 20 ± 2", m.Load.Requests)
	}
	if m.Utilization == nil || m.Utilization.CPUCores < 0 || m.Utilization.Share > 1 {
		t.Errorf("utilization %+v, want a share in [0, 1] from this process's CPU", m.Utilization)
	}
	if watched != 1 {
		t.Errorf("watch done called %d times, want 1", watched)
	}
}

// TestStepSamples: the steps of one Stepper write their samples to Base.Samples as one stream,
// one header, each sample marked with its step's index and rate.
func TestStepSamples(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	var out bytes.Buffer
	s := &loadstep.Stepper{Base: loadgen.Config{Targets: []loadgen.Target{{URL: srv.URL}}, Duration: 300 * time.Millisecond, Samples: &out}}
	rates := []float64{20, 40}
	perStep := map[string]int64{}
	for i, rate := range rates {
		m, err := s.Step(t.Context(), rate)
		if err != nil {
			t.Fatal(err)
		}
		perStep[fmt.Sprintf("%d,%g", i, rate)] = m.Load.Requests
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rows[0], ","), strings.Join(loadgen.SamplesHeader, ",")+","+loadstep.StepField+","+loadstep.RateField; got != want {
		t.Fatalf("header %q, want %q", got, want)
	}
	got := map[string]int64{}
	for _, r := range rows[1:] {
		got[strings.Join(r[len(r)-2:], ",")]++
	}
	if !maps.Equal(got, perStep) {
		t.Errorf("samples per step,rate %v, want the steps' requests %v", got, perStep)
	}
}

// TestBaseRate: bursts of 3× for 1 s every 5 s over a base b have the mean b·(1 + 2/5); other
// arrivals' rate is their mean; zero burst fields stand for loadgen's defaults (5×, 1 s, 10 s).
func TestBaseRate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a          loadgen.Arrival
		mean, want float64
	}{
		{loadgen.Arrival{Kind: loadgen.ArrivalConstant}, 140, 140},
		{loadgen.Arrival{Kind: loadgen.ArrivalPoisson}, 140, 140},
		{loadgen.Arrival{Kind: loadgen.ArrivalBursts, Factor: 3, Length: time.Second, Period: 5 * time.Second}, 140, 100},
		{loadgen.Arrival{Kind: loadgen.ArrivalBursts}, 140, 100},
	} {
		if got := loadstep.BaseRate(c.a, c.mean); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%+v at a mean of %v: base %v, want %v", c.a, c.mean, got, c.want)
		}
	}
}
