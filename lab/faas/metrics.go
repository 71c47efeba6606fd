package faas

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	instances   *prometheus.GaugeVec
	coldStarts  *prometheus.CounterVec
	throttles   *prometheus.CounterVec
	invocations *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	coldStart   *prometheus.HistogramVec
	billed      *prometheus.CounterVec
}

// newMetrics makes the platform's metrics and registers them with reg (nil: none).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	buckets := prometheus.ExponentialBuckets(0.0001, 2, 18) // 100 µs to 13 s
	m := &metrics{
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "headroom_faas_instances", Help: "Function instances by state (idle, busy: starting or invoked)."},
			[]string{"function", "state"}),
		coldStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_faas_cold_starts_total", Help: "Instances started for an invocation that found none idle."},
			[]string{"function"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_faas_throttles_total", Help: "Invocations refused at the function's concurrency limit (429)."},
			[]string{"function"}),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_faas_invocations_total", Help: "Invocations by outcome (ok, throttled, timeout, out_of_memory, crashed, init_error, closed)."},
			[]string{"function", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "headroom_faas_invocation_duration_seconds", Help: "Invocation duration on the instance, cold start excluded.", Buckets: buckets},
			[]string{"function", "coldstart"}),
		coldStart: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "headroom_faas_cold_start_seconds", Help: "Cold start phases: start (fork/exec or module instantiation, to first byte), init (to handler ready).", Buckets: buckets},
			[]string{"function", "phase"}),
		billed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_faas_billed_gigabyte_seconds_total", Help: "GB-seconds billed: duration (init included) rounded up to 1 ms, times memory size."},
			[]string{"function"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.instances, m.coldStarts, m.throttles, m.invocations, m.duration, m.coldStart, m.billed} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
