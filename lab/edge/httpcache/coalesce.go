package httpcache

import (
	"context"
	"sync"
)

// flights coalesces origin fetches by key: the first request of a key leads (fetches), later ones
// follow (wait for its result). Unlike x/sync/singleflight it tells the leader apart, so that the
// leader alone streams a response too large to share, and a follower stops waiting when its own
// context ends.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one fetch in progress; e is the entry it stored (nil: nothing shareable), set before
// done is closed.
type flight struct {
	done chan struct{}
	e    *entry
}

// join returns the flight of key and whether the caller leads it (and must call land).
func (g *flights) join(key string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f, false
	}
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	f := &flight{done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

// land ends the leader's flight with its stored entry e (nil: followers fetch for themselves).
func (g *flights) land(key string, f *flight, e *entry) {
	g.mu.Lock()
	delete(g.m, key)
	g.mu.Unlock()
	f.e = e
	close(f.done)
}

// wait blocks until the flight lands or ctx ends, and returns its entry (nil either way when
// there is nothing to share).
func (f *flight) wait(ctx context.Context) (*entry, error) {
	select {
	case <-f.done:
		return f.e, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
