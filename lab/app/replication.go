package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/worker"
	"github.com/headroom/headroom/lab/services"
	"github.com/headroom/headroom/lab/tasks"
)

// The queue namespaces. The monolith has one, Config.QueuePrefix ("headroom" by default). In
// services mode the processes of one lab share a broker and a QueuePrefix, and:
//   - each service's own jobs (invite emails, the video pipeline, account deletions: jobs about
//     rows of its own database) go under QUEUEPREFIX-ROLE, e.g. headroom-posts, so that a
//     service's workers never take a job about another service's database;
//   - the events services exchange ([eventQueues]: users.changed, from accounts to posts) go
//     under QUEUEPREFIX itself, which every service of the lab reaches: the accounts process's
//     outbox publishes a change there and the posts process's worker consumes it.
//
// The monolith's worker consumes users.changed from its one namespace and applies each change to
// the table it came from: a no-op that keeps one code path for both modes.

// eventQueues are the queues that cross services, in the lab's shared namespace.
var eventQueues = []string{tasks.QueueUsersChanged}

// queuePrefixDefault is the engines' default prefix, Config.QueuePrefix's default.
const queuePrefixDefault = "headroom"

// openEngines connects to the broker for cfg's process: in the monolith one engine in the
// QueuePrefix namespace; for a service an engine routing its own jobs to QUEUEPREFIX-ROLE and the
// events to QUEUEPREFIX, through a second connection to the same broker. It returns the engine,
// its description and the broker's URL for workers in other processes.
func openEngines(ctx context.Context, cfg Config) (jobs.Engine, string, string, error) {
	base := cfg.QueuePrefix
	if base == "" {
		base = queuePrefixDefault
	}
	if cfg.Role == "" {
		eng, desc, err := openEngine(ctx, cfg.Queue, base, cfg.QueueDir)
		if err != nil {
			return nil, "", "", err
		}
		return eng, desc, engineURL(eng, cfg.Queue), nil
	}
	own := base + "-" + string(cfg.Role)
	eng, desc, err := openEngine(ctx, cfg.Queue, own, cfg.QueueDir)
	if err != nil {
		return nil, "", "", err
	}
	url := engineURL(eng, cfg.Queue) // an embedded server's own, for the second connection
	events, _, err := openEngine(ctx, url, base, "")
	if err != nil {
		_ = eng.Close()
		return nil, "", "", fmt.Errorf("events namespace %s: %w", base, err)
	}
	desc += fmt.Sprintf("; this service's jobs under %s, the events between services (%v) under %s", own, eventQueues, base)
	return &serviceEngine{Engine: eng, events: events, role: cfg.Role}, desc, url, nil
}

// serviceEngine is a service process's queue engine: its own jobs in its own namespace (the
// embedded Engine), the events between services in the lab's shared one.
type serviceEngine struct {
	jobs.Engine
	events jobs.Engine
	role   services.Role
}

var _ jobs.Engine = (*serviceEngine)(nil)

func (e *serviceEngine) pick(queue string) jobs.Engine {
	if slices.Contains(eventQueues, queue) {
		return e.events
	}
	return e.Engine
}

// Publish routes m by its queue. An event's id gets the role in front: the relay's ids
// (outbox-ROW) count rows of one database, and every service's outbox publishes into the shared
// namespace, whose deduplication would otherwise take one service's row 17 for another's.
func (e *serviceEngine) Publish(ctx context.Context, m jobs.Message) error {
	eng := e.pick(m.Queue)
	if eng == e.events {
		m.ID = string(e.role) + "-" + m.ID
	}
	return eng.Publish(ctx, m)
}

func (e *serviceEngine) Subscribe(ctx context.Context, queue string, opts jobs.SubscribeOptions) (jobs.Subscription, error) {
	return e.pick(queue).Subscribe(ctx, queue, opts)
}

func (e *serviceEngine) Stats(ctx context.Context, queue string) (jobs.QueueStats, error) {
	return e.pick(queue).Stats(ctx, queue)
}

func (e *serviceEngine) DeadLetters(ctx context.Context, queue string, limit int) ([]jobs.DeadLetter, error) {
	return e.pick(queue).DeadLetters(ctx, queue, limit)
}

func (e *serviceEngine) Replay(ctx context.Context, queue, id string) error {
	return e.pick(queue).Replay(ctx, queue, id)
}

// Close closes the events connection, then the service's own (which may be the embedded server
// the first one is connected to).
func (e *serviceEngine) Close() error { return errors.Join(e.events.Close(), e.Engine.Close()) }

// keepsUserCopy reports whether a process of role applies users.changed: the posts service,
// which shows authors from its own copy of the users, and the monolith (a no-op there).
func keepsUserCopy(role services.Role) bool { return role == "" || role == services.Posts }

// registerReplica puts the users.changed consumer on w when role keeps a copy of the users, and
// returns it (nil otherwise).
func registerReplica(w *worker.Worker, role services.Role, cfg JobsConfig, store lab.Store, reg prometheus.Registerer) (*tasks.Replica, error) {
	if !keepsUserCopy(role) {
		return nil, nil
	}
	return tasks.RegisterReplica(w, tasks.ReplicaConfig{Store: store, Registerer: reg,
		MaxAttempts: cfg.MaxAttempts, BackoffMin: cfg.BackoffMin, AckWait: cfg.AckWait})
}
