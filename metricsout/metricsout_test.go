package metricsout

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/result"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

func TestParseOutput(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"prometheus-rw=http://127.0.0.1:9090/api/v1/write": "prometheus-rw=http://127.0.0.1:9090/api/v1/write",
		"otlp=http://127.0.0.1:4318":                       "otlp=http://127.0.0.1:4318/v1/metrics",
		"otlp=https://c.example/":                          "otlp=https://c.example/v1/metrics",
		"otlp=http://c:4318/custom/path":                   "otlp=http://c:4318/custom/path",
	} {
		o, err := ParseOutput(in)
		if err != nil || o.String() != want {
			t.Errorf("ParseOutput(%q) = %v, %v; want %s", in, o, err, want)
		}
	}
	for _, in := range []string{"", "prometheus-rw", "influx=http://x", "otlp=", "otlp=ftp://x", "prometheus-rw=:9090", "otlp=http://"} {
		if _, err := ParseOutput(in); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseOutput(%q) = %v, want ErrConfig", in, err)
		}
	}
}

func FuzzParseOutput(f *testing.F) {
	for _, s := range []string{"prometheus-rw=http://127.0.0.1:9090/api/v1/write", "otlp=http://127.0.0.1:4318", "otlp=", "x=y", "=", "otlp=http://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOutput(s)
		if err != nil {
			return
		}
		if again, err := ParseOutput(o.String()); err != nil || again != o {
			t.Errorf("ParseOutput(%q) = %v, which reads back as %v, %v", s, o, again, err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	o := []Output{{OTLP, "http://127.0.0.1:1/v1/metrics"}}
	for _, c := range []Config{{}, {Outputs: o, Interval: time.Millisecond}, {Outputs: o, Timeout: -time.Second}} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
}

// TestToExpKeepsQuantiles converts a wide distribution and checks the count exactly and every
// quantile within one exponential bucket (0.27 %) plus HDR's own 0.1 %.
func TestToExpKeepsQuantiles(t *testing.T) {
	t.Parallel()
	h := hist.New()
	for i := 1; i <= 20000; i++ {
		h.Record(time.Duration(float64(50*time.Microsecond) * math.Pow(1.0007, float64(i)))) // 50 µs … ~60 s
	}
	e := toExp(h)
	if e.Count != uint64(h.Count()) {
		t.Fatalf("count %d, want %d", e.Count, h.Count())
	}
	if want := h.Mean().Seconds() * float64(h.Count()); math.Abs(e.Sum-want)/want > 0.003 {
		t.Errorf("sum %.4f s, want %.4f s ± 0.3 %%", e.Sum, want)
	}
	base := math.Pow(2, math.Pow(2, -Scale))
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
		// The upper bound of the bucket where the q-th value falls, as histogram_quantile sees it.
		rank := uint64(math.Ceil(q * float64(e.Count)))
		var cum uint64
		var got float64
		for i, c := range e.Counts {
			if cum += c; cum >= rank {
				got = math.Pow(base, float64(e.Offset+int32(i)))
				break
			}
		}
		want := h.Quantile(q).Seconds()
		if rel := math.Abs(got-want) / want; rel > 0.0027+0.001 {
			t.Errorf("q%.3f: bucket bound %.6f s, HDR %.6f s (%.3f %% apart, want ≤ 0.37 %%)", q, got, want, 100*rel)
		}
	}
}

// otlpReceiver is a tiny OTLP/HTTP metrics receiver: it keeps the last export request.
type otlpReceiver struct {
	mu   sync.Mutex
	last pmetric.Metrics
	n    int
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, err := io.ReadAll(req.Body)
	er := pmetricotlp.NewExportRequest()
	if err == nil {
		err = er.UnmarshalProto(b)
	}
	if err != nil || req.URL.Path != "/v1/metrics" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.last, r.n = er.Metrics(), r.n+1
	r.mu.Unlock()
	resp, _ := pmetricotlp.NewExportResponse().MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// runLoad drives a local server for 3 s at 100/s with exp watching it as target "t", phase "load".
func runLoad(t *testing.T, exp *Exporter) (requests, errs int64, latency *hist.Histogram) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	l, err := loadgen.Run(t.Context(), loadgen.Config{
		Targets: []loadgen.Target{{URL: srv.URL}}, Arrival: loadgen.Arrival{Kind: loadgen.ArrivalConstant, Rate: 100},
		Duration: 3 * time.Second, Warmup: 500 * time.Millisecond,
	}, exp.Watch("t", "load"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := hist.Decode(l.Histograms.Latency)
	if err != nil {
		t.Fatal(err)
	}
	return l.Requests, l.Errors, h
}

// TestOTLP runs a load with an OTLP output to a receiver in the test: the final export holds
// exactly the run's requests, errors and latency count, with a mean within 0.3 % of the run's.
func TestOTLP(t *testing.T) {
	t.Parallel()
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	o, err := ParseOutput("otlp=" + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := New(Config{Outputs: []Output{o}, Interval: time.Second, RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	reqs, errs, lat := runLoad(t, exp)
	if err := exp.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.n < 2 {
		t.Errorf("%d exports, want the periodic ones and the last", rcv.n)
	}
	got := map[string]pmetric.Metric{}
	ms := rcv.last.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := range ms.Len() {
		got[ms.At(i).Name()] = ms.At(i)
	}
	sum := func(name string) int64 {
		m, ok := got[name]
		if !ok || m.Type() != pmetric.MetricTypeSum || !m.Sum().IsMonotonic() {
			t.Fatalf("%s: missing or not a monotonic sum", name)
		}
		dp := m.Sum().DataPoints().At(0)
		if v, _ := dp.Attributes().Get("run_id"); v.Str() != "r1" {
			t.Errorf("%s: run_id %q", name, v.Str())
		}
		return dp.IntValue()
	}
	if n := sum("headroom.requests"); n != reqs || reqs < 250 {
		t.Errorf("headroom.requests %d, the run's %d", n, reqs)
	}
	if n := sum("headroom.request.errors"); n != errs {
		t.Errorf("headroom.request.errors %d, the run's %d", n, errs)
	}
	m := got["headroom.request.latency"]
	if m.Type() != pmetric.MetricTypeExponentialHistogram || m.Unit() != "s" {
		t.Fatalf("headroom.request.latency: %v in %q", m.Type(), m.Unit())
	}
	dp := m.ExponentialHistogram().DataPoints().At(0)
	var inBuckets uint64
	for _, c := range dp.Positive().BucketCounts().AsRaw() {
		inBuckets += c
	}
	if dp.Scale() != Scale || dp.Count() != uint64(lat.Count()) || inBuckets != dp.Count() {
		t.Errorf("scale %d count %d (buckets %d), want scale %d count %d", dp.Scale(), dp.Count(), inBuckets, Scale, lat.Count())
	}
	if mean, want := dp.Sum()/float64(dp.Count()), lat.Mean().Seconds(); math.Abs(mean-want)/want > 0.003 {
		t.Errorf("mean %.6f s, the run's %.6f s", mean, want)
	}
}

// TestPushFailureReported: an output that refuses every push makes Close say so.
func TestPushFailureReported(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusBadRequest) }))
	defer srv.Close()
	exp, err := New(Config{Outputs: []Output{{PrometheusRW, srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	exp.Watch("t", "p")(loadgen.Progress{Requests: 1})
	if err := exp.Close(context.Background()); err == nil {
		t.Error("Close = nil after a refused push")
	}
}

func BenchmarkWatch(b *testing.B) {
	h := hist.New()
	for i := range 1000 {
		h.Record(time.Duration(i) * 10 * time.Microsecond)
	}
	enc, err := h.Encode()
	if err != nil {
		b.Fatal(err)
	}
	exp, err := New(Config{Outputs: []Output{{OTLP, "http://127.0.0.1:1/v1/metrics"}}, Interval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = exp.Close(context.Background()) }) // the push to port 1 fails; only Watch is measured
	w := exp.Watch("t", "p")
	b.ResetTimer()
	for i := range b.N {
		w(loadgen.Progress{Requests: int64(i), Second: result.Second{Latency: enc}})
	}
}

// TestClassicBuckets: the classic buckets are cumulative, end with +Inf at the count, and each
// holds the HDR values at or below its bound, give or take the values within one exponential
// bucket (0.27 %) under it.
func TestClassicBuckets(t *testing.T) {
	t.Parallel()
	h := hist.New()
	for i := 1; i <= 5000; i++ {
		h.Record(time.Duration(i) * 20 * time.Microsecond) // 20 µs … 100 ms, evenly
	}
	e := toExp(h)
	ps := classic(point{metric: mLatency, hist: &e})
	if n := len(ClassicBounds) + 3; len(ps) != n {
		t.Fatalf("%d series, want %d", len(ps), n)
	}
	prev := 0.0
	for i, le := range ClassicBounds {
		got := ps[i].value
		if got < prev {
			t.Errorf("le=%v: %v below the previous bucket's %v", le, got, prev)
		}
		prev = got
		// Values are multiples of 20 µs: those ≤ le, and those within 0.27 % + HDR's 0.1 % under it.
		want := math.Min(math.Floor(le/20e-6), 5000)
		if slack := math.Ceil(le * 0.0037 / 20e-6); math.Abs(got-want) > slack {
			t.Errorf("le=%v: %v, want %v ± %v", le, got, want, slack)
		}
	}
	if inf := ps[len(ClassicBounds)]; inf.le != "+Inf" || inf.value != 5000 {
		t.Errorf("last bucket le=%s %v, want +Inf 5000", inf.le, inf.value)
	}
}
