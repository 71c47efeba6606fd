package inflight

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/headroom/headroom/lab/jobs"
)

func TestLimiterBoundsAndFrees(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := New(2)
		closed := make(chan struct{})
		ctx := context.Background()
		a, err := l.Acquire(ctx, closed, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Acquire(ctx, closed, time.Second); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if _, err := l.Acquire(short, closed, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("third Acquire on a full limiter = %v, want the context's deadline", err)
		}
		if err := a.Settle(); err != nil {
			t.Fatal(err)
		}
		if err := a.Settle(); !errors.Is(err, ErrSettled) {
			t.Fatalf("second Settle = %v, want ErrSettled", err)
		}
		if l.InUse() != 1 {
			t.Fatalf("InUse after one settle = %d, want 1", l.InUse())
		}
		// The unsettled slot frees itself when its ack deadline (1s) passes.
		time.Sleep(time.Second + time.Millisecond)
		if l.InUse() != 0 {
			t.Fatalf("InUse after the ack deadline = %d, want 0", l.InUse())
		}
		close(closed)
		if _, err := l.Acquire(ctx, closed, time.Minute); err != nil && !errors.Is(err, jobs.ErrClosed) {
			t.Fatalf("Acquire after close = %v", err)
		}
	})
}

func TestExtendKeepsTheSlot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := New(1)
		s, err := l.Acquire(context.Background(), nil, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(900 * time.Millisecond)
		if err := s.Extend(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(900 * time.Millisecond)
		if l.InUse() != 1 {
			t.Fatal("an extended slot was freed before its new deadline")
		}
		time.Sleep(200 * time.Millisecond)
		if l.InUse() != 0 {
			t.Fatal("the slot was not freed after its extended deadline")
		}
		if err := s.Settle(); err != nil {
			t.Fatalf("Settle after the deadline freed the slot = %v, want nil (the worker may still settle)", err)
		}
	})
}
