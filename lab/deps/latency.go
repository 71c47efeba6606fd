package deps

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Latency is a latency distribution: most requests take Typical ± Jitter (uniform); a fraction
// TailProb takes Tail ± Jitter instead. The zero value is no delay.
type Latency struct {
	Typical  time.Duration // the common case
	Jitter   time.Duration // uniform spread around Typical and Tail, never below zero
	Tail     time.Duration // the rare slow case
	TailProb float64       // probability of Tail, in [0, 1]
}

// ParseLatency parses "TYPICAL[~JITTER][,PCT%:TAIL]", e.g. "500ms", "50ms~5ms", "50ms,1%:5s".
// "0" or "" is no delay.
func ParseLatency(s string) (Latency, error) {
	var l Latency
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return l, nil
	}
	main, tail, hasTail := strings.Cut(s, ",")
	typ, jit, hasJit := strings.Cut(main, "~")
	var err error
	if l.Typical, err = parseDur(typ); err != nil {
		return l, fmt.Errorf("latency %q: %w", s, err)
	}
	if hasJit {
		if l.Jitter, err = parseDur(jit); err != nil {
			return l, fmt.Errorf("latency %q: jitter: %w", s, err)
		}
	}
	if hasTail {
		pct, d, ok := strings.Cut(tail, "%:")
		if !ok {
			return l, fmt.Errorf("latency %q: tail %q: want PCT%%:DURATION, e.g. 1%%:5s", s, tail)
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || p < 0 || p > 100 {
			return l, fmt.Errorf("latency %q: tail percentage %q: want a number from 0 to 100", s, pct)
		}
		l.TailProb = p / 100
		if l.Tail, err = parseDur(d); err != nil {
			return l, fmt.Errorf("latency %q: tail: %w", s, err)
		}
	}
	return l, nil
}

func parseDur(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %v", d)
	}
	return d, nil
}

// String formats l in the syntax ParseLatency reads.
func (l Latency) String() string {
	s := l.Typical.String()
	if l.Jitter > 0 {
		s += "~" + l.Jitter.String()
	}
	if l.TailProb > 0 {
		s += "," + strconv.FormatFloat(l.TailProb*100, 'g', -1, 64) + "%:" + l.Tail.String()
	}
	return s
}

// Set implements flag.Value (and pflag.Value).
func (l *Latency) Set(s string) error {
	v, err := ParseLatency(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Type implements pflag.Value.
func (l *Latency) Type() string { return "latency" }

// Sample draws one delay using u1 (choosing typical or tail) and u2 (the jitter), both uniform in [0, 1).
func (l Latency) Sample(u1, u2 float64) time.Duration {
	d := l.Typical
	if l.TailProb > 0 && u1 < l.TailProb {
		d = l.Tail
	}
	if l.Jitter > 0 {
		d += time.Duration((2*u2 - 1) * float64(l.Jitter))
	}
	return max(d, 0)
}

// sampler draws delays from a Latency with its own seeded generator; safe for concurrent use.
type sampler struct {
	l   Latency
	mu  sync.Mutex
	rng *rand.Rand
}

func newSampler(l Latency, seed uint64) *sampler {
	return &sampler{l: l, rng: rand.New(rand.NewPCG(seed, seed+1))}
}

func (s *sampler) next() time.Duration {
	s.mu.Lock()
	u1, u2 := s.rng.Float64(), s.rng.Float64()
	s.mu.Unlock()
	return s.l.Sample(u1, u2)
}

// wait blocks for d or until ctx or stop ends, whichever comes first; it reports whether d elapsed.
func wait(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	case <-t.C:
		return true
	}
}
