package loadstep_test

import (
	"net/http"
	"net/http/httptest"
	"os"
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
