package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/jobs/worker"
)

// QueueUsersChanged carries the changes of users from the service that owns them (accounts, or
// the monolith) to the database that keeps a copy of them (posts, which shows authors). A job's
// payload is the user as written ([lab.User] with its Version and UpdatedAt): the whole row, so a
// copy needs no call back to the owner and any newer change supersedes an older one.
//
// It is a work queue: each change goes to one consumer. A second service keeping a copy of the
// users would take a queue of its own (users.changed.SERVICE), the owner writing one job per copy.
const QueueUsersChanged = "users.changed"

// UserChangedJob is the outbox job of a user written (renamed): the event that feeds the copies.
// headers carry the trace context, so applying the change joins the request's trace.
func UserChangedJob(headers map[string]string) lab.UserJob {
	return func(u lab.User) lab.OutboxMessage {
		b, _ := json.Marshal(u) // a struct of strings, ints and times always marshals
		return lab.OutboxMessage{Queue: QueueUsersChanged, Payload: b, Headers: headers}
	}
}

// UserJobFor is the user job of queue with headers, as UserChangedJob makes it: a service of the
// services mode receives it over the wire as its queue and headers (see JobFor).
func UserJobFor(queue string, headers map[string]string) (lab.UserJob, error) {
	if queue != QueueUsersChanged {
		return nil, fmt.Errorf("user job queue %q: want %s", queue, QueueUsersChanged)
	}
	return UserChangedJob(headers), nil
}

// ReplicaStore is the part of [lab.Store] the replication uses: the copy's side.
type ReplicaStore interface {
	ApplyUser(ctx context.Context, u lab.User) (bool, error)
}

// LagWindowDefault is the default of [ReplicaConfig].LagWindow.
const LagWindowDefault = 4096

// ReplicaConfig configures [RegisterReplica]. Only Store is required.
type ReplicaConfig struct {
	// Store is the database whose copy of the users the changes update. Required.
	Store ReplicaStore
	// Registerer receives headroom_replication_lag_seconds and
	// headroom_replication_changes_total. Default: a private registry.
	Registerer prometheus.Registerer
	// LagWindow is how many of the latest applied changes [Replica.Lag]'s percentiles cover.
	// Default [LagWindowDefault].
	LagWindow int
	// Concurrency is how many changes one worker applies at once. Default 4 (the version check
	// makes the order of application irrelevant).
	Concurrency int
	// MaxAttempts, BackoffMin and AckWait override the worker's defaults, as in [Config].
	MaxAttempts int
	BackoffMin  time.Duration
	AckWait     time.Duration
}

// Replica applies the changes of [QueueUsersChanged] to the local copy of the users and measures
// the replication lag: from the change (its UpdatedAt, set by the owner's database in the
// change's transaction) to the moment the copy has committed it, when a read of the copy sees
// it. A change the copy already has (the monolith's own table, a redelivery) or that a newer
// one superseded (reordered deliveries) is skipped and has no lag. The two clocks are this
// machine's; across machines their offset adds to the lag.
type Replica struct {
	cfg     ReplicaConfig
	lag     prometheus.Observer
	applied prometheus.Counter
	skipped prometheus.Counter

	mu     sync.Mutex
	window []time.Duration // ring of the latest applied changes' lags
	next   int
	counts [2]int64 // applied, skipped
}

// replicaTable labels the metrics: the table the changes go to.
const replicaTable = "users"

// RegisterReplica puts the handler of [QueueUsersChanged] on w and returns it, for its lag.
func RegisterReplica(w *worker.Worker, cfg ReplicaConfig) (*Replica, error) {
	if cfg.Store == nil {
		return nil, errors.New("tasks: replica: Store is required")
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.LagWindow == 0 {
		cfg.LagWindow = LagWindowDefault
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	if cfg.LagWindow < 0 || cfg.Concurrency < 0 {
		return nil, fmt.Errorf("tasks: replica: LagWindow %d and Concurrency %d must be positive", cfg.LagWindow, cfg.Concurrency)
	}
	lag := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "headroom_replication_lag_seconds",
		Help: "Time from a change of a row in its owner's database to the moment this database's copy has it.",
		// From a queue hop on loopback to a broker outage's minutes.
		Buckets:                     []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		NativeHistogramBucketFactor: 1.1,
	}, []string{"table"})
	changes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "headroom_replication_changes_total",
		Help: "Replicated changes received, by outcome: applied to the copy, or skipped (the copy already had it or a newer one).",
	}, []string{"table", "outcome"})
	for _, c := range []prometheus.Collector{lag, changes} {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	r := &Replica{
		cfg: cfg, lag: lag.WithLabelValues(replicaTable),
		applied: changes.WithLabelValues(replicaTable, "applied"), skipped: changes.WithLabelValues(replicaTable, "skipped"),
		window: make([]time.Duration, 0, cfg.LagWindow),
	}
	err := w.Handle(QueueUsersChanged, worker.QueueConfig{Handler: r.apply, Concurrency: cfg.Concurrency,
		MaxAttempts: cfg.MaxAttempts, BackoffMin: cfg.BackoffMin, AckWait: cfg.AckWait})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Replica) apply(ctx context.Context, j *worker.Job) error {
	var u lab.User
	if err := worker.Decode(j, &u); err != nil {
		return err
	}
	if u.ID <= 0 || u.Version <= 0 || u.UpdatedAt.IsZero() {
		return worker.Permanent(fmt.Errorf("user change %s: want a positive id and version and an updated_at", j.Payload))
	}
	applied, err := r.cfg.Store.ApplyUser(ctx, u)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !applied {
		r.counts[1]++
		r.skipped.Inc()
		return nil
	}
	lag := max(0, time.Since(u.UpdatedAt))
	r.counts[0]++
	r.applied.Inc()
	r.lag.Observe(lag.Seconds())
	if len(r.window) < cap(r.window) {
		r.window = append(r.window, lag)
	} else {
		r.window[r.next] = lag
		r.next = (r.next + 1) % len(r.window)
	}
	return nil
}

// Lag is the replication's state in this process: the changes applied and skipped since it
// started, and the lag's percentiles over the latest applied ones.
type Lag struct {
	Queue   string `json:"queue"`
	Table   string `json:"table"`
	Applied int64  `json:"applied"`
	Skipped int64  `json:"skipped"`
	// Window is how many of the latest applied changes P50, P99 and Max cover (at most
	// ReplicaConfig.LagWindow); 0 when none was applied.
	Window int           `json:"window"`
	P50    time.Duration `json:"p50_ns"`
	P99    time.Duration `json:"p99_ns"`
	Max    time.Duration `json:"max_ns"`
}

// Lag returns the replication's counts and lag percentiles (nearest rank: each is a lag that
// was measured).
func (r *Replica) Lag() Lag {
	r.mu.Lock()
	w := slices.Clone(r.window)
	l := Lag{Queue: QueueUsersChanged, Table: replicaTable, Applied: r.counts[0], Skipped: r.counts[1], Window: len(w)}
	r.mu.Unlock()
	if len(w) == 0 {
		return l
	}
	slices.Sort(w)
	rank := func(q float64) time.Duration {
		return w[max(int(math.Ceil(q*float64(len(w))))-1, 0)]
	}
	l.P50, l.P99, l.Max = rank(0.50), rank(0.99), w[len(w)-1]
	return l
}
