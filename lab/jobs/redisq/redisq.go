// Package redisq is the Redis Streams queue engine.
//
// Mapping of the [jobs.Engine] contract onto Redis's own mechanisms, per queue (every key of a
// queue shares the hash tag "{<prefix>:<queue>}", so each Lua script touches one slot):
//
//   - The jobs are a stream ("…:stream") read by a consumer group with XREADGROUP; Ack is XACK
//     plus XDEL (one group per queue, so an acked entry is done).
//   - The ack deadline is the group's pending-entries list: every subscription XAUTOCLAIMs entries
//     idle longer than its AckWait, and the entry's delivery count from XPENDING (plus the attempts
//     before a Retry, carried in the entry) is [jobs.Message.Attempt]. Extend is XCLAIM JUSTID,
//     which resets the entry's idle time without counting a delivery. Each subscription is a
//     consumer of its own, deleted from the group on Close when it holds nothing pending.
//   - Delayed jobs and Retry delays wait in a sorted set ("…:delayed", scored by due time, each
//     job's fields in a hash beside it); a Lua script moves due jobs into the stream atomically.
//     Every subscription runs it before each read, so a due job waits at most one read block
//     (250ms) — as late as that, never early.
//   - Publish dedup is SET NX with an expiry of [jobs.DedupWindow] on "…:dedup:<id>", in the same
//     Lua script as the XADD (or ZADD), so a publish is deduplicated and enqueued atomically.
//   - Dead letters are a second stream ("…:dead") with the reason fields, indexed by job id in a
//     hash for Replay; Dead and Replay are Lua scripts, so a job is never in both places or none.
//
// Redis has no broker-side delivery limit: how many attempts a job gets is the worker runtime's
// decision (it dead-letters a job whose Attempt is past its limit). The scripts name keys built
// from their declared keys, which single-node Redis allows; in a cluster the hash tag keeps
// them on one node.
//
// It imports go-redis, lab/jobs and its internal packages.
package redisq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/internal/inflight"
	"github.com/headroom/headroom/lab/jobs/internal/wire"
)

// Config configures [New].
type Config struct {
	// URL is the Redis server, e.g. "redis://127.0.0.1:6379/0". Required.
	URL string
	// Prefix namespaces the keys so several labs or test runs share a server: lower-case
	// letters, digits, dashes and underscores. Default "headroom".
	Prefix string
	// Block is how long one read waits for new entries; it also bounds how late a due delayed
	// job is moved and how long Close waits for a read. Default 250ms.
	Block time.Duration
}

// Field names of a stream entry besides the job's headers ("h:<name>").
const (
	fieldPayload = "p"
	fieldPrior   = "prior" // attempts made before a Retry re-enqueued the job
	headerField  = "h:"
)

// Engine is the Redis Streams [jobs.Engine]. It is safe for concurrent use.
type Engine struct {
	cfg Config
	rdb *redis.Client

	mu     sync.Mutex
	closed bool
	done   chan struct{}
	subs   map[*subscription]struct{}
}

var _ jobs.Engine = (*Engine)(nil)

// New connects to Redis and checks it answers. ctx bounds the check.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.URL == "" {
		return nil, errors.New("redis queue: no URL (want e.g. redis://127.0.0.1:6379/0)")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "headroom"
	}
	if strings.Trim(cfg.Prefix, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return nil, fmt.Errorf("redis prefix %q: want lower-case letters, digits, '-' and '_'", cfg.Prefix)
	}
	if cfg.Block <= 0 {
		cfg.Block = 250 * time.Millisecond
	}
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis queue URL %q: %w", cfg.URL, err)
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis queue: %s does not answer: %w", cfg.URL, err)
	}
	return &Engine{cfg: cfg, rdb: rdb, done: make(chan struct{}), subs: map[*subscription]struct{}{}}, nil
}

type keys struct{ stream, delayed, dead, deadIndex, tag string }

func (e *Engine) keys(q string) keys {
	tag := "{" + e.cfg.Prefix + ":" + q + "}"
	return keys{stream: tag + ":stream", delayed: tag + ":delayed", dead: tag + ":dead", deadIndex: tag + ":deadidx", tag: tag}
}

// Name is "redis".
func (e *Engine) Name() string { return "redis" }

func (e *Engine) checkOpen() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return jobs.ErrClosed
	}
	return nil
}

// fields is a job as a flat field/value list for XADD and HSET.
func fields(m jobs.Message, prior int) []any {
	h := wire.Encode(m)
	out := make([]any, 0, 2*len(h)+4)
	out = append(out, fieldPayload, m.Payload)
	for k, v := range h {
		out = append(out, headerField+k, v)
	}
	if prior > 0 {
		out = append(out, fieldPrior, strconv.Itoa(prior))
	}
	return out
}

// decode reads an entry's values into a message and the attempts before its last Retry.
func decode(queue string, values map[string]any) (jobs.Message, map[string]string, int, error) {
	m := jobs.Message{Queue: queue}
	h := make(map[string]string, len(values))
	prior := 0
	for k, v := range values {
		s, _ := v.(string)
		switch {
		case k == fieldPayload:
			m.Payload = []byte(s)
		case k == fieldPrior:
			prior, _ = strconv.Atoi(s)
		case strings.HasPrefix(k, headerField):
			h[k[len(headerField):]] = s
		}
	}
	err := wire.Decode(h, &m)
	return m, h, prior, err
}

// publishScript deduplicates and enqueues in one step. KEYS: stream, dedup key, delayed zset,
// delayed job hash. ARGV: dedup window ms, due unix ms (0 = now), zset member, fields….
var publishScript = redis.NewScript(`
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[4], unpack(ARGV, 4))
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
else
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4))
end
return 1`)

// Publish runs the dedup-and-enqueue script: the stream now, or the delayed set when m.NotBefore
// is in the future.
func (e *Engine) Publish(ctx context.Context, m jobs.Message) error {
	if err := wire.Check(m); err != nil {
		return err
	}
	if err := e.checkOpen(); err != nil {
		return err
	}
	k := e.keys(m.Queue)
	var due int64
	if time.Until(m.NotBefore) > 0 {
		due = m.NotBefore.UnixMilli() + 1 // ms resolution: round up, never early
	}
	token := randomToken()
	args := append([]any{jobs.DedupWindow.Milliseconds(), due, token}, fields(m, 0)...)
	err := publishScript.Run(ctx, e.rdb, []string{k.stream, k.tag + ":dedup:" + m.ID, k.delayed, k.tag + ":delayed:" + token}, args...).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis: publish job %q to %s: %w", m.ID, m.Queue, err)
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// moveScript moves due delayed jobs into the stream. KEYS: delayed zset, stream. ARGV: now unix
// ms, batch, hash key prefix.
var moveScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, t in ipairs(due) do
  local h = ARGV[3] .. t
  local f = redis.call('HGETALL', h)
  if #f > 0 then redis.call('XADD', KEYS[2], '*', unpack(f)) end
  redis.call('DEL', h)
  redis.call('ZREM', KEYS[1], t)
end
return #due`)

func (e *Engine) moveDue(ctx context.Context, q string) error {
	k := e.keys(q)
	for {
		n, err := moveScript.Run(ctx, e.rdb, []string{k.delayed, k.stream}, time.Now().UnixMilli(), 100, k.tag+":delayed:").Int()
		if err != nil {
			return err
		}
		if n < 100 {
			return nil
		}
	}
}

// Subscribe creates the queue's consumer group if needed (from the start of the stream, so jobs
// published before any worker are delivered) and starts this subscription's read loop.
func (e *Engine) Subscribe(ctx context.Context, queue string, opts jobs.SubscribeOptions) (jobs.Subscription, error) {
	opts, err := jobs.CheckSubscribe(queue, opts)
	if err != nil {
		return nil, err
	}
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	k := e.keys(queue)
	if err := e.rdb.XGroupCreateMkStream(ctx, k.stream, opts.Group, "0").Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return nil, fmt.Errorf("redis: consumer group %q on %s: %w", opts.Group, queue, err)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	s := &subscription{
		e:        e,
		queue:    queue,
		keys:     k,
		group:    opts.Group,
		consumer: opts.Group + "-" + randomToken(),
		ackWait:  opts.AckWait,
		prefetch: opts.Prefetch,
		limit:    inflight.New(opts.Prefetch),
		ch:       make(chan entry),
		done:     make(chan struct{}),
		cancel:   cancel,
		stopped:  make(chan struct{}),
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		cancel()
		return nil, jobs.ErrClosed
	}
	e.subs[s] = struct{}{}
	e.mu.Unlock()
	go s.loop(loopCtx)
	return s, nil
}

// Stats: Depth is the stream's entries not pending in the group plus the delayed set (delayed
// jobs and jobs waiting out a Retry are counted), InFlight the group's pending entries.
func (e *Engine) Stats(ctx context.Context, queue string) (jobs.QueueStats, error) {
	st := jobs.QueueStats{Queue: queue}
	if err := jobs.CheckQueue(queue); err != nil {
		return st, err
	}
	if err := e.checkOpen(); err != nil {
		return st, err
	}
	k := e.keys(queue)
	pipe := e.rdb.Pipeline()
	xlen := pipe.XLen(ctx, k.stream)
	delayed := pipe.ZCard(ctx, k.delayed)
	dead := pipe.XLen(ctx, k.dead)
	oldest := pipe.XRangeN(ctx, k.stream, "-", "+", 1)
	groups := pipe.XInfoGroups(ctx, k.stream)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) && !isNoStream(err) {
		return st, fmt.Errorf("redis: stats of %s: %w", queue, err)
	}
	for _, g := range groups.Val() {
		st.InFlight += g.Pending
	}
	st.Depth = max(xlen.Val()-st.InFlight, 0) + delayed.Val()
	st.Dead = dead.Val()
	if ents := oldest.Val(); len(ents) > 0 {
		if ms, err := strconv.ParseInt(strings.SplitN(ents[0].ID, "-", 2)[0], 10, 64); err == nil {
			st.OldestAge = max(time.Since(time.UnixMilli(ms)), 0)
		}
	}
	return st, nil
}

func isNoStream(err error) bool { return strings.Contains(err.Error(), "no such key") }

// DeadLetters reads the dead-letter stream from its start.
func (e *Engine) DeadLetters(ctx context.Context, queue string, limit int) ([]jobs.DeadLetter, error) {
	if err := jobs.CheckQueue(queue); err != nil {
		return nil, err
	}
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	ents, err := e.rdb.XRangeN(ctx, e.keys(queue).dead, "-", "+", int64(limit)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: dead letters of %s: %w", queue, err)
	}
	out := make([]jobs.DeadLetter, 0, len(ents))
	for _, ent := range ents {
		m, h, _, err := decode(queue, ent.Values)
		if err != nil {
			return out, fmt.Errorf("redis: dead letter %s of %s: %w", ent.ID, queue, err)
		}
		dl, err := wire.DecodeDead(h, m)
		if err != nil {
			return out, fmt.Errorf("redis: dead letter %s of %s: %w", ent.ID, queue, err)
		}
		out = append(out, dl)
	}
	return out, nil
}

// replayScript moves a dead letter back onto the stream without its death fields. KEYS: dead
// stream, dead index, stream. ARGV: job id.
var replayScript = redis.NewScript(`
local eid = redis.call('HGET', KEYS[2], ARGV[1])
if not eid then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local ents = redis.call('XRANGE', KEYS[1], eid, eid)
if #ents == 0 then return 0 end
local f, out = ents[1][2], {}
for i = 1, #f, 2 do
  local k = f[i]
  if k ~= 'h:` + wire.Reason + `' and k ~= 'h:` + wire.DiedAt + `' and k ~= 'h:` + wire.NotBefore + `' and k ~= '` + fieldPrior + `' then
    out[#out+1] = k
    out[#out+1] = f[i+1]
  end
end
redis.call('XADD', KEYS[3], '*', unpack(out))
redis.call('XDEL', KEYS[1], eid)
return 1`)

// Replay moves the dead letter back onto the queue with a fresh attempt count, atomically.
func (e *Engine) Replay(ctx context.Context, queue, id string) error {
	if err := jobs.CheckQueue(queue); err != nil {
		return err
	}
	if err := e.checkOpen(); err != nil {
		return err
	}
	k := e.keys(queue)
	n, err := replayScript.Run(ctx, e.rdb, []string{k.dead, k.deadIndex, k.stream}, id).Int()
	if err != nil {
		return fmt.Errorf("redis: replay %q of %s: %w", id, queue, err)
	}
	if n == 0 {
		return fmt.Errorf("redis: dead letter %q of queue %q: %w", id, queue, jobs.ErrNotFound)
	}
	return nil
}

// Close ends every subscription (waiting for their reads to return) and closes the client.
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
	e.mu.Unlock()
	for s := range subs {
		s.stop()
	}
	return e.rdb.Close()
}

// entry is a read stream entry with its delivery count.
type entry struct {
	msg        redis.XMessage
	deliveries int64
}

type subscription struct {
	e        *Engine
	queue    string
	keys     keys
	group    string
	consumer string
	ackWait  time.Duration
	prefetch int
	limit    *inflight.Limiter
	ch       chan entry // unbuffered: the read batch is the prefetch
	done     chan struct{}
	cancel   context.CancelFunc
	stopped  chan struct{}
	once     sync.Once
}

// loop moves due delayed jobs, reclaims entries past their ack deadline, reads new ones, and
// hands each to Next, until the subscription stops. Errors (Redis restarting) are retried
// after a block's pause.
func (s *subscription) loop(ctx context.Context) {
	defer close(s.stopped)
	for ctx.Err() == nil {
		ents, err := s.fetch(ctx)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(s.e.cfg.Block):
			}
			continue
		}
		for _, ent := range ents {
			select {
			case s.ch <- ent:
			case <-ctx.Done():
				return // unhanded entries stay pending and are reclaimed after their ack deadline
			}
		}
	}
}

func (s *subscription) fetch(ctx context.Context) ([]entry, error) {
	if err := s.e.moveDue(ctx, s.queue); err != nil {
		return nil, err
	}
	claimed, _, err := s.e.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: s.keys.stream, Group: s.group, Consumer: s.consumer,
		MinIdle: s.ackWait, Start: "0-0", Count: int64(s.prefetch),
	}).Result()
	if err != nil {
		return nil, err
	}
	if len(claimed) > 0 {
		out := make([]entry, 0, len(claimed))
		for _, m := range claimed {
			n := int64(2) // at least: delivered once before, claimed now
			if p, err := s.e.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
				Stream: s.keys.stream, Group: s.group, Start: m.ID, End: m.ID, Count: 1,
			}).Result(); err == nil && len(p) == 1 {
				n = p[0].RetryCount
			}
			out = append(out, entry{msg: m, deliveries: n})
		}
		return out, nil
	}
	// Read only what the window has room for: an entry read is pending on this consumer and its
	// ack deadline runs while it waits to be handed out.
	room := max(s.prefetch-s.limit.InUse(), 1)
	streams, err := s.e.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: s.group, Consumer: s.consumer, Streams: []string{s.keys.stream, ">"},
		Count: int64(room), Block: s.e.cfg.Block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, st := range streams {
		for _, m := range st.Messages {
			out = append(out, entry{msg: m, deliveries: 1})
		}
	}
	return out, nil
}

func (s *subscription) Next(ctx context.Context) (jobs.Delivery, error) {
	return inflight.Next(ctx, s.limit, s.done, s.e.done, s.ackWait, s.ch, func(ent entry, slot *inflight.Slot) (jobs.Delivery, bool) {
		d := &delivery{s: s, slot: slot, id: ent.msg.ID}
		m, _, prior, err := decode(s.queue, ent.msg.Values)
		d.m = m
		if err != nil {
			// Not written by this package: dead-letter it with the error instead of
			// redelivering it forever.
			if d.m.ID == "" {
				d.m.ID = "entry-" + ent.msg.ID
			}
			_ = d.Dead(ctx, "undecodable entry: "+err.Error())
			return nil, false
		}
		d.m.Attempt = prior + int(ent.deliveries)
		return d, true
	})
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
		s.cancel()
		<-s.stopped
		s.forget()
	})
}

// forgetScript deletes a consumer that holds no pending entries (deleting one that does would
// drop its entries from the group's pending list, so they would never be redelivered).
// KEYS: stream. ARGV: group, consumer.
var forgetScript = redis.NewScript(`
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i+1] elseif c[i] == 'pending' then pending = c[i+1] end
  end
  if name == ARGV[2] then
    if pending == 0 then redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) end
    return 1
  end
end
return 0`)

// forget removes this subscription's consumer from the group when it left nothing pending, so
// restarts do not pile up consumers; one with entries stays until they are reclaimed.
func (s *subscription) forget() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = forgetScript.Run(ctx, s.e.rdb, []string{s.keys.stream}, s.group, s.consumer).Err()
}

type delivery struct {
	s    *subscription
	slot *inflight.Slot
	id   string // stream entry id
	m    jobs.Message
}

func (d *delivery) Message() jobs.Message { return d.m }

func (d *delivery) settle(what string, f func() error) error {
	if err := d.slot.Settle(); err != nil {
		return fmt.Errorf("redis: %s job %q: %w", what, d.m.ID, err)
	}
	if err := f(); err != nil {
		d.slot.Unsettle()
		return fmt.Errorf("redis: %s job %q: %w", what, d.m.ID, err)
	}
	return nil
}

// ackScript acknowledges and deletes an entry, reporting whether this consumer still owned it
// (a delivery reclaimed by another worker after its deadline is not this one's to settle).
// KEYS: stream. ARGV: group, entry id.
// KEYS: stream. ARGV: group, entry id, consumer.
var ackScript = redis.NewScript(`
if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3]) == 0 then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1`)

// errStale is returned when settling a delivery whose ack deadline passed and that the group
// has since handed to another worker (or settled).
var errStale = errors.New("delivery no longer pending for this worker (its ack deadline passed)")

func staleIfZero(n int, err error) error {
	if err == nil && n == 0 {
		return errStale
	}
	return err
}

// Ack is XACK and XDEL in one script, refused for a delivery another worker now holds.
func (d *delivery) Ack(ctx context.Context) error {
	return d.settle("ack", func() error {
		return staleIfZero(ackScript.Run(ctx, d.s.e.rdb, []string{d.s.keys.stream}, d.s.group, d.id, d.s.consumer).Int())
	})
}

// retryScript acknowledges the entry and puts the job in the delayed set (or straight back on
// the stream) with its attempts so far. KEYS: stream, delayed zset, job hash. ARGV: group, entry
// id, due unix ms (0 = now), zset member, fields….
var retryScript = redis.NewScript(`
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if tonumber(ARGV[3]) > 0 then
  redis.call('HSET', KEYS[3], unpack(ARGV, 5))
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
else
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, 5))
end
return 1`)

// Retry re-enqueues the job after delay through the delayed set, carrying its attempt count.
func (d *delivery) Retry(ctx context.Context, delay time.Duration) error {
	return d.settle("retry", func() error {
		var due int64
		if delay > 0 {
			due = time.Now().Add(delay).UnixMilli() + 1
		}
		token := randomToken()
		args := append([]any{d.s.group, d.id, due, token}, fields(d.m, d.m.Attempt)...)
		k := d.s.keys
		return staleIfZero(retryScript.Run(ctx, d.s.e.rdb, []string{k.stream, k.delayed, k.tag + ":delayed:" + token}, args...).Int())
	})
}

// deadScript acknowledges the entry and appends the job to the dead-letter stream, replacing an
// earlier dead letter of the same id. KEYS: stream, dead stream, dead index. ARGV: group, entry
// id, job id, fields….
var deadScript = redis.NewScript(`
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
local old = redis.call('HGET', KEYS[3], ARGV[3])
if old then redis.call('XDEL', KEYS[2], old) end
local eid = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
redis.call('HSET', KEYS[3], ARGV[3], eid)
return 1`)

// Dead moves the job to the dead-letter stream with reason, atomically with its XACK.
func (d *delivery) Dead(ctx context.Context, reason string) error {
	return d.settle("dead-letter", func() error {
		f := fields(d.m, 0)
		f = append(f, headerField+wire.Reason, reason, headerField+wire.DiedAt, wire.FormatTime(time.Now()))
		k := d.s.keys
		args := append([]any{d.s.group, d.id, d.m.ID}, f...)
		return deadScript.Run(ctx, d.s.e.rdb, []string{k.stream, k.dead, k.deadIndex}, args...).Err()
	})
}

// Extend is XCLAIM JUSTID to this consumer with no idle minimum: it resets the entry's idle time
// (pushing back every subscription's XAUTOCLAIM) without counting a delivery.
func (d *delivery) Extend(ctx context.Context) error {
	if err := d.slot.Extend(); err != nil {
		return fmt.Errorf("redis: extend job %q: %w", d.m.ID, err)
	}
	ids, err := d.s.e.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: d.s.keys.stream, Group: d.s.group, Consumer: d.s.consumer, Messages: []string{d.id},
	}).Result()
	if err != nil {
		return fmt.Errorf("redis: extend job %q: %w", d.m.ID, err)
	}
	if len(ids) == 0 {
		return fmt.Errorf("redis: extend job %q: no longer pending (settled or gone)", d.m.ID)
	}
	return nil
}
