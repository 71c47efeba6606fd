// Package wire is how every queue engine carries a [jobs.Message]'s metadata across its broker: as
// string headers (NATS headers, Redis stream fields, AMQP headers) with the same names and
// formats, so the engines agree and none re-implements the encoding.
//
// It imports only the standard library and lab/jobs.
package wire

import (
	"fmt"
	"strings"
	"time"

	"github.com/headroom/headroom/lab/jobs"
)

// Header names the engines reserve. A job's own headers must not start with [Reserved].
const (
	Reserved   = "Headroom-"
	ID         = "Headroom-Job-Id"
	EnqueuedAt = "Headroom-Enqueued-At"
	NotBefore  = "Headroom-Not-Before"
	Reason     = "Headroom-Dead-Reason"
	DiedAt     = "Headroom-Died-At"
	// Prior is the attempts a job had before an engine re-published it for a Retry (where the
	// broker's delivery count starts again with the new message).
	Prior = "Headroom-Prior"
)

// Check returns an error naming what is wrong with m for publishing: its queue name, an empty
// ID, or a header in the reserved namespace.
func Check(m jobs.Message) error {
	if err := jobs.CheckQueue(m.Queue); err != nil {
		return err
	}
	if m.ID == "" {
		return fmt.Errorf("job on queue %q has no ID: every job needs one (publish dedup keys on it)", m.Queue)
	}
	for k := range m.Headers {
		if isReserved(k) {
			return fmt.Errorf("job %q header %q: names starting with %q are the engine's", m.ID, k, Reserved)
		}
	}
	return nil
}

func isReserved(k string) bool {
	return len(k) >= len(Reserved) && strings.EqualFold(k[:len(Reserved)], Reserved)
}

// Encode returns m's headers plus its metadata (ID, EnqueuedAt, NotBefore). Call [Check] first.
func Encode(m jobs.Message) map[string]string {
	h := make(map[string]string, len(m.Headers)+3)
	for k, v := range m.Headers {
		h[k] = v
	}
	h[ID] = m.ID
	if !m.EnqueuedAt.IsZero() {
		h[EnqueuedAt] = FormatTime(m.EnqueuedAt)
	}
	if !m.NotBefore.IsZero() {
		h[NotBefore] = FormatTime(m.NotBefore)
	}
	return h
}

// Decode fills m's ID, EnqueuedAt, NotBefore and Headers (the job's own, without metadata) from h,
// as [Encode] wrote it.
func Decode(h map[string]string, m *jobs.Message) error {
	m.ID = h[ID]
	if m.ID == "" {
		return fmt.Errorf("message without the %s header: not published by a headroom engine", ID)
	}
	var err error
	if m.EnqueuedAt, err = ParseTime(h[EnqueuedAt]); err != nil {
		return fmt.Errorf("job %q: %s: %w", m.ID, EnqueuedAt, err)
	}
	if m.NotBefore, err = ParseTime(h[NotBefore]); err != nil {
		return fmt.Errorf("job %q: %s: %w", m.ID, NotBefore, err)
	}
	m.Headers = nil
	for k, v := range h {
		if isReserved(k) {
			continue
		}
		if m.Headers == nil {
			m.Headers = make(map[string]string, len(h))
		}
		m.Headers[k] = v
	}
	return nil
}

// DecodeDead is [Decode] for a dead letter: it also reads the reason and the time of death.
func DecodeDead(h map[string]string, m jobs.Message) (jobs.DeadLetter, error) {
	if err := Decode(h, &m); err != nil {
		return jobs.DeadLetter{}, err
	}
	died, err := ParseTime(h[DiedAt])
	if err != nil {
		return jobs.DeadLetter{}, fmt.Errorf("job %q: %s: %w", m.ID, DiedAt, err)
	}
	return jobs.DeadLetter{Message: m, Reason: h[Reason], DiedAt: died}, nil
}

// FormatTime is the header form of t: RFC 3339 in UTC with nanoseconds; "" for the zero time.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ParseTime reads [FormatTime]'s form; "" is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
