package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/internal/statuswriter"
)

// handle registers h under pattern behind the instrumentation: server span, metrics, access log.
func (a *API) handle(pattern string, h http.HandlerFunc) {
	a.routes = append(a.routes, pattern)
	inner := a.accessLog(pattern, h)
	inner = a.measure(pattern, inner)
	inner = profileLabels(pattern, inner)
	a.mux.Handle(pattern, otelhttp.NewHandler(inner, pattern,
		otelhttp.WithTracerProvider(a.cfg.TracerProvider),
		otelhttp.WithPropagators(a.cfg.Propagator),
		otelhttp.WithSpanNameFormatter(func(string, *http.Request) string { return pattern }),
	))
}

// profileLabels runs next with the pprof label http.route set, so CPU profiles of the lab can be
// split per endpoint (goroutines the handler starts inherit the label).
func profileLabels(route string, next http.Handler) http.Handler {
	labels := pprof.Labels("http.route", route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.Do(r.Context(), labels, func(ctx context.Context) { next.ServeHTTP(w, r.WithContext(ctx)) })
	})
}

// metrics are the API's Prometheus collectors.
type metrics struct {
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	cache    *prometheus.CounterVec
	shipErrs prometheus.Counter
	auth     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, store Store, logs LogShipper) (*metrics, error) {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "lab_http_request_duration_seconds",
			Help:                            "Time to serve an API request, by route, method and status code.",
			Buckets:                         []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lab_http_requests_in_flight",
			Help: "API requests being served right now.",
		}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lab_cache_requests_total",
			Help: "Feed cache lookups by result (hit, miss, error).",
		}, []string{"result"}),
		shipErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lab_log_ship_errors_total",
			Help: "Synchronous log shipments that failed.",
		}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lab_auth_checks_total",
			Help: "Session checks by source (edge: a trusted edge identity; db: token and database; none: no credential) and result (ok, missing, invalid, expired, revoked, error).",
		}, []string{"source", "result"}),
	}
	pool := func(name, help string, f func(lab.PoolStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(store.PoolStats()) })
	}
	cs := []prometheus.Collector{m.duration, m.inFlight, m.cache, m.shipErrs, m.auth,
		pool("lab_db_pool_max_connections", "Maximum connections of the database pool.", func(s lab.PoolStats) float64 { return float64(s.MaxOpen) }),
		pool("lab_db_pool_open_connections", "Open connections of the database pool.", func(s lab.PoolStats) float64 { return float64(s.Open) }),
		pool("lab_db_pool_in_use_connections", "Connections in use (utilization).", func(s lab.PoolStats) float64 { return float64(s.InUse) }),
		pool("lab_db_pool_idle_connections", "Idle connections of the database pool.", func(s lab.PoolStats) float64 { return float64(s.Idle) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lab_db_pool_waits_total", Help: "Waits for a free connection (saturation)."},
			func() float64 { return float64(store.PoolStats().WaitCount) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lab_db_pool_wait_seconds_total", Help: "Time spent waiting for a free connection."},
			func() float64 { return store.PoolStats().WaitDuration.Seconds() }),
	}
	if st, ok := logs.(interface {
		Shipped() int64
		Dropped() int64
		Queued() int
	}); ok {
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lab_log_lines_shipped_total", Help: "Log lines the collector accepted."},
				func() float64 { return float64(st.Shipped()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lab_log_lines_dropped_total", Help: "Log lines dropped because the shipping queue was full."},
				func() float64 { return float64(st.Dropped()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lab_log_queue_lines", Help: "Log lines waiting to be shipped."},
				func() float64 { return float64(st.Queued()) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// measure records RED metrics for one route, with the trace id as exemplar.
func (a *API) measure(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.metrics.inFlight.Inc()
		defer a.metrics.inFlight.Dec()
		start := time.Now()
		sw := statuswriter.New(w)
		next.ServeHTTP(sw, r)
		obs := a.metrics.duration.WithLabelValues(route, r.Method, strconv.Itoa(sw.Status()))
		secs := time.Since(start).Seconds()
		if sc := trace.SpanContextFromContext(r.Context()); sc.IsSampled() {
			obs.(prometheus.ExemplarObserver).ObserveWithExemplar(secs, prometheus.Labels{"trace_id": sc.TraceID().String()})
			return
		}
		obs.Observe(secs)
	})
}

// bufferedWriter holds the response until the access log line is shipped, so that under
// sync_logging the client really waits for the collector (as it would with a blocking logger).
type bufferedWriter struct {
	http.ResponseWriter
	code int
	buf  bytes.Buffer
}

func (b *bufferedWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.buf.Write(p)
}

// accessLog writes one JSON line per request to the logger and ships it to the collector:
// synchronously when sync_logging is on, through the bounded background queue otherwise.
func (a *API) accessLog(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		bw := &bufferedWriter{ResponseWriter: w}
		next.ServeHTTP(bw, r)
		if bw.code == 0 {
			bw.code = http.StatusOK
		}
		ctx := r.Context()
		dur := time.Since(start)
		level := slog.LevelInfo
		if bw.code >= 500 {
			level = slog.LevelError
		}
		a.cfg.Logger.LogAttrs(ctx, level, "request", slog.String("route", route), slog.String("path", r.URL.Path),
			slog.Int("status", bw.code), slog.Float64("duration_ms", float64(dur.Microseconds())/1000))
		if a.cfg.Logs != nil {
			sc := trace.SpanContextFromContext(ctx)
			line, _ := json.Marshal(map[string]any{
				"time": start.UTC().Format(time.RFC3339Nano), "level": level.String(), "msg": "request",
				"route": route, "path": r.URL.Path, "status": bw.code, "duration_ms": float64(dur.Microseconds()) / 1000,
				"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String(),
			})
			if a.cfg.Switches.On(lab.SyncLogging) {
				if err := a.cfg.Logs.ShipSync(ctx, line); err != nil {
					a.metrics.shipErrs.Inc()
					a.cfg.Logger.WarnContext(ctx, "log shipping failed", slog.Any("error", err))
				}
			} else {
				a.cfg.Logs.Enqueue(line)
			}
		}
		w.WriteHeader(bw.code)
		_, _ = w.Write(bw.buf.Bytes())
	})
}
