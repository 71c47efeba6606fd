// Package outbox is the relay of the lab's transactional outbox: it publishes the job rows that
// the API wrote in the same transaction as their rows (an invite and its email job) and marks
// them sent. A broker outage only delays it: the rows wait in the database, and the relay drains
// them when the broker is back. Each message is published with the outbox row's id as its
// [jobs.Message.ID], so the broker drops the repeat when the relay publishes a row again (it
// crashed between publishing and marking the row sent).
//
// It must not import headroom's measurement packages.
package outbox

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/jobs"
)

// Store is the part of [lab.Store] the relay uses.
type Store interface {
	PendingOutbox(ctx context.Context, limit int) ([]lab.OutboxMessage, error)
	MarkOutboxSent(ctx context.Context, ids []int64) error
	OutboxBacklog(ctx context.Context) (int64, time.Time, error)
	PruneOutbox(ctx context.Context, sentBefore time.Time, limit int) (int64, error)
}

// Publisher is the part of [jobs.Engine] the relay uses.
type Publisher interface {
	Publish(ctx context.Context, m jobs.Message) error
}

// MessageID is the [jobs.Message.ID] of the outbox row id: stable across the relay's retries.
func MessageID(rowID int64) string { return "outbox-" + strconv.FormatInt(rowID, 10) }

// Config configures [New]. Store and Publisher are required.
type Config struct {
	// Store holds the outbox. Required.
	Store Store
	// Publisher is the queue broker. Required.
	Publisher Publisher
	// Interval is how often the relay looks for rows when not kicked. Default 200ms.
	Interval time.Duration
	// MaxBackoff bounds the wait between attempts while the broker or database fails (it doubles
	// from Interval). Default 2s.
	MaxBackoff time.Duration
	// Batch is how many rows one pass reads. Default 256.
	Batch int
	// PublishTimeout bounds one publish. Default 5s.
	PublishTimeout time.Duration
	// Retention is how long sent rows stay in the outbox (to see what was sent) before the relay
	// deletes them: without it the table grows with every job. Default 1h.
	Retention time.Duration
	// PruneEvery is how often the relay deletes sent rows older than Retention. Default 1m.
	PruneEvery time.Duration
	// Registerer receives the relay's metrics. Default: a private registry.
	Registerer prometheus.Registerer
	// Logger receives failures (once per outage, not per attempt). Default: discard.
	Logger *slog.Logger
}

// Relay publishes the outbox. Run it with [Relay.Run]; [Relay.Kick] makes it look now.
type Relay struct {
	cfg       Config
	kick      chan struct{}
	published prometheus.Counter
	pruned    prometheus.Counter
	errs      prometheus.Counter
}

// New returns a relay; it does nothing until Run.
func New(cfg Config) (*Relay, error) {
	if cfg.Store == nil || cfg.Publisher == nil {
		return nil, errors.New("outbox: Store and Publisher are required")
	}
	if cfg.Interval == 0 {
		cfg.Interval = 200 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 2 * time.Second
	}
	if cfg.Batch == 0 {
		cfg.Batch = 256
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = 5 * time.Second
	}
	if cfg.Retention == 0 {
		cfg.Retention = time.Hour
	}
	if cfg.PruneEvery == 0 {
		cfg.PruneEvery = time.Minute
	}
	if cfg.Interval < 0 || cfg.MaxBackoff < cfg.Interval || cfg.Batch < 0 || cfg.PublishTimeout < 0 || cfg.Retention < 0 || cfg.PruneEvery < 0 {
		return nil, errors.New("outbox: Interval, Batch, PublishTimeout, Retention and PruneEvery must be positive and MaxBackoff ≥ Interval")
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Relay{
		cfg:       cfg,
		kick:      make(chan struct{}, 1),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "lab_outbox_published_total", Help: "Outbox rows published to the queue."}),
		pruned:    prometheus.NewCounter(prometheus.CounterOpts{Name: "lab_outbox_pruned_total", Help: "Sent outbox rows deleted after the retention."}),
		errs:      prometheus.NewCounter(prometheus.CounterOpts{Name: "lab_outbox_errors_total", Help: "Relay passes that failed (broker or database unavailable)."}),
	}
	backlog := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lab_outbox_backlog", Help: "Outbox rows not yet published."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, _, err := cfg.Store.OutboxBacklog(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{r.published, r.pruned, r.errs, backlog} {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Kick asks the relay to look for rows now (after a commit that wrote some); it never blocks.
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run publishes pending rows until ctx ends, then returns nil. Failures are retried with backoff.
func (r *Relay) Run(ctx context.Context) error {
	wait := r.cfg.Interval
	failing := false
	var pruned time.Time
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.kick:
			if failing {
				continue // the backoff timer decides while the broker is down
			}
			t.Stop()
		}
		n, err := r.Drain(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			r.errs.Inc()
			if !failing {
				r.cfg.Logger.WarnContext(ctx, "outbox relay failing; rows wait in the database", slog.Any("error", err))
			}
			failing = true
			wait = min(2*wait, r.cfg.MaxBackoff)
		default:
			if failing {
				r.cfg.Logger.InfoContext(ctx, "outbox relay recovered", slog.Int("published", n))
			}
			failing = false
			wait = r.cfg.Interval
			if n == r.cfg.Batch {
				wait = 0 // more are waiting
			}
			if time.Since(pruned) >= r.cfg.PruneEvery {
				pruned = time.Now()
				if _, err := r.Prune(ctx); err != nil && ctx.Err() == nil {
					r.cfg.Logger.WarnContext(ctx, "outbox prune failed; sent rows stay until the next try", slog.Any("error", err))
				}
			}
		}
		t.Reset(wait)
	}
}

// pruneBatch bounds one delete, so that pruning a large backlog of sent rows never holds the
// table (SQLite: the database) for long.
const pruneBatch = 1000

// Prune deletes the rows sent more than Retention ago, pruneBatch rows per transaction, and
// returns how many it deleted.
func (r *Relay) Prune(ctx context.Context) (int64, error) {
	before := time.Now().Add(-r.cfg.Retention)
	var total int64
	for {
		n, err := r.cfg.Store.PruneOutbox(ctx, before, pruneBatch)
		total += n
		r.pruned.Add(float64(n))
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// Drain publishes pending rows in one pass (at most Batch) and marks them sent; it returns how
// many were published. It stops at the first failure: the rest wait for the next pass, in order.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	rows, err := r.cfg.Store.PendingOutbox(ctx, r.cfg.Batch)
	if err != nil {
		return 0, err
	}
	sent := make([]int64, 0, len(rows))
	var perr error
	for _, row := range rows {
		pctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
		perr = r.cfg.Publisher.Publish(pctx, jobs.Message{
			ID: MessageID(row.ID), Queue: row.Queue, Payload: row.Payload, Headers: row.Headers, EnqueuedAt: row.CreatedAt,
		})
		cancel()
		if perr != nil {
			break
		}
		sent = append(sent, row.ID)
	}
	if len(sent) > 0 {
		// Marked with a context of its own: rows published and not marked would be published
		// again (and deduplicated by the broker), but there is no need to.
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := r.cfg.Store.MarkOutboxSent(mctx, sent); err != nil {
			return 0, err
		}
		r.published.Add(float64(len(sent)))
	}
	return len(sent), perr
}
