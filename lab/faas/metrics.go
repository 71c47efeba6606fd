package faas

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	instances   *prometheus.GaugeVec
	provisioned *prometheus.GaugeVec
	coldStarts  *prometheus.CounterVec
	throttles   *prometheus.CounterVec
	invocations *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	coldStart   *prometheus.HistogramVec
	billed      *prometheus.CounterVec
}

// newMetrics makes the platform's metrics and registers them with reg (nil: none).
// provisionedGBs reads each function's provisioned GB-s when they are collected: they accrue
// with time, not with events.
func newMetrics(reg prometheus.Registerer, provisionedGBs func() map[string]float64) (*metrics, error) {
	buckets := prometheus.ExponentialBuckets(0.0001, 2, 18) // 100 µs to 13 s
	m := &metrics{
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "headroom_faas_instances", Help: "Function instances by state (idle, busy: starting or invoked), provisioned ones included."},
			[]string{"function", "state"}),
		provisioned: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "headroom_faas_provisioned_instances", Help: "Provisioned instances initialised (idle or invoked); below the function's provisioned concurrency while they start or are replaced."},
			[]string{"function"}),
		coldStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_faas_cold_starts_total", Help: "Instances started for an invocation that found none idle."},
			[]string{"function"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_faas_throttles_total", Help: "Invocations refused at the function's concurrency limit (429)."},
			[]string{"function"}),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_faas_invocations_total", Help: "Invocations by trigger (http; timer: keep-warm pings) and outcome (ok, throttled, timeout, out_of_memory, crashed, init_error, closed)."},
			[]string{"function", "trigger", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "headroom_faas_invocation_duration_seconds", Help: "Invocation duration on the instance, cold start excluded.", Buckets: buckets},
			[]string{"function", "coldstart"}),
		coldStart: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "headroom_faas_cold_start_seconds", Help: "Cold start phases: start (fork/exec or module instantiation, to first byte), init (to handler ready).", Buckets: buckets},
			[]string{"function", "phase"}),
		billed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_faas_billed_gigabyte_seconds_total", Help: "GB-seconds billed: duration (init included) rounded up to 1 ms, times memory size; provisioned=true: served by a provisioned instance (Lambda prices them lower)."},
			[]string{"function", "provisioned"}),
	}
	if reg != nil {
		gbs := gbSecondsCollector{desc: prometheus.NewDesc("headroom_faas_provisioned_gigabyte_seconds_total",
			"GB-seconds of provisioned concurrency: memory size times provisioned instances times the time they have been configured, what Lambda bills for it whether they serve or not.",
			[]string{"function"}, nil), read: provisionedGBs}
		for _, c := range []prometheus.Collector{m.instances, m.provisioned, m.coldStarts, m.throttles, m.invocations, m.duration, m.coldStart, m.billed, gbs} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// gbSecondsCollector is a counter per function whose value is read when collected.
type gbSecondsCollector struct {
	desc *prometheus.Desc
	read func() map[string]float64
}

func (c gbSecondsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c gbSecondsCollector) Collect(ch chan<- prometheus.Metric) {
	for name, v := range c.read() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, v, name)
	}
}
