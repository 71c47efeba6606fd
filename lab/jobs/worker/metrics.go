package worker

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	attempts, failures, duplicates *prometheus.CounterVec
	finished, dead                 *prometheus.CounterVec
	wait, run                      *prometheus.HistogramVec
}

// jobBuckets span a no-op job's milliseconds to a long job's minutes.
var jobBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

func newMetrics(reg prometheus.Registerer, w *Worker) (*metrics, error) {
	hist := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: jobBuckets,
			NativeHistogramBucketFactor: 1.1}, []string{"queue"})
	}
	m := &metrics{
		attempts:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lab_jobs_attempts_total", Help: "Deliveries of jobs to handlers (first runs and retries)."}, []string{"queue"}),
		failures:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lab_jobs_failures_total", Help: "Job runs whose handler returned an error."}, []string{"queue"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lab_jobs_duplicates_total", Help: "Redelivered jobs found already done by the handler's idempotency check."}, []string{"queue"}),
		finished:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lab_jobs_finished_total", Help: "Job runs by outcome: done, duplicate, retry, dead, canceled, returned."}, []string{"queue", "outcome"}),
		dead:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lab_jobs_dead_letters_total", Help: "Jobs moved to the dead-letter queue, by reason (permanent, max_attempts)."}, []string{"queue", "reason"}),
		wait:       hist("lab_jobs_wait_seconds", "Time from a job's enqueue (or due time) to the start of its first run."),
		run:        hist("lab_jobs_run_seconds", "Time from the start of a job's run to its end."),
	}
	for _, c := range []prometheus.Collector{m.attempts, m.failures, m.duplicates, m.finished, m.dead, m.wait, m.run, brokerCollector{w}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// zero creates queue's series at zero, so dashboards and alerts see them before the first job
// (Prometheus's advice for labelled metrics whose labels are known up front).
func (m *metrics) zero(queue string) {
	m.attempts.WithLabelValues(queue)
	m.failures.WithLabelValues(queue)
	m.duplicates.WithLabelValues(queue)
	m.wait.WithLabelValues(queue)
	m.run.WithLabelValues(queue)
	for _, o := range []string{outcomeDone, outcomeDuplicate, outcomeRetry, outcomeDead, outcomeCanceled, outcomeReturned} {
		m.finished.WithLabelValues(queue, o)
	}
}

var (
	depthDesc    = prometheus.NewDesc("lab_jobs_queue_depth", "Jobs waiting in the queue, as the broker reports.", []string{"queue"}, nil)
	inFlightDesc = prometheus.NewDesc("lab_jobs_queue_in_flight", "Jobs delivered and not yet settled, as the broker reports.", []string{"queue"}, nil)
	deadDesc     = prometheus.NewDesc("lab_jobs_queue_dead", "Jobs in the queue's dead-letter store.", []string{"queue"}, nil)
	oldestDesc   = prometheus.NewDesc("lab_jobs_queue_oldest_age_seconds", "Age of the oldest waiting job (0 when none or unknown).", []string{"queue"}, nil)
	runningDesc  = prometheus.NewDesc("lab_jobs_running", "Jobs this worker is running now.", []string{"queue"}, nil)
)

// brokerCollector asks the broker for each queue's state at scrape time.
type brokerCollector struct{ w *Worker }

func (brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{depthDesc, inFlightDesc, deadDesc, oldestDesc, runningDesc} {
		ch <- d
	}
}

func (c brokerCollector) Collect(ch chan<- prometheus.Metric) {
	running := map[string]int{}
	for _, r := range c.w.Running() {
		running[r.Queue]++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, q := range c.w.Queues() {
		ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(running[q]), q)
		st, err := c.w.cfg.Engine.Stats(ctx, q)
		if err != nil {
			continue // a broker outage must not break /metrics
		}
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(st.Depth), q)
		ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(st.InFlight), q)
		ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(st.Dead), q)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, st.OldestAge.Seconds(), q)
	}
}
