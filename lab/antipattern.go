package lab

import (
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
)

// Antipattern names a classic performance mistake the lab can switch on. The names are a contract
// with users, scripts and headroom's detectors: never rename one; add new ones to [Antipatterns].
type Antipattern string

// The antipatterns the lab implements.
const (
	// NPlusOne loads each post's author (and each comment's author) with its own query.
	NPlusOne Antipattern = "n_plus_one"
	// NoIndex searches posts with a LIKE scan instead of the full-text index.
	NoIndex Antipattern = "no_index"
	// NoCache computes the feed from the database on every request.
	NoCache Antipattern = "no_cache"
	// SyncLogging ships every request's log line to the remote collector inside the request.
	SyncLogging Antipattern = "sync_logging"
	// SyncEmail sends the invitation email inside POST /api/invites instead of in a queued job.
	SyncEmail Antipattern = "sync_email"
	// SyncVideo processes an upload inside POST /api/videos instead of in the queued pipeline.
	SyncVideo Antipattern = "sync_video"
	// SyncDelete deletes a whole account in one transaction inside DELETE /api/account instead
	// of in queued, bounded chunks.
	SyncDelete Antipattern = "sync_delete"
	// SerialCalls reads the parts of a user's summary one after another instead of concurrently.
	SerialCalls Antipattern = "serial_calls"
	// NoTimeouts calls the services (services mode) without any deadline.
	NoTimeouts Antipattern = "no_timeouts"
	// NaiveRetries retries failed calls to the services (services mode) at once, without backoff
	// or budget: a retry storm on a failing service.
	NaiveRetries Antipattern = "naive_retries"
	// NoBreaker calls a failing service (services mode) without a circuit breaker.
	NoBreaker Antipattern = "no_breaker"
)

// registry lists every antipattern with what it does; the order is the order of help output.
var registry = []struct {
	name Antipattern
	desc string
}{
	{NPlusOne, "GET /api/posts and /api/posts/{id} load authors one query per row (1+N) instead of one batched query"},
	{NoIndex, "GET /api/search scans posts with LIKE instead of using the full-text index"},
	{NoCache, "GET /api/feed recomputes the feed from the database on every request (no cache, no singleflight)"},
	{SyncLogging, "every request ships its log line to the remote collector synchronously instead of in async batches"},
	{SyncEmail, "POST /api/invites sends the email over SMTP inside the request instead of in a queued job (outbox + worker)"},
	{SyncVideo, "POST /api/videos processes the upload inside the request instead of in the queued thumbnail/encode/subtitles pipeline"},
	{SyncDelete, "DELETE /api/account deletes everything in one transaction inside the request instead of in queued bounded chunks"},
	{SerialCalls, "GET /api/users/{id}/summary reads the user's posts, orders and invites one after another instead of concurrently (in the services mode: three services called in turn)"},
	{NoTimeouts, "services mode: the gateway calls the services without any deadline, so a hung service hangs its callers"},
	{NaiveRetries, "services mode: failed calls are retried at once, up to 100 times, without backoff or retry budget (a retry storm)"},
	{NoBreaker, "services mode: calls keep going to a failing service instead of failing fast behind a circuit breaker"},
}

// Antipatterns returns the names of all antipatterns the lab knows, in a stable order.
func Antipatterns() []Antipattern {
	out := make([]Antipattern, len(registry))
	for i, r := range registry {
		out[i] = r.name
	}
	return out
}

// Describe returns a one-line description of a, or "" if a is unknown.
func (a Antipattern) Describe() string {
	for _, r := range registry {
		if r.name == a {
			return r.desc
		}
	}
	return ""
}

// Valid reports whether a is a known antipattern.
func (a Antipattern) Valid() bool { return a.Describe() != "" }

// AntipatternSet is a set of enabled antipatterns. The zero value (nil) has none enabled.
type AntipatternSet map[Antipattern]bool

// List returns the enabled antipatterns in registry order.
func (s AntipatternSet) List() []Antipattern {
	var out []Antipattern
	for _, a := range Antipatterns() {
		if s[a] {
			out = append(out, a)
		}
	}
	return out
}

// String returns the enabled names joined by commas, or "none".
func (s AntipatternSet) String() string {
	l := s.List()
	if len(l) == 0 {
		return "none"
	}
	parts := make([]string, len(l))
	for i, a := range l {
		parts[i] = string(a)
	}
	return strings.Join(parts, ",")
}

// ValidAntipatternNames returns the valid names as one comma-separated string, for error messages.
func ValidAntipatternNames() string {
	var parts []string
	for _, a := range Antipatterns() {
		parts = append(parts, string(a))
	}
	return strings.Join(parts, ", ")
}

// The words ParseAntipatterns reads as every antipattern and as none.
const (
	AllAntipatterns = "all"
	NoAntipatterns  = "none"
)

// ParseAntipatterns parses AllAntipatterns, NoAntipatterns (or ""), or a comma-separated list
// of names. An unknown name is an error naming it and listing the valid ones.
func ParseAntipatterns(spec string) (AntipatternSet, error) {
	spec = strings.TrimSpace(spec)
	set := AntipatternSet{}
	switch spec {
	case "", NoAntipatterns:
		return set, nil
	case AllAntipatterns:
		for _, a := range Antipatterns() {
			set[a] = true
		}
		return set, nil
	}
	for part := range strings.SplitSeq(spec, ",") {
		a := Antipattern(strings.TrimSpace(part))
		if a == "" {
			continue
		}
		if !a.Valid() {
			return nil, fmt.Errorf("unknown antipattern %q: valid are %s, %s, or a comma-separated list of %s",
				string(a), AllAntipatterns, NoAntipatterns, ValidAntipatternNames())
		}
		set[a] = true
	}
	return set, nil
}

// Switches holds the antipatterns enabled right now. It is safe for concurrent use: handlers read it
// on every request while an admin call may replace it. The zero value has none enabled.
type Switches struct {
	p atomic.Pointer[AntipatternSet]
}

// NewSwitches returns switches with the given set enabled.
func NewSwitches(set AntipatternSet) *Switches {
	s := &Switches{}
	s.Set(set)
	return s
}

// On reports whether a is enabled.
func (s *Switches) On(a Antipattern) bool {
	p := s.p.Load()
	return p != nil && (*p)[a]
}

// Set replaces the enabled set with a copy of set.
func (s *Switches) Set(set AntipatternSet) {
	c := make(AntipatternSet, len(set))
	for a, on := range set {
		if on {
			c[a] = true
		}
	}
	s.p.Store(&c)
}

// Update applies changes (true enables, false disables; antipatterns not named keep their state)
// atomically and returns the set it made. Concurrent updates never lose one another's changes:
// each retries on the set another has just stored (compare-and-swap).
func (s *Switches) Update(changes map[Antipattern]bool) AntipatternSet {
	for {
		old := s.p.Load()
		next := AntipatternSet{}
		if old != nil {
			for a := range *old {
				next[a] = true
			}
		}
		for a, on := range changes {
			if on {
				next[a] = true
			} else {
				delete(next, a)
			}
		}
		if s.p.CompareAndSwap(old, &next) {
			return maps.Clone(next)
		}
	}
}

// Snapshot returns the state of every known antipattern.
func (s *Switches) Snapshot() map[Antipattern]bool {
	out := make(map[Antipattern]bool, len(registry))
	for _, a := range Antipatterns() {
		out[a] = s.On(a)
	}
	return out
}

// Current returns a copy of the enabled set.
func (s *Switches) Current() AntipatternSet {
	out := AntipatternSet{}
	for a, on := range s.Snapshot() {
		if on {
			out[a] = true
		}
	}
	return out
}
