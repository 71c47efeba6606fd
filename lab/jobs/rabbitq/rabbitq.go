// Package rabbitq is the RabbitMQ queue engine (AMQP 0-9-1 via amqp091-go).
//
// Mapping of the [jobs.Engine] contract onto RabbitMQ's own mechanisms, per queue Q under the
// prefix P ('~' cannot occur in a queue name, so the names do not collide):
//
//   - Jobs live in a durable quorum queue "P.Q"; publishes use publisher confirms, so Publish
//     returns once the broker has the job. Consumers use manual acks with a prefetch (basic.qos)
//     of [jobs.SubscribeOptions.Prefetch]. Every consumer of a queue competes for its jobs: the
//     group names the consumer tags only.
//   - Attempt is the quorum queue's x-delivery-count header (absent on the first delivery) plus
//     one, plus the attempts before a Retry (carried in a header, as a Retry is a new message).
//   - Ack deadline: RabbitMQ returns unacked deliveries when their channel closes (a worker that
//     dies), but it has no per-delivery deadline (consumer_timeout, 30 minutes by default, closes
//     the whole channel). So each delivery carries a timer of AckWait (restarted by Extend) that
//     rejects it with requeue when it fires: the broker then redelivers it, counting the
//     delivery, and the late worker's Ack is refused locally rather than closing the channel.
//     Keep the broker's consumer_timeout above the longest job, Extend does not reset it.
//   - Retry and delayed jobs: per-delay quorum queues "P.Q~delay.<ms>" whose message TTL is the
//     delay and whose dead-letter target is "P.Q" (at-least-once dead-lettering). Delays are
//     rounded up to a coarse grid (100ms steps below 1s, then about ten steps per decade) so few
//     such queues exist; a job is never early and at most a grid step late. The delay queues are
//     not expired (RabbitMQ's x-expires ignores publishes, so it could drop a queue in use).
//   - Dead letters: the quorum queue "P.Q~dead". Dead publishes the job there with the reason
//     headers (confirmed) and then acks it. "P.Q" also dead-letters into it on its own once a
//     job was returned x-delivery-limit times ([Config.DeliveryLimit]: a job that kills every
//     worker), with RabbitMQ's x-death headers as the reason. AMQP cannot browse a queue, so
//     DeadLetters and Replay get the messages unacked and return the others (requeue), under a
//     lock so one engine's browses do not interleave.
//   - Publish dedup: RabbitMQ has none built in (a plugin exists, but the machines do not run
//     it, and a dedup key in another store would couple the engines). Each engine keeps a
//     bounded in-memory table of the ids it published within [jobs.DedupWindow], so the outbox
//     relay's retries, which come from one process, are deduplicated; the message id is also
//     set (AMQP message-id) and duplicates from different processes are absorbed by the
//     worker runtime's idempotency, as every at-least-once delivery must be.
//   - Stats: AMQP's queue.declare reports ready messages only, so Depth is the ready count of
//     "P.Q" (delayed jobs not included), Dead that of "P.Q~dead", and InFlight the deliveries this
//     engine's subscriptions hold unsettled; OldestAge is unknown (0).
//
// The connection is redialled when it drops. It imports amqp091-go, lab/jobs and its internal
// packages.
package rabbitq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/internal/inflight"
	"github.com/headroom/headroom/lab/jobs/internal/wire"
)

// Config configures [New].
type Config struct {
	// URL is the broker, e.g. "amqp://guest:guest@127.0.0.1:5672/". Required.
	URL string
	// Prefix namespaces the queues so several labs or test runs share a broker: lower-case
	// letters, digits, dashes and underscores. Default "headroom".
	Prefix string
	// DeliveryLimit is the work queues' x-delivery-limit: after this many returns (deadline
	// rejections, dead channels) the broker dead-letters the job itself. A safety net above the
	// worker runtime's own max attempts. Default 20.
	DeliveryLimit int
	// DedupEntries bounds the publish-dedup table. Default 1<<20 ids.
	DedupEntries int
	// ManagementURL is RabbitMQ's management API, where [Engine.Stats] reads the in-flight count
	// of every consumer: http://[user:pass@]host:port. Default: port 15672 of URL's host with
	// URL's credentials; [ManagementOff] for none (Stats then counts this engine's deliveries).
	ManagementURL string
}

// Engine is the RabbitMQ [jobs.Engine]. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	dedup *dedup
	mgmt  *management // nil: none

	mu       sync.Mutex
	closed   bool
	done     chan struct{}
	conn     *amqp.Connection
	pub      *amqp.Channel // publisher confirms on
	declared map[string]bool
	subs     map[*subscription]struct{}

	browseMu sync.Mutex // DeadLetters and Replay
}

var _ jobs.Engine = (*Engine)(nil)

// New dials the broker. ctx bounds the dial.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.URL == "" {
		return nil, errors.New("rabbitmq queue: no URL (want e.g. amqp://guest:guest@127.0.0.1:5672/)")
	}
	if _, err := amqp.ParseURI(cfg.URL); err != nil {
		return nil, fmt.Errorf("rabbitmq queue URL %q: %w", cfg.URL, err)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "headroom"
	}
	if strings.Trim(cfg.Prefix, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return nil, fmt.Errorf("rabbitmq prefix %q: want lower-case letters, digits, '-' and '_'", cfg.Prefix)
	}
	if cfg.DeliveryLimit <= 0 {
		cfg.DeliveryLimit = 20
	}
	if cfg.DedupEntries <= 0 {
		cfg.DedupEntries = 1 << 20
	}
	var mgmt *management
	if cfg.ManagementURL != ManagementOff {
		var err error
		if mgmt, err = newManagement(cfg.URL, cfg.ManagementURL); err != nil {
			return nil, err
		}
	}
	e := &Engine{cfg: cfg, dedup: newDedup(jobs.DedupWindow, cfg.DedupEntries), mgmt: mgmt, done: make(chan struct{}),
		declared: map[string]bool{}, subs: map[*subscription]struct{}{}}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.connLocked(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Name is "rabbitmq".
func (e *Engine) Name() string { return "rabbitmq" }

func (e *Engine) workQueue(q string) string { return e.cfg.Prefix + "." + q }
func (e *Engine) deadQueue(q string) string { return e.cfg.Prefix + "." + q + "~dead" }
func (e *Engine) delayQueue(q string, ms int64) string {
	return e.cfg.Prefix + "." + q + "~delay." + strconv.FormatInt(ms, 10)
}

// connLocked returns the open connection, dialling a new one when it dropped. e.mu is held.
func (e *Engine) connLocked(ctx context.Context) (*amqp.Connection, error) {
	if e.closed {
		return nil, jobs.ErrClosed
	}
	if e.conn != nil && !e.conn.IsClosed() {
		return e.conn, nil
	}
	cfg := amqp.Config{Properties: amqp.Table{"connection_name": "headroom-jobs"}, Heartbeat: 10 * time.Second}
	if dl, ok := ctx.Deadline(); ok {
		timeout := time.Until(dl)
		cfg.Dial = amqp.DefaultDial(max(timeout, time.Millisecond))
	}
	conn, err := amqp.DialConfig(e.cfg.URL, cfg)
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: dial %s: %w", redact(e.cfg.URL), err)
	}
	e.conn, e.pub = conn, nil
	e.declared = map[string]bool{}
	return conn, nil
}

func redact(url string) string {
	if u, err := amqp.ParseURI(url); err == nil {
		u.Password = ""
		return u.String()
	}
	return "the broker"
}

// channel opens a fresh channel (for declares, browsing, or a subscription).
func (e *Engine) channel(ctx context.Context) (*amqp.Channel, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	conn, err := e.connLocked(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: open channel: %w", err)
	}
	return ch, nil
}

// publisher returns the shared confirm-mode channel, reopening it when it closed.
func (e *Engine) publisher(ctx context.Context) (*amqp.Channel, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pub != nil && !e.pub.IsClosed() && !e.conn.IsClosed() {
		return e.pub, nil
	}
	conn, err := e.connLocked(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("rabbitmq: publisher confirms: %w", err)
	}
	e.pub = ch
	return ch, nil
}

func quorum(extra amqp.Table) amqp.Table {
	t := amqp.Table{"x-queue-type": "quorum"}
	for k, v := range extra {
		t[k] = v
	}
	return t
}

// declare makes sure queue q's work and dead queues exist (once per connection).
func (e *Engine) declare(ctx context.Context, q string) error {
	return e.declareOnce(ctx, e.workQueue(q), func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(e.deadQueue(q), true, false, false, false, quorum(nil)); err != nil {
			return err
		}
		_, err := ch.QueueDeclare(e.workQueue(q), true, false, false, false, quorum(amqp.Table{
			"x-delivery-limit":          int64(e.cfg.DeliveryLimit),
			"x-dead-letter-exchange":    "",
			"x-dead-letter-routing-key": e.deadQueue(q),
		}))
		return err
	})
}

// declareDelay makes sure the delay queue of ms for q exists.
func (e *Engine) declareDelay(ctx context.Context, q string, ms int64) (string, error) {
	name := e.delayQueue(q, ms)
	return name, e.declareOnce(ctx, name, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare(name, true, false, false, false, quorum(amqp.Table{
			"x-message-ttl":             ms,
			"x-dead-letter-exchange":    "",
			"x-dead-letter-routing-key": e.workQueue(q),
			"x-dead-letter-strategy":    "at-least-once",
			"x-overflow":                "reject-publish",
		}))
		return err
	})
}

func (e *Engine) declareOnce(ctx context.Context, key string, f func(*amqp.Channel) error) error {
	e.mu.Lock()
	done := e.declared[key]
	e.mu.Unlock()
	if done {
		return nil
	}
	ch, err := e.channel(ctx)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := f(ch); err != nil {
		return fmt.Errorf("rabbitmq: declare %s: %w", key, err)
	}
	e.mu.Lock()
	e.declared[key] = true
	e.mu.Unlock()
	return nil
}

// delayGrid rounds d up to the delay-queue grid: 100ms steps below 1s, then ten steps a decade.
func delayGrid(d time.Duration) int64 {
	ms := d.Milliseconds()
	if d > time.Duration(ms)*time.Millisecond {
		ms++
	}
	if ms <= 1000 {
		return max((ms+99)/100*100, 100)
	}
	step := int64(math.Pow(10, math.Floor(math.Log10(float64(ms)))))
	return (ms + step - 1) / step * step
}

func (e *Engine) checkOpen() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return jobs.ErrClosed
	}
	return nil
}

// send publishes one message to queue name and waits for the broker's confirm. A nack (a
// quorum queue without a leader for the moment, e.g. just declared on a loaded machine) is
// retried twice: the broker did not take the message, so re-sending is at worst a duplicate.
func (e *Engine) send(ctx context.Context, name string, m jobs.Message, h map[string]string) error {
	var err error
	for range 3 {
		if err = e.sendOnce(ctx, name, m, h); !errors.Is(err, errNack) {
			return err
		}
	}
	return err
}

var errNack = errors.New("broker refused (nack) the message")

func (e *Engine) sendOnce(ctx context.Context, name string, m jobs.Message, h map[string]string) error {
	ch, err := e.publisher(ctx)
	if err != nil {
		return err
	}
	headers := make(amqp.Table, len(h))
	for k, v := range h {
		headers[k] = v
	}
	pub := amqp.Publishing{
		Headers: headers, DeliveryMode: amqp.Persistent, MessageId: m.ID,
		Timestamp: m.EnqueuedAt, Body: m.Payload, ContentType: "application/octet-stream",
	}
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", name, false, false, pub)
	if err != nil {
		return err
	}
	ok, err := conf.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w for %s", errNack, name)
	}
	return nil
}

// target is where a job goes now: the work queue, or the delay queue of what is left of delay.
func (e *Engine) target(ctx context.Context, q string, delay time.Duration) (string, error) {
	if err := e.declare(ctx, q); err != nil {
		return "", err
	}
	if delay <= 0 {
		return e.workQueue(q), nil
	}
	return e.declareDelay(ctx, q, delayGrid(delay))
}

// Publish sends m (to its delay queue when m.NotBefore is in the future) with a publisher
// confirm, unless this engine published m.ID within the dedup window.
func (e *Engine) Publish(ctx context.Context, m jobs.Message) error {
	if err := wire.Check(m); err != nil {
		return err
	}
	if err := e.checkOpen(); err != nil {
		return err
	}
	key := m.Queue + "\x00" + m.ID
	if !e.dedup.claim(key, time.Now()) {
		return nil
	}
	name, err := e.target(ctx, m.Queue, time.Until(m.NotBefore))
	if err == nil {
		err = e.send(ctx, name, m, wire.Encode(m))
	}
	if err != nil {
		e.dedup.forget(key)
		return fmt.Errorf("rabbitmq: publish job %q to %s: %w", m.ID, m.Queue, err)
	}
	return nil
}

// Subscribe declares the queue and starts a consumer on a channel of its own.
func (e *Engine) Subscribe(ctx context.Context, queue string, opts jobs.SubscribeOptions) (jobs.Subscription, error) {
	opts, err := jobs.CheckSubscribe(queue, opts)
	if err != nil {
		return nil, err
	}
	if err := e.declare(ctx, queue); err != nil {
		return nil, err
	}
	s := &subscription{
		e: e, queue: queue, opts: opts, limit: inflight.New(opts.Prefetch),
		ch: make(chan amqp.Delivery), done: make(chan struct{}), stopped: make(chan struct{}),
	}
	// Consume once here, so a broken queue fails Subscribe instead of the background loop.
	ch, deliveries, err := s.consume(ctx)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		_ = ch.Close()
		return nil, jobs.ErrClosed
	}
	e.subs[s] = struct{}{}
	e.mu.Unlock()
	go s.loop(ch, deliveries)
	return s, nil
}

// oldestAgeNote says why RabbitMQ's stats have no oldest-job age.
const oldestAgeNote = "oldest age unknown: RabbitMQ quorum queues do not report their head message's time"

// Stats reads the ready counts of the work and dead queues (passive declares) and the
// in-flight count from the management API; without it, it counts this engine's unsettled
// deliveries only and says so in the stats' Note. The oldest job's age stays 0: quorum queues
// do not report their head message's time (RabbitMQ's head_message_timestamp is for classic
// queues only).
func (e *Engine) Stats(ctx context.Context, queue string) (jobs.QueueStats, error) {
	st := jobs.QueueStats{Queue: queue}
	if err := jobs.CheckQueue(queue); err != nil {
		return st, err
	}
	if err := e.declare(ctx, queue); err != nil {
		return st, err
	}
	ch, err := e.channel(ctx)
	if err != nil {
		return st, err
	}
	defer ch.Close()
	work, err := ch.QueueDeclarePassive(e.workQueue(queue), true, false, false, false, nil)
	if err != nil {
		return st, fmt.Errorf("rabbitmq: stats of %s: %w", queue, err)
	}
	dead, err := ch.QueueDeclarePassive(e.deadQueue(queue), true, false, false, false, nil)
	if err != nil {
		return st, fmt.Errorf("rabbitmq: stats of %s: %w", queue, err)
	}
	st.Depth, st.Dead = int64(work.Messages), int64(dead.Messages)
	st.Note = oldestAgeNote
	if e.mgmt != nil {
		n, err := e.mgmt.unacked(ctx, e.workQueue(queue))
		if err == nil {
			st.InFlight = n
			return st, nil
		}
		st.Note += "; in flight: this process's deliveries only (" + err.Error() + ")"
	} else {
		st.Note += "; in flight: this process's deliveries only (no management API)"
	}
	e.mu.Lock()
	for s := range e.subs {
		if s.queue == queue {
			st.InFlight += s.held.Load()
		}
	}
	e.mu.Unlock()
	return st, nil
}

func fromTable(t amqp.Table) map[string]string {
	out := make(map[string]string, len(t))
	for k, v := range t {
		if strings.HasPrefix(k, "x-") {
			continue // the broker's own (x-delivery-count, x-death, x-first-death-*)
		}
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// deadLetter decodes a message of the dead queue; one the broker dead-lettered by delivery
// limit has RabbitMQ's x-death headers instead of ours.
func deadLetter(queue string, d amqp.Delivery) (jobs.DeadLetter, error) {
	dl, err := wire.DecodeDead(fromTable(d.Headers), jobs.Message{Queue: queue, Payload: d.Body})
	if err != nil {
		return dl, err
	}
	if dl.Reason == "" {
		reason, _ := d.Headers["x-first-death-reason"].(string)
		dl.Reason = "rabbitmq dead-lettered the job: " + reason
		if deaths, ok := d.Headers["x-death"].([]any); ok && len(deaths) > 0 {
			if t, ok := deaths[0].(amqp.Table); ok {
				dl.DiedAt, _ = t["time"].(time.Time)
			}
		}
	}
	return dl, nil
}

// browse gets up to limit messages of the dead queue unacked on a channel of its own, calls
// visit for each until it returns true, and closes the channel, which returns every message not
// acked by visit to the queue.
func (e *Engine) browse(ctx context.Context, queue string, limit int, visit func(*amqp.Channel, amqp.Delivery) (bool, error)) error {
	if err := jobs.CheckQueue(queue); err != nil {
		return err
	}
	if err := e.declare(ctx, queue); err != nil {
		return err
	}
	e.browseMu.Lock()
	defer e.browseMu.Unlock()
	ch, err := e.channel(ctx)
	if err != nil {
		return err
	}
	defer ch.Close()
	for range limit {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		d, ok, err := ch.Get(e.deadQueue(queue), false)
		if err != nil {
			return fmt.Errorf("rabbitmq: read dead letters of %s: %w", queue, err)
		}
		if !ok {
			return nil
		}
		stop, err := visit(ch, d)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// DeadLetters lists the dead queue's messages in queue order (oldest first) without removing them.
func (e *Engine) DeadLetters(ctx context.Context, queue string, limit int) ([]jobs.DeadLetter, error) {
	var out []jobs.DeadLetter
	err := e.browse(ctx, queue, limit, func(_ *amqp.Channel, d amqp.Delivery) (bool, error) {
		dl, err := deadLetter(queue, d)
		if err != nil {
			return true, fmt.Errorf("rabbitmq: dead letter of %s: %w", queue, err)
		}
		out = append(out, dl)
		return false, nil
	})
	return out, err
}

// Replay finds the dead letter by job id, publishes it to the work queue (confirmed) with a fresh
// attempt count, and then acks it off the dead queue.
func (e *Engine) Replay(ctx context.Context, queue, id string) error {
	found := false
	err := e.browse(ctx, queue, math.MaxInt, func(ch *amqp.Channel, d amqp.Delivery) (bool, error) {
		h := fromTable(d.Headers)
		if h[wire.ID] != id {
			return false, nil
		}
		found = true
		for _, k := range []string{wire.Reason, wire.DiedAt, wire.NotBefore, wire.Prior} {
			delete(h, k)
		}
		m := jobs.Message{ID: id, Queue: queue, Payload: d.Body, EnqueuedAt: d.Timestamp}
		if err := e.send(ctx, e.workQueue(queue), m, h); err != nil {
			return true, fmt.Errorf("rabbitmq: replay %q to %s: %w", id, queue, err)
		}
		if err := d.Ack(false); err != nil {
			return true, fmt.Errorf("rabbitmq: replayed %q but could not remove its dead letter: %w", id, err)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("rabbitmq: dead letter %q of queue %q: %w", id, queue, jobs.ErrNotFound)
	}
	return nil
}

// Close ends every subscription and closes the connection (the broker returns unacked
// deliveries to their queues).
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	subs := e.subs
	e.subs = nil
	conn := e.conn
	e.mu.Unlock()
	for s := range subs {
		s.stop()
	}
	if conn != nil && !conn.IsClosed() {
		return conn.Close()
	}
	return nil
}

type subscription struct {
	e       *Engine
	queue   string
	opts    jobs.SubscribeOptions
	limit   *inflight.Limiter
	ch      chan amqp.Delivery
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
	held    atomic.Int64 // deliveries handed out, not settled

	mu   sync.Mutex
	amqp *amqp.Channel
}

func (s *subscription) consume(ctx context.Context) (*amqp.Channel, <-chan amqp.Delivery, error) {
	ch, err := s.e.channel(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := ch.Qos(s.opts.Prefetch, 0, false); err != nil {
		_ = ch.Close()
		return nil, nil, fmt.Errorf("rabbitmq: qos: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	deliveries, err := ch.Consume(s.e.workQueue(s.queue), s.opts.Group+"-"+hex.EncodeToString(b), false, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return nil, nil, fmt.Errorf("rabbitmq: consume %s: %w", s.queue, err)
	}
	s.mu.Lock()
	s.amqp = ch
	s.mu.Unlock()
	return ch, deliveries, nil
}

// loop hands deliveries to Next; when the channel dies (broker restart, consumer_timeout) it
// consumes again on a new one after a pause, until the subscription stops.
func (s *subscription) loop(ch *amqp.Channel, deliveries <-chan amqp.Delivery) {
	defer close(s.stopped)
	for {
		for d := range deliveries {
			select {
			case s.ch <- d:
			case <-s.done:
				_ = ch.Close() // returns d and everything prefetched
				return
			}
		}
		for {
			select {
			case <-s.done:
				return
			case <-time.After(time.Second):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var err error
			ch, deliveries, err = s.consume(ctx)
			cancel()
			if err == nil {
				break
			}
		}
	}
}

func (s *subscription) Next(ctx context.Context) (jobs.Delivery, error) {
	return inflight.Next(ctx, s.limit, s.done, s.e.done, s.opts.AckWait, s.ch, func(ad amqp.Delivery, slot *inflight.Slot) (jobs.Delivery, bool) {
		d := &delivery{s: s, slot: slot, ad: ad, m: jobs.Message{Queue: s.queue, Payload: ad.Body}}
		h := fromTable(ad.Headers)
		if err := wire.Decode(h, &d.m); err != nil {
			if d.m.ID == "" {
				d.m.ID = "message-" + ad.MessageId
			}
			s.held.Add(1)
			d.arm()
			_ = d.Dead(ctx, "undecodable message: "+err.Error())
			return nil, false
		}
		prior, _ := strconv.Atoi(h[wire.Prior])
		d.m.Attempt = prior + 1 + int(deliveryCount(ad.Headers))
		s.held.Add(1)
		d.arm()
		return d, true
	})
}

func deliveryCount(h amqp.Table) int64 {
	switch n := h["x-delivery-count"].(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	case int:
		return int64(n)
	}
	return 0
}

func (s *subscription) Close() error {
	s.stop()
	s.e.mu.Lock()
	delete(s.e.subs, s)
	s.e.mu.Unlock()
	return nil
}

func (s *subscription) stop() {
	s.once.Do(func() {
		close(s.done)
		s.mu.Lock()
		ch := s.amqp
		s.mu.Unlock()
		if ch != nil {
			_ = ch.Close() // ends the loop's range; unacked deliveries go back to the queue
		}
		<-s.stopped
	})
}

type delivery struct {
	s    *subscription
	slot *inflight.Slot
	ad   amqp.Delivery
	m    jobs.Message

	mu      sync.Mutex
	timer   *time.Timer
	settled bool // acked, rejected, or returned by the deadline timer
}

// errExpired is returned when settling a delivery that its ack deadline already returned to the queue.
var errExpired = errors.New("ack deadline passed: the job was returned to the queue for redelivery")

func (d *delivery) arm() {
	d.mu.Lock()
	d.timer = time.AfterFunc(d.s.opts.AckWait, d.expire)
	d.mu.Unlock()
}

// expire returns the delivery to the queue: the broker redelivers it, counting the delivery.
func (d *delivery) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled {
		return
	}
	d.settled = true
	d.s.held.Add(-1)
	_ = d.ad.Nack(false, true)
}

func (d *delivery) Message() jobs.Message { return d.m }

// settle runs f (which talks to the broker) once, unless the deadline or another settle came first.
func (d *delivery) settle(what string, f func() error) error {
	if err := d.slot.Settle(); err != nil {
		return fmt.Errorf("rabbitmq: %s job %q: %w", what, d.m.ID, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled {
		return fmt.Errorf("rabbitmq: %s job %q: %w", what, d.m.ID, errExpired)
	}
	if err := f(); err != nil {
		d.slot.Unsettle()
		return fmt.Errorf("rabbitmq: %s job %q: %w", what, d.m.ID, err)
	}
	d.settled = true
	d.timer.Stop()
	d.s.held.Add(-1)
	return nil
}

// Ack acknowledges the delivery.
func (d *delivery) Ack(ctx context.Context) error {
	return d.settle("ack", func() error { return d.ad.Ack(false) })
}

// Retry publishes the job to the delay queue for delay (or the work queue for none) with its
// attempts so far, confirmed, and then acks this delivery.
func (d *delivery) Retry(ctx context.Context, delay time.Duration) error {
	return d.settle("retry", func() error {
		name, err := d.s.e.target(ctx, d.m.Queue, delay)
		if err != nil {
			return err
		}
		h := wire.Encode(jobs.Message{ID: d.m.ID, Headers: d.m.Headers, EnqueuedAt: d.m.EnqueuedAt})
		h[wire.Prior] = strconv.Itoa(d.m.Attempt)
		if err := d.s.e.send(ctx, name, d.m, h); err != nil {
			return err
		}
		return d.ad.Ack(false)
	})
}

// Dead publishes the job to the dead queue with reason (confirmed) and then acks this delivery.
func (d *delivery) Dead(ctx context.Context, reason string) error {
	return d.settle("dead-letter", func() error {
		h := wire.Encode(d.m)
		h[wire.Reason] = reason
		h[wire.DiedAt] = wire.FormatTime(time.Now())
		if err := d.s.e.send(ctx, d.s.e.deadQueue(d.m.Queue), d.m, h); err != nil {
			return err
		}
		return d.ad.Ack(false)
	})
}

// Extend restarts the delivery's deadline timer (the broker holds an unacked delivery for as
// long as its channel lives, up to consumer_timeout).
func (d *delivery) Extend(ctx context.Context) error {
	if err := d.slot.Extend(); err != nil {
		return fmt.Errorf("rabbitmq: extend job %q: %w", d.m.ID, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled {
		return fmt.Errorf("rabbitmq: extend job %q: %w", d.m.ID, errExpired)
	}
	d.timer.Reset(d.s.opts.AckWait)
	return nil
}
