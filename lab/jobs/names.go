package jobs

import (
	"fmt"
	"strings"
	"time"
)

// maxQueueLen keeps queue names usable as stream, key and queue names on every broker
// (RabbitMQ's limit is 255 bytes, and the engines add a prefix and a suffix).
const maxQueueLen = 128

// CheckQueue returns an error naming q when it is not a valid queue name: 1 to 128 lower-case
// letters, digits, dots, dashes and underscores, not starting or ending with a dot and without
// two dots in a row (a dot separates subject tokens on NATS).
func CheckQueue(q string) error {
	if q == "" || len(q) > maxQueueLen {
		return fmt.Errorf("queue name %q: want 1 to %d characters", q, maxQueueLen)
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.':
			if i == 0 || i == len(q)-1 || q[i-1] == '.' {
				return fmt.Errorf("queue name %q: dots separate words (no leading, trailing or double dot)", q)
			}
		default:
			return fmt.Errorf("queue name %q: %q is not allowed (want lower-case letters, digits, '.', '-', '_')", q, c)
		}
	}
	return nil
}

// CheckSubscribe validates queue and opts and returns opts with the documented defaults filled
// in. A group name is like a queue name without dots.
func CheckSubscribe(queue string, opts SubscribeOptions) (SubscribeOptions, error) {
	if err := CheckQueue(queue); err != nil {
		return opts, err
	}
	if opts.Group == "" {
		opts.Group = "workers"
	}
	if err := CheckQueue(opts.Group); err != nil || strings.Contains(opts.Group, ".") {
		return opts, fmt.Errorf("group name %q: want 1 to %d lower-case letters, digits, '-' and '_'", opts.Group, maxQueueLen)
	}
	switch {
	case opts.AckWait == 0:
		opts.AckWait = 30 * time.Second
	case opts.AckWait < 0:
		return opts, fmt.Errorf("ack wait %v: want a positive duration (or 0 for the default 30s)", opts.AckWait)
	}
	switch {
	case opts.Prefetch == 0:
		opts.Prefetch = 64
	case opts.Prefetch < 0:
		return opts, fmt.Errorf("prefetch %d: want a positive number (or 0 for the default 64)", opts.Prefetch)
	}
	return opts, nil
}
