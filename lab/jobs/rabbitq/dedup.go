package rabbitq

import (
	"sync"
	"time"
)

// dedup remembers the job ids this engine published in the last window, in memory: RabbitMQ
// has no publish dedup of its own. It is bounded (oldest forgotten first when full), so under
// extreme rates the window shrinks rather than memory growing.
type dedup struct {
	window time.Duration
	limit  int

	mu    sync.Mutex
	seen  map[string]time.Time
	order []string // ids by claim time, oldest first, from head on (compacted as it drains)
	head  int
}

func newDedup(window time.Duration, limit int) *dedup {
	return &dedup{window: window, limit: limit, seen: map[string]time.Time{}}
}

// claim reports whether key is new within the window and, if so, records it.
func (d *dedup) claim(key string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if _, ok := d.seen[key]; ok {
		return false
	}
	if len(d.seen) >= d.limit {
		d.evictOldest()
	}
	d.seen[key] = now
	d.order = append(d.order, key)
	return true
}

// forget undoes a claim whose publish failed, so a retry of it is not swallowed.
func (d *dedup) forget(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.seen, key) // its order entry is skipped when reached
}

func (d *dedup) expire(now time.Time) {
	for d.head < len(d.order) {
		k := d.order[d.head]
		at, ok := d.seen[k]
		if ok && now.Sub(at) < d.window {
			break
		}
		if ok {
			delete(d.seen, k)
		}
		d.head++
	}
	if d.head > len(d.order)/2 && d.head > 1024 {
		d.order = append(d.order[:0:0], d.order[d.head:]...)
		d.head = 0
	}
}

func (d *dedup) evictOldest() {
	for d.head < len(d.order) {
		k := d.order[d.head]
		d.head++
		if _, ok := d.seen[k]; ok {
			delete(d.seen, k)
			return
		}
	}
}
