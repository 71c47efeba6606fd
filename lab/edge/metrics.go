package edge

import "github.com/prometheus/client_golang/prometheus"

// metrics are the node's Prometheus series (docs/lab.md lists them).
type metrics struct {
	requests     *prometheus.CounterVec
	origin       *prometheus.HistogramVec
	originErrors prometheus.Counter
	cache        *prometheus.CounterVec
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
	}
	for _, c := range []prometheus.Collector{m.requests, m.origin, m.originErrors, m.cache} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
