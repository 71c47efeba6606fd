// Package natsq is the NATS JetStream queue engine: an embedded in-process server with file
// storage by default, or an external server by URL.
//
// Mapping of the [jobs.Engine] contract onto JetStream's own mechanisms:
//
//   - One work-queue stream ("<PREFIX>_JOBS", subjects "<prefix>.q.<queue>" and
//     "<prefix>.delay.<queue>", file storage): a job is removed once acked or terminated.
//   - A durable pull consumer per queue and group; its AckWait is [jobs.SubscribeOptions.AckWait],
//     so an unacknowledged delivery is redelivered by the server, and the consumer's delivery
//     count is [jobs.Message.Attempt]. Work-queue retention admits one group per queue: a second
//     group on the same queue is refused by the server.
//   - Retry is a NAK with delay, Extend is an in-progress ack, Dead publishes the job to the
//     dead-letter stream ("<PREFIX>_DEAD", subject "<prefix>.dead.<queue>.<id>", one message per
//     subject, with the reason and time headers) and then terminates the delivery.
//   - Publish dedup is JetStream's: the Nats-Msg-Id header, with the stream's duplicate window at
//     least [jobs.DedupWindow].
//   - Delayed jobs (NotBefore in the future) go to the queue's delay subject, whose own consumer
//     NAKs each job with the time left and moves it to the work subject when due (deduplicated by
//     message id, so several engines may run the mover). JetStream's scheduled messages would do
//     this on the server but need a newer server than the machines run (2.12+); this way the
//     work consumer never sees a job early and its delivery count stays the attempt count.
//   - How many attempts a job gets is the worker runtime's decision (it dead-letters a job whose
//     Attempt is past its limit). Below that, the work consumers' MaxDeliver ([Config.MaxDeliver])
//     is a safety net: when JetStream stops delivering a job it announces it (the MAX_DELIVERIES
//     advisory), and every engine connected moves the job from the work stream to the dead
//     letters with that reason (the dead-letter stream keeps one message per job, so several
//     engines doing it at once leave one). Retry counts as a delivery here.
//
// It imports nats.go, nats-server (for the embedded server), lab/jobs and its internal packages.
package natsq

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/internal/inflight"
	"github.com/headroom/headroom/lab/jobs/internal/wire"
)

// Config configures [New]. The zero value starts an embedded server in a temporary directory.
type Config struct {
	// URL is an external NATS server with JetStream enabled, e.g. "nats://127.0.0.1:4222".
	// Empty (the default) starts an embedded server in process on 127.0.0.1 and a random port.
	URL string
	// StoreDir is the embedded server's JetStream file storage. Default: a temporary directory
	// that Close removes. Ignored with URL.
	StoreDir string
	// Prefix namespaces the streams and subjects so several labs or test runs can share a
	// server: lower-case letters, digits, dashes and underscores. Default "headroom".
	Prefix string
	// DuplicateWindow is the streams' publish-dedup window. Default and minimum [jobs.DedupWindow].
	DuplicateWindow time.Duration
	// MaxDeliver is the work consumers' delivery limit, after which the job is dead-lettered (a
	// job that kills every worker, or one retried that often): set it above the worker runtime's
	// max attempts. Default 20.
	MaxDeliver int
}

func (c *Config) setDefaults() error {
	if c.Prefix == "" {
		c.Prefix = "headroom"
	}
	if strings.Trim(c.Prefix, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return fmt.Errorf("nats prefix %q: want lower-case letters, digits, '-' and '_'", c.Prefix)
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 20
	}
	if c.DuplicateWindow < jobs.DedupWindow {
		c.DuplicateWindow = jobs.DedupWindow
	}
	return nil
}

// Engine is the JetStream [jobs.Engine]. It is safe for concurrent use.
type Engine struct {
	cfg     Config
	srv     *server.Server // embedded server, nil with Config.URL
	tempDir string         // store directory New created, removed by Close
	nc      *nats.Conn
	js      jetstream.JetStream
	work    jetstream.Stream
	dead    jetstream.Stream

	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by Close
	subs   map[*subscription]struct{}
	movers map[string]jetstream.ConsumeContext // delay movers by queue
}

var _ jobs.Engine = (*Engine)(nil)

// New connects to (or starts) the server and creates the streams. ctx bounds the setup.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, done: make(chan struct{}), subs: map[*subscription]struct{}{}, movers: map[string]jetstream.ConsumeContext{}}
	if err := e.connect(); err != nil {
		return nil, errors.Join(err, e.shutdown())
	}
	if err := e.createStreams(ctx); err != nil {
		return nil, errors.Join(err, e.shutdown())
	}
	if _, err := e.nc.Subscribe(maxDeliveriesAdvisory+"."+e.workStream()+".*", e.onMaxDeliveries); err != nil {
		return nil, errors.Join(fmt.Errorf("nats: subscribe to delivery-limit advisories: %w", err), e.shutdown())
	}
	return e, nil
}

// maxDeliveriesAdvisory is the subject prefix of JetStream's announcement that a consumer
// stopped delivering a message at its MaxDeliver.
const maxDeliveriesAdvisory = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"

// onMaxDeliveries moves the job a consumer gave up on to the dead letters.
func (e *Engine) onMaxDeliveries(msg *nats.Msg) {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if err := json.Unmarshal(msg.Data, &adv); err != nil || adv.StreamSeq == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := e.work.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return // gone already: another engine moved it, or it was settled
	}
	queue, ok := strings.CutPrefix(raw.Subject, e.cfg.Prefix+".q.")
	if !ok {
		return
	}
	m := jobs.Message{Queue: queue, Payload: raw.Data}
	if err := wire.Decode(fromHeader(raw.Header), &m); err != nil {
		m.ID = "stream-seq-" + strconv.FormatUint(raw.Sequence, 10)
	}
	reason := fmt.Sprintf("nats: delivered %d times without being settled (MaxDeliver %d)", adv.Deliveries, e.cfg.MaxDeliver)
	if err := e.publishDead(ctx, m, reason); err != nil {
		return
	}
	_ = e.work.DeleteMsg(ctx, raw.Sequence)
}

// publishDead stores m in the dead-letter stream with reason and the time.
func (e *Engine) publishDead(ctx context.Context, m jobs.Message, reason string) error {
	h := wire.Encode(m)
	h[wire.Reason] = reason
	h[wire.DiedAt] = wire.FormatTime(time.Now())
	msg := &nats.Msg{Subject: e.deadSubject(m.Queue, m.ID), Header: toHeader(h), Data: m.Payload}
	_, err := e.js.PublishMsg(ctx, msg)
	return err
}

func (e *Engine) connect() error {
	url := e.cfg.URL
	var opts []nats.Option
	if url == "" {
		dir := e.cfg.StoreDir
		if dir == "" {
			d, err := os.MkdirTemp("", "headroom-nats-")
			if err != nil {
				return fmt.Errorf("nats: embedded store directory: %w", err)
			}
			dir, e.tempDir = d, d
		}
		srv, err := server.NewServer(&server.Options{
			ServerName: "headroom-embedded",
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   dir,
			NoLog:      true,
			NoSigs:     true,
		})
		if err != nil {
			return fmt.Errorf("nats: embedded server: %w", err)
		}
		e.srv = srv
		go srv.Start()
		if !srv.ReadyForConnections(10 * time.Second) {
			return errors.New("nats: embedded server did not start within 10s")
		}
		url = srv.ClientURL()
		// Workers in this process skip TCP; other processes use URL().
		opts = append(opts, nats.InProcessServer(srv))
	}
	opts = append(opts, nats.Name("headroom-jobs"), nats.MaxReconnects(-1))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("nats: connect %s: %w", url, err)
	}
	e.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	e.js = js
	return nil
}

func (e *Engine) workStream() string { return strings.ToUpper(e.cfg.Prefix) + "_JOBS" }
func (e *Engine) deadStream() string { return strings.ToUpper(e.cfg.Prefix) + "_DEAD" }

func (e *Engine) workSubject(q string) string  { return e.cfg.Prefix + ".q." + q }
func (e *Engine) delaySubject(q string) string { return e.cfg.Prefix + ".delay." + q }
func (e *Engine) deadSubject(q, id string) string {
	// Job ids may hold any character; base64url gives one valid subject token.
	return e.cfg.Prefix + ".dead." + q + "." + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// consumerName is a durable name for queue and role: names cannot hold dots, and '~' cannot
// appear in a queue or group name, so the mapping is one to one.
func consumerName(q, role string) string { return strings.ReplaceAll(q, ".", "~") + "~~" + role }

func (e *Engine) createStreams(ctx context.Context) error {
	if _, err := e.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("nats: JetStream is not available on %s (start nats-server with -js): %w", e.URL(), err)
	}
	var err error
	e.work, err = e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       e.workStream(),
		Subjects:   []string{e.cfg.Prefix + ".q.>", e.cfg.Prefix + ".delay.>"},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Duplicates: e.cfg.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("nats: stream %s: %w", e.workStream(), err)
	}
	e.dead, err = e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              e.deadStream(),
		Subjects:          []string{e.cfg.Prefix + ".dead.>"},
		Retention:         jetstream.LimitsPolicy,
		Storage:           jetstream.FileStorage,
		MaxMsgsPerSubject: 1, // a job dead twice is listed once, with its latest reason
	})
	if err != nil {
		return fmt.Errorf("nats: stream %s: %w", e.deadStream(), err)
	}
	return nil
}

// Name is "nats".
func (e *Engine) Name() string { return "nats" }

// URL is the server's client URL: the external one, or the embedded server's loopback address
// for workers in other processes.
func (e *Engine) URL() string {
	if e.srv != nil {
		return e.srv.ClientURL()
	}
	return e.cfg.URL
}

func (e *Engine) checkOpen() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return jobs.ErrClosed
	}
	return nil
}

func toHeader(h map[string]string) nats.Header {
	out := make(nats.Header, len(h))
	for k, v := range h {
		out.Set(k, v)
	}
	return out
}

func fromHeader(h nats.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 && !strings.HasPrefix(k, "Nats-") {
			out[k] = v[0]
		}
	}
	return out
}

// Publish stores m in the work stream (or its queue's delay subject when m.NotBefore is in the
// future) and waits for the server's acknowledgement.
func (e *Engine) Publish(ctx context.Context, m jobs.Message) error {
	if err := wire.Check(m); err != nil {
		return err
	}
	if err := e.checkOpen(); err != nil {
		return err
	}
	subj := e.workSubject(m.Queue)
	if time.Until(m.NotBefore) > 0 {
		subj = e.delaySubject(m.Queue)
	}
	msg := &nats.Msg{Subject: subj, Header: toHeader(wire.Encode(m)), Data: m.Payload}
	if _, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(m.Queue+"/"+m.ID)); err != nil {
		return fmt.Errorf("nats: publish job %q to %s: %w", m.ID, m.Queue, err)
	}
	return nil
}

// Subscribe creates (or joins) the durable consumer of queue for opts.Group and starts the
// queue's delay mover in this engine.
func (e *Engine) Subscribe(ctx context.Context, queue string, opts jobs.SubscribeOptions) (jobs.Subscription, error) {
	opts, err := jobs.CheckSubscribe(queue, opts)
	if err != nil {
		return nil, err
	}
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	if err := e.startMover(ctx, queue); err != nil {
		return nil, err
	}
	cons, err := e.js.CreateOrUpdateConsumer(ctx, e.workStream(), jetstream.ConsumerConfig{
		Durable:       consumerName(queue, opts.Group),
		FilterSubject: e.workSubject(queue),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       opts.AckWait,
		MaxDeliver:    e.cfg.MaxDeliver,
		// The subscription bounds its own window (inflight); a consumer-wide bound would let
		// jobs waiting out a Retry delay block the queue.
		MaxAckPending: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: consumer for queue %q group %q (JetStream work queues admit one group per queue): %w", queue, opts.Group, err)
	}
	s := &subscription{
		e:       e,
		queue:   queue,
		ackWait: opts.AckWait,
		limit:   inflight.New(opts.Prefetch),
		ch:      make(chan jetstream.Msg),
		done:    make(chan struct{}),
	}
	cc, err := cons.Consume(s.handle, jetstream.PullMaxMessages(opts.Prefetch))
	if err != nil {
		return nil, fmt.Errorf("nats: consume queue %q: %w", queue, err)
	}
	s.cc = cc
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		cc.Stop()
		return nil, jobs.ErrClosed
	}
	e.subs[s] = struct{}{}
	return s, nil
}

// startMover runs the queue's delay mover once per engine.
func (e *Engine) startMover(ctx context.Context, queue string) error {
	e.mu.Lock()
	_, running := e.movers[queue]
	e.mu.Unlock()
	if running {
		return nil
	}
	cons, err := e.js.CreateOrUpdateConsumer(ctx, e.workStream(), jetstream.ConsumerConfig{
		Durable:       consumerName(queue, "delay"),
		FilterSubject: e.delaySubject(queue),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: -1, // every waiting job is pending on this consumer
	})
	if err != nil {
		return fmt.Errorf("nats: delay consumer for queue %q: %w", queue, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { e.move(queue, msg) })
	if err != nil {
		return fmt.Errorf("nats: delay consumer for queue %q: %w", queue, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, running := e.movers[queue]; running || e.closed {
		cc.Stop()
		return nil
	}
	e.movers[queue] = cc
	return nil
}

// move puts a delayed job on its work subject when due, or NAKs it for the time left.
func (e *Engine) move(queue string, msg jetstream.Msg) {
	h := msg.Headers()
	due, err := wire.ParseTime(h.Get(wire.NotBefore))
	if err != nil {
		due = time.Time{} // a corrupt time must not hold the job forever: deliver it now
	}
	if wait := time.Until(due); wait > 0 {
		_ = msg.NakWithDelay(wait)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := &nats.Msg{Subject: e.workSubject(queue), Header: toHeader(fromHeader(h)), Data: msg.Data()}
	if _, err := e.js.PublishMsg(ctx, out, jetstream.WithMsgID(queue+"/"+h.Get(wire.ID)+"/due")); err != nil {
		_ = msg.NakWithDelay(time.Second) // the server is struggling; try again shortly
		return
	}
	_ = msg.Ack()
}

// Stats reports the queue from the work stream's per-subject counts and its consumers.
// InFlight counts deliveries not yet acked, which includes jobs waiting out a Retry delay.
func (e *Engine) Stats(ctx context.Context, queue string) (jobs.QueueStats, error) {
	st := jobs.QueueStats{Queue: queue}
	if err := jobs.CheckQueue(queue); err != nil {
		return st, err
	}
	if err := e.checkOpen(); err != nil {
		return st, err
	}
	total, err := subjectCount(ctx, e.work, e.cfg.Prefix+".*."+queue)
	if err != nil {
		return st, err
	}
	lister := e.work.ListConsumers(ctx)
	for ci := range lister.Info() {
		if ci.Config.FilterSubject == e.workSubject(queue) {
			st.InFlight += int64(ci.NumAckPending)
		}
	}
	if err := lister.Err(); err != nil {
		return st, fmt.Errorf("nats: consumers of %s: %w", queue, err)
	}
	st.Depth = max(total-st.InFlight, 0)
	if st.Dead, err = subjectCount(ctx, e.dead, e.cfg.Prefix+".dead."+queue+".*"); err != nil {
		return st, err
	}
	oldest, err := e.work.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(e.workSubject(queue)))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return st, fmt.Errorf("nats: oldest job of %s: %w", queue, err)
	default:
		st.OldestAge = max(time.Since(oldest.Time), 0)
	}
	return st, nil
}

func subjectCount(ctx context.Context, s jetstream.Stream, filter string) (int64, error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("nats: count %s: %w", filter, err)
	}
	var n int64
	for _, c := range info.State.Subjects {
		n += int64(c)
	}
	return n, nil
}

// DeadLetters walks the dead-letter stream's messages of queue in stream order (oldest first).
func (e *Engine) DeadLetters(ctx context.Context, queue string, limit int) ([]jobs.DeadLetter, error) {
	if err := jobs.CheckQueue(queue); err != nil {
		return nil, err
	}
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	var out []jobs.DeadLetter
	filter := e.cfg.Prefix + ".dead." + queue + ".*"
	for seq := uint64(1); len(out) < limit; {
		raw, err := e.dead.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("nats: dead letters of %s: %w", queue, err)
		}
		seq = raw.Sequence + 1
		dl, err := wire.DecodeDead(fromHeader(raw.Header), jobs.Message{Queue: queue, Payload: raw.Data})
		if err != nil {
			return out, fmt.Errorf("nats: dead letter %d of %s: %w", raw.Sequence, queue, err)
		}
		out = append(out, dl)
	}
	return out, nil
}

// Replay publishes the dead letter back to its queue (under a fresh message id, so the dedup
// window does not swallow it) and then deletes it from the dead-letter stream.
func (e *Engine) Replay(ctx context.Context, queue, id string) error {
	if err := jobs.CheckQueue(queue); err != nil {
		return err
	}
	if err := e.checkOpen(); err != nil {
		return err
	}
	raw, err := e.dead.GetLastMsgForSubject(ctx, e.deadSubject(queue, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("nats: dead letter %q of queue %q: %w", id, queue, jobs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("nats: dead letter %q of queue %q: %w", id, queue, err)
	}
	h := fromHeader(raw.Header)
	for _, k := range []string{wire.Reason, wire.DiedAt, wire.NotBefore} {
		delete(h, k)
	}
	msg := &nats.Msg{Subject: e.workSubject(queue), Header: toHeader(h), Data: raw.Data}
	msgID := queue + "/" + id + "/replay/" + strconv.FormatUint(raw.Sequence, 10)
	if _, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("nats: replay %q to %s: %w", id, queue, err)
	}
	if err := e.dead.DeleteMsg(ctx, raw.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("nats: replayed %q but could not remove its dead letter: %w", id, err)
	}
	return nil
}

// Close ends every subscription and the delay movers, drains the connection and stops the
// embedded server (removing its temporary store).
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
	movers := e.movers
	e.movers = nil
	e.mu.Unlock()
	for s := range subs {
		s.stop()
	}
	for _, cc := range movers {
		cc.Stop()
	}
	return e.shutdown()
}

func (e *Engine) shutdown() error {
	var err error
	if e.nc != nil {
		e.nc.Close()
	}
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	}
	if e.tempDir != "" {
		err = os.RemoveAll(e.tempDir)
	}
	return err
}

type subscription struct {
	e       *Engine
	queue   string
	ackWait time.Duration
	limit   *inflight.Limiter
	cc      jetstream.ConsumeContext
	ch      chan jetstream.Msg // unbuffered: the client's pull buffer is the prefetch
	done    chan struct{}
	once    sync.Once
}

// handle runs on the consumer's goroutine: it hands the message to Next, or NAKs it when the
// subscription closes so the server returns it at once.
func (s *subscription) handle(msg jetstream.Msg) {
	select {
	case s.ch <- msg:
	case <-s.done:
		_ = msg.Nak()
	}
}

func (s *subscription) Next(ctx context.Context) (jobs.Delivery, error) {
	return inflight.Next(ctx, s.limit, s.done, s.e.done, s.ackWait, s.ch, func(msg jetstream.Msg, slot *inflight.Slot) (jobs.Delivery, bool) {
		return s.delivery(ctx, msg, slot)
	})
}

// delivery decodes msg. A message this package did not write (no job id, bad times) is
// dead-lettered with the decode error rather than redelivered forever.
func (s *subscription) delivery(ctx context.Context, msg jetstream.Msg, slot *inflight.Slot) (*delivery, bool) {
	d := &delivery{s: s, msg: msg, slot: slot, m: jobs.Message{Queue: s.queue, Payload: msg.Data()}}
	md, mdErr := msg.Metadata()
	err := wire.Decode(fromHeader(msg.Headers()), &d.m)
	if err == nil && mdErr != nil {
		err = mdErr
	}
	if err != nil {
		if d.m.ID == "" && mdErr == nil {
			d.m.ID = "stream-seq-" + strconv.FormatUint(md.Sequence.Stream, 10)
		}
		_ = d.Dead(ctx, "undecodable message: "+err.Error())
		return nil, false
	}
	d.m.Attempt = int(md.NumDelivered)
	return d, true
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
		s.cc.Stop()
	})
}

type delivery struct {
	s    *subscription
	msg  jetstream.Msg
	slot *inflight.Slot
	m    jobs.Message
}

func (d *delivery) Message() jobs.Message { return d.m }

func (d *delivery) settle(what string, f func() error) error {
	if err := d.slot.Settle(); err != nil {
		return fmt.Errorf("nats: %s job %q: %w", what, d.m.ID, err)
	}
	if err := f(); err != nil {
		d.slot.Unsettle()
		return fmt.Errorf("nats: %s job %q: %w", what, d.m.ID, err)
	}
	return nil
}

// Ack acknowledges the delivery; the work queue then drops the job.
func (d *delivery) Ack(ctx context.Context) error {
	return d.settle("ack", d.msg.Ack)
}

// Retry NAKs the delivery with delay: the server redelivers it then, counting the attempt.
func (d *delivery) Retry(ctx context.Context, delay time.Duration) error {
	return d.settle("retry", func() error { return d.msg.NakWithDelay(max(delay, 0)) })
}

// Dead stores the job in the dead-letter stream and then terminates the delivery. A crash
// between the two leaves the job in both places; Replay and redelivery are at-least-once.
func (d *delivery) Dead(ctx context.Context, reason string) error {
	return d.settle("dead-letter", func() error {
		if err := d.s.e.publishDead(ctx, d.m, reason); err != nil {
			return err
		}
		return d.msg.Term()
	})
}

// Extend sends an in-progress ack, which restarts the server's AckWait for the delivery.
func (d *delivery) Extend(ctx context.Context) error {
	if err := d.slot.Extend(); err != nil {
		return fmt.Errorf("nats: extend job %q: %w", d.m.ID, err)
	}
	if err := d.msg.InProgress(); err != nil {
		return fmt.Errorf("nats: extend job %q: %w", d.m.ID, err)
	}
	return nil
}
