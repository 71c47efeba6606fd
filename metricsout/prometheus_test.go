package metricsout

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/headroom/headroom/internal/promtest"
)

// TestPrometheusRemoteWrite pushes a load run to a real Prometheus (remote-write receiver and
// native histograms on) and queries it back: the requests and errors counters equal the run's
// exactly, so does the native histogram's count, and its P99 is within 1 % of the run's
// (the conversion's 0.27 % bucket plus HDR's 0.1 %, and histogram_quantile's interpolation
// inside a bucket).
func TestPrometheusRemoteWrite(t *testing.T) {
	t.Parallel()
	prom := promtest.Start(t, "global: {}\n", "--web.enable-remote-write-receiver", "--enable-feature=native-histograms")
	exp, err := New(Config{Outputs: []Output{{PrometheusRW, prom + "/api/v1/write"}}, Interval: time.Second, RunID: "rw1"})
	if err != nil {
		t.Fatal(err)
	}
	reqs, errs, lat := runLoad(t, exp)
	if err := exp.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sel := `{run_id="rw1",target="t",phase="load"}`
	for q, want := range map[string]float64{
		"headroom_requests_total" + sel:                                float64(reqs),
		"headroom_request_errors_total" + sel:                          float64(errs),
		"histogram_count(headroom_request_latency_seconds" + sel + ")": float64(lat.Count()),
	} {
		if got, err := promtest.Value(t.Context(), prom, q); err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", q, got, err, want)
		}
	}
	p99, err := promtest.Value(t.Context(), prom, "histogram_quantile(0.99, headroom_request_latency_seconds"+sel+")")
	if err != nil {
		t.Fatal(err)
	}
	want := lat.Quantile(0.99).Seconds()
	t.Logf("P99: Prometheus %.6f s, headroom %.6f s; %d requests", p99, want, reqs)
	if math.Abs(p99-want)/want > 0.01 {
		t.Errorf("histogram_quantile(0.99) %.6f s, headroom's P99 %.6f s: more than 1 %% apart", p99, want)
	}
}
