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

// testDelivery is the delivery accept makes in TestNext; only its identity matters.
type testDelivery struct {
	jobs.Delivery
	n int
}

// TestNext: a rejected message frees its slot and the wait goes on to the next one; an accepted
// one keeps its slot; a closed subscription and an ended context end the wait.
func TestNext(t *testing.T) {
	t.Parallel()
	l := New(1)
	closed, engineClosed := make(chan struct{}), make(chan struct{})
	ch := make(chan int, 2)
	ch <- 1 // rejected (settled by accept itself)
	ch <- 2
	accept := func(n int, s *Slot) (jobs.Delivery, bool) {
		if n == 1 {
			_ = s.Settle()
			return nil, false
		}
		return testDelivery{n: n}, true
	}
	d, err := Next(t.Context(), l, closed, engineClosed, time.Minute, ch, accept)
	if err != nil || d.(testDelivery).n != 2 || l.InUse() != 1 {
		t.Fatalf("Next = %v, %v with %d slots in use: want message 2 holding the one slot", d, err, l.InUse())
	}
	ctx, cancel := context.WithCancelCause(t.Context())
	cause := errors.New("stop")
	cancel(cause)
	if _, err := Next(ctx, New(1), closed, engineClosed, time.Minute, ch, accept); !errors.Is(err, cause) {
		t.Errorf("Next after cancel = %v, want the cause", err)
	}
	close(engineClosed)
	if _, err := Next(t.Context(), New(1), closed, engineClosed, time.Minute, ch, accept); !errors.Is(err, jobs.ErrClosed) {
		t.Errorf("Next on a closed engine = %v, want ErrClosed", err)
	}
}
