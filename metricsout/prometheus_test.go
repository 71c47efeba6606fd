package metricsout

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/headroom/headroom/internal/promtest"
)

// TestPrometheusRemoteWrite pushes a load run to a real Prometheus (remote-write receiver on)
// and queries it back. With native histograms on and Both sent: the requests and errors counters
// equal the run's exactly, so do the native and the classic histograms' counts, and the native
// P99 is within 1 % of the run's (the conversion's 0.27 % bucket plus HDR's 0.1 %, and
// histogram_quantile's interpolation inside a bucket). Without the feature flag Prometheus refuses
// native histograms, and Classic alone is stored.
func TestPrometheusRemoteWrite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		hs    Histograms
		flags []string
	}{
		{"native", Both, []string{"--enable-feature=native-histograms"}},
		{"classic", Classic, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prom := promtest.Start(t, "global: {}\n", append([]string{"--web.enable-remote-write-receiver"}, tc.flags...)...)
			exp, err := New(Config{Outputs: []Output{{PrometheusRW, prom + "/api/v1/write"}}, Interval: time.Second, RunID: "rw1", Histograms: tc.hs})
			if err != nil {
				t.Fatal(err)
			}
			reqs, errs, lat := runLoad(t, exp)
			if err := exp.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			sel := `{run_id="rw1",target="t",phase="load"}`
			want := map[string]float64{
				"headroom_requests_total" + sel:                                   float64(reqs),
				"headroom_request_errors_total" + sel:                             float64(errs),
				"headroom_request_latency_seconds_count" + sel:                    float64(lat.Count()),
				`headroom_request_latency_seconds_bucket{le="+Inf",run_id="rw1"}`: float64(lat.Count()),
			}
			if tc.hs != Classic {
				want["histogram_count(headroom_request_latency_seconds"+sel+")"] = float64(lat.Count())
			}
			for q, want := range want {
				if got, err := promtest.Value(t.Context(), prom, q); err != nil || got != want {
					t.Errorf("%s = %v, %v; want %v", q, got, err, want)
				}
			}
			if tc.hs == Classic {
				return
			}
			p99, err := promtest.Value(t.Context(), prom, "histogram_quantile(0.99, headroom_request_latency_seconds"+sel+")")
			if err != nil {
				t.Fatal(err)
			}
			hdr := lat.Quantile(0.99).Seconds()
			t.Logf("P99: Prometheus %.6f s, headroom %.6f s; %d requests", p99, hdr, reqs)
			if math.Abs(p99-hdr)/hdr > 0.01 {
				t.Errorf("histogram_quantile(0.99) %.6f s, headroom's P99 %.6f s: more than 1 %% apart", p99, hdr)
			}
		})
	}
}
