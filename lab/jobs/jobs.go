// Package jobs is the lab's asynchronous processing: the [Engine] interface every queue broker
// implements, and the message and statistics types they share.
//
// Each broker has its own package (lab/jobs/natsq, lab/jobs/redisq, lab/jobs/rabbitq) that uses the
// broker's own mechanisms for redelivery, ack deadlines and dead-lettering; every one passes
// lab/jobs/jobstest.Exercise. What is the same for every broker — concurrency, rate limits, retry
// backoff, max attempts, idempotency, graceful shutdown, metrics and trace propagation — lives once,
// in the worker runtime built on this interface, not in the engines.
package jobs

import (
	"context"
	"errors"
	"time"
)

// ErrClosed is returned (possibly wrapped) by an [Engine]'s methods after Close.
var ErrClosed = errors.New("queue engine closed")

// ErrNotFound is returned (possibly wrapped) by [Engine.Replay] when no dead letter has the id.
var ErrNotFound = errors.New("job not found")

// Message is one job as it travels through a broker.
type Message struct {
	// ID identifies the job uniquely. Engines deduplicate publishes by ID (within a window of at
	// least [DedupWindow]), so a relay that retries a publish does not enqueue the job twice.
	ID string
	// Queue is the queue the job is published to, e.g. "email" or "video.thumbnail". Queue names
	// are lower-case letters, digits, dots, dashes and underscores.
	Queue string
	// Payload is the job's data, opaque to the engine.
	Payload []byte
	// Headers carry metadata across the broker, notably the W3C trace context (traceparent,
	// tracestate) so a job's spans join the trace of the request that enqueued it.
	Headers map[string]string
	// EnqueuedAt is when the job was first enqueued (set by the producer; the engine keeps it).
	EnqueuedAt time.Time
	// NotBefore delays the job: it is not delivered before this time. Zero means now.
	NotBefore time.Time
	// Attempt is 1 on the first delivery and counts up on each redelivery. Set by the engine on
	// delivery from the broker's own delivery count; ignored on publish.
	Attempt int
}

// DedupWindow is the least time during which engines recognize a repeated [Message.ID].
const DedupWindow = 2 * time.Minute

// Delivery is a job handed to a worker. Exactly one of Ack, Retry or Dead should be called; a
// delivery left without any is redelivered by the broker once its ack deadline
// ([SubscribeOptions.AckWait]) passes, which is what happens when a worker dies mid-job.
type Delivery interface {
	// Message returns the job, with Attempt set.
	Message() Message
	// Ack marks the job done; it is not delivered again.
	Ack(ctx context.Context) error
	// Retry asks the broker to deliver the job again after delay (the runtime computes the
	// backoff); the attempt count goes up.
	Retry(ctx context.Context, delay time.Duration) error
	// Dead moves the job to the queue's dead-letter store with reason (the last error), where
	// [Engine.DeadLetters] lists it and [Engine.Replay] can put it back.
	Dead(ctx context.Context, reason string) error
	// Extend pushes the ack deadline back by a full AckWait, for long jobs that are still running.
	Extend(ctx context.Context) error
}

// SubscribeOptions configures [Engine.Subscribe]. The zero value uses the defaults documented per field.
type SubscribeOptions struct {
	// Group is the consumer group: workers in one group share the queue's jobs (each job goes to
	// one of them). Default "workers". Lower-case letters, digits, dashes and underscores. Plan
	// one group per queue: JetStream's work-queue streams refuse a second group on a queue.
	Group string
	// AckWait is how long a delivery may stay unacknowledged before the broker hands it to another
	// worker. Default 30s.
	AckWait time.Duration
	// Prefetch bounds the deliveries handed out and not yet settled for this subscription.
	// Default 64.
	Prefetch int
}

// Subscription is a stream of deliveries from one queue.
type Subscription interface {
	// Next blocks until a delivery is available, ctx ends ([context.Cause] is returned), or the
	// subscription or engine is closed ([ErrClosed]).
	Next(ctx context.Context) (Delivery, error)
	// Close stops fetching. Deliveries not yet settled are redelivered after their ack deadline,
	// or sooner where the broker returns them on close (RabbitMQ returns them at once, and their
	// later Ack fails): to shut down gracefully, stop calling Next, settle what is in flight,
	// then Close.
	Close() error
}

// QueueStats is a queue's state as the broker reports it.
type QueueStats struct {
	Queue     string        `json:"queue"`
	Depth     int64         `json:"depth"`          // ready to be delivered (delayed jobs included where the broker counts them)
	InFlight  int64         `json:"in_flight"`      // delivered, not yet settled
	Dead      int64         `json:"dead"`           // in the dead-letter store
	OldestAge time.Duration `json:"oldest_age_ns"`  // age of the oldest job waiting, 0 when none or unknown
	Note      string        `json:"note,omitempty"` // what the broker does not report, and why
}

// DeadLetter is a job in a queue's dead-letter store.
type DeadLetter struct {
	Message Message
	Reason  string    // the error that put it there
	DiedAt  time.Time // when it was dead-lettered
}

// Engine is a queue broker. Implementations are safe for concurrent use; every method is bounded
// by its context.
type Engine interface {
	// Name is the engine's name for output and metrics: "nats", "redis" or "rabbitmq".
	Name() string
	// Publish enqueues m durably: when it returns nil the broker has the job. A repeated m.ID
	// within [DedupWindow] is accepted and not enqueued again.
	Publish(ctx context.Context, m Message) error
	// Subscribe starts receiving deliveries of queue for opts.Group.
	Subscribe(ctx context.Context, queue string, opts SubscribeOptions) (Subscription, error)
	// Stats reports queue's depth, in-flight and dead-letter counts.
	Stats(ctx context.Context, queue string) (QueueStats, error)
	// DeadLetters lists up to limit jobs of queue's dead-letter store, oldest first.
	DeadLetters(ctx context.Context, queue string, limit int) ([]DeadLetter, error)
	// Replay moves the dead letter with the job id back onto its queue with a fresh attempt count;
	// [ErrNotFound] when there is none.
	Replay(ctx context.Context, queue, id string) error
	// Close releases the engine's connections (and stops an embedded server). Subscriptions end.
	Close() error
}
