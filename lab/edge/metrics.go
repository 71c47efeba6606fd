package edge

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab/isolate"
)

// metrics are the node's Prometheus series (docs/lab.md lists them).
type metrics struct {
	requests       *prometheus.CounterVec
	origin         *prometheus.HistogramVec
	originErrors   prometheus.Counter
	cache          *prometheus.CounterVec
	functionTime   *prometheus.HistogramVec
	functionErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "headroom_edge_requests_total",
			Help: "Requests the edge node answered, by route, by who answered (cache, origin, function:NAME) and status code."},
			[]string{"route", "answered_by", "code"}),
		origin: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "headroom_edge_origin_seconds",
			Help:    "Time of the node's origin fetches, across the edge ↔ origin link, by pool.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), NativeHistogramBucketFactor: 1.1},
			[]string{"pool"}),
		originErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "headroom_edge_origin_errors_total",
			Help: "Origin fetches that failed (connection refused, reset, timeout): answered 502 unless the cache had a stale copy."}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "headroom_edge_cache_total",
			Help: "Requests through the edge cache by result: hit, miss, stale, bypass, collapsed (waited for another's fetch), revalidated (304 from the origin)."},
			[]string{"result"}),
		functionTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "headroom_edge_function_seconds",
			Help:    "Time of each edge function call, its isolate's start included when cold, by function and cold (true: a new instance).",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 18), NativeHistogramBucketFactor: 1.1},
			[]string{"function", "cold"}),
		functionErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "headroom_edge_function_errors_total",
			Help: "Edge function calls that failed, by function and reason: cpu_limit, memory_limit, busy (no isolate within the node's budget), error."},
			[]string{"function", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.origin, m.originErrors, m.cache, m.functionTime, m.functionErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// watchIsolates exports the isolate pool's size, read at each scrape.
func (m *metrics) watchIsolates(reg prometheus.Registerer, rt *isolate.Runtime) error {
	for _, st := range []struct {
		state string
		n     func(isolate.PoolStats) int
	}{{"idle", func(s isolate.PoolStats) int { return s.Idle }}, {"busy", func(s isolate.PoolStats) int { return s.Busy }}, {"max", func(s isolate.PoolStats) int { return s.Max }}} {
		g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "headroom_edge_isolates", ConstLabels: prometheus.Labels{"state": st.state},
			Help: "Edge function instances (isolates): idle, busy, and the most the node's memory budget allows (max)."},
			func() float64 { return float64(st.n(rt.Stats())) })
		if err := reg.Register(g); err != nil {
			return err
		}
	}
	return nil
}
