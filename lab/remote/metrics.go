package remote

import (
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a client's Prometheus series; the peer is a constant label, so the clients of
// several peers share one Registerer.
type metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	attempts *prometheus.CounterVec
	budget   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, peer string, breaker circuitbreaker.CircuitBreaker[[]byte]) (*metrics, error) {
	peerLabel := prometheus.Labels{"peer": peer}
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "headroom_remote_calls_total", ConstLabels: peerLabel,
			Help: "Logical remote calls by peer, route and outcome: ok, or the error type (timeout, connection_refused, circuit_open, bulkhead_full, budget_exhausted, a status code)."},
			[]string{"route", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "headroom_remote_call_seconds", ConstLabels: peerLabel,
			Help:    "Time of logical remote calls, retries, backoff and hedges included, by peer and route.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18), NativeHistogramBucketFactor: 1.1},
			[]string{"route"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "headroom_remote_attempts_total", ConstLabels: peerLabel,
			Help: "Attempts of remote calls by peer, route, kind (first, retry, hedge) and result (ok or the error type): attempts per call above 1 are retries and hedges."},
			[]string{"route", "kind", "result"}),
		budget: prometheus.NewCounter(prometheus.CounterOpts{Name: "headroom_remote_budget_rejections_total", ConstLabels: peerLabel,
			Help: "Retries the retry budget refused, by peer."}),
	}
	cs := []prometheus.Collector{m.calls, m.duration, m.attempts, m.budget}
	if breaker != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "headroom_remote_breaker_state", ConstLabels: peerLabel,
			Help: "The peer's circuit breaker: 0 closed, 1 open, 2 half-open."},
			func() float64 { return float64(breaker.State()) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
