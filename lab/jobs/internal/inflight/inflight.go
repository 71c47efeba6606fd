// Package inflight bounds the deliveries a subscription has handed out and not yet settled
// ([jobs.SubscribeOptions.Prefetch]) the same way for every queue engine, and makes a delivery
// settle at most once.
//
// A slot is freed when its delivery is settled, or when the delivery's ack deadline passes
// unsettled: by then the broker redelivers the job to someone, so a worker that forgot a
// delivery cannot starve its subscription.
//
// It imports only the standard library and lab/jobs.
package inflight

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/headroom/headroom/lab/jobs"
)

// ErrSettled is returned when a delivery is acked, retried or dead-lettered a second time.
var ErrSettled = errors.New("delivery already settled")

// Limiter hands out at most n slots at once. The zero value is not usable; call [New].
type Limiter struct {
	slots chan struct{}
}

// New returns a limiter of n ≥ 1 slots.
func New(n int) *Limiter {
	return &Limiter{slots: make(chan struct{}, max(n, 1))}
}

// Acquire waits for a free slot. It returns [context.Cause] when ctx ends first and
// [jobs.ErrClosed] when closed is closed first. The slot frees itself after ackWait unless
// [Slot.Extend] pushes that back; [Slot.Settle] frees it at once.
func (l *Limiter) Acquire(ctx context.Context, closed <-chan struct{}, ackWait time.Duration) (*Slot, error) {
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-closed:
		return nil, jobs.ErrClosed
	case l.slots <- struct{}{}:
	}
	s := &Slot{l: l, ackWait: ackWait}
	s.mu.Lock() // free reads timer
	s.timer = time.AfterFunc(ackWait, s.free)
	s.mu.Unlock()
	return s, nil
}

// InUse is the number of slots held.
func (l *Limiter) InUse() int { return len(l.slots) }

// Slot is one delivery's place in its subscription's window.
type Slot struct {
	l       *Limiter
	ackWait time.Duration
	timer   *time.Timer

	mu      sync.Mutex
	freed   bool
	settled bool
}

// Settle marks the delivery settled and frees the slot; [ErrSettled] when it already was, so a
// caller settles the job with the broker only on a nil return.
func (s *Slot) Settle() error {
	s.mu.Lock()
	if s.settled {
		s.mu.Unlock()
		return ErrSettled
	}
	s.settled = true
	s.mu.Unlock()
	s.free()
	return nil
}

// Unsettle undoes a [Slot.Settle] whose broker call failed, so the caller may try again; the
// slot stays free.
func (s *Slot) Unsettle() {
	s.mu.Lock()
	s.settled = false
	s.mu.Unlock()
}

// Extend restarts the ack-deadline timer, as the broker's deadline was pushed back.
func (s *Slot) Extend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.settled {
		return ErrSettled
	}
	if !s.freed {
		s.timer.Reset(s.ackWait)
	}
	return nil
}

// Release frees the slot without settling, for a delivery that was never handed to a worker.
func (s *Slot) Release() { s.free() }

func (s *Slot) free() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.freed {
		return
	}
	s.freed = true
	s.timer.Stop()
	<-s.l.slots
}

// Next is the delivery loop every engine's [jobs.Subscription.Next] runs: take a slot of l, then
// the next message of ch. It returns [jobs.ErrClosed] once closed or engineClosed is closed and
// [context.Cause] when ctx ends first, giving the slot back. accept turns a message and its slot
// into a delivery, or returns false when it settled the message itself (one this package's
// engines did not write, dead-lettered with its decode error) and the wait goes on.
func Next[M any](ctx context.Context, l *Limiter, closed, engineClosed <-chan struct{}, ackWait time.Duration, ch <-chan M, accept func(M, *Slot) (jobs.Delivery, bool)) (jobs.Delivery, error) {
	for {
		select {
		case <-closed:
			return nil, jobs.ErrClosed
		case <-engineClosed:
			return nil, jobs.ErrClosed
		default:
		}
		slot, err := l.Acquire(ctx, closed, ackWait)
		if err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			slot.Release()
			return nil, context.Cause(ctx)
		case <-closed:
			slot.Release()
			return nil, jobs.ErrClosed
		case m := <-ch:
			if d, ok := accept(m, slot); ok {
				return d, nil
			}
		}
	}
}
