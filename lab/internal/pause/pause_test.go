package pause_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/internal/pause"
)

// TestForWaitsAtLeastD checks lower bounds only, both sides of Fine: nothing ever wakes early; how
// late it wakes depends on the machine and is what the benchmarks show.
func TestForWaitsAtLeastD(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, 300 * time.Microsecond, pause.Fine, 3 * pause.Fine} {
		start := time.Now()
		if err := pause.For(t.Context(), d); err != nil {
			t.Fatalf("For(%v) = %v", d, err)
		}
		if got := time.Since(start); got < d {
			t.Errorf("For(%v) returned after %v", d, got)
		}
	}
}

// TestManyWaitsAtOnce: every one of many concurrent waits, their deadlines interleaved, reaches
// its own deadline (a lower bound only).
func TestManyWaitsAtOnce(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	errs := make(chan string, 64*10)
	for i := range 64 {
		d := time.Duration(100+i*37%400) * time.Microsecond
		wg.Go(func() {
			for range 10 {
				deadline := time.Now().Add(d)
				if !pause.Until(nil, deadline) {
					errs <- "Until(nil, …) reported an early end"
				}
				if late := time.Since(deadline); late < 0 {
					errs <- fmt.Sprintf("a %v wait ended %v before its deadline", d, -late)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestForEndsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := pause.For(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("For(1h) with a 20ms context = %v; want context.DeadlineExceeded", err)
	}
}

func TestUntilConsumesDone(t *testing.T) {
	t.Parallel()
	done := make(chan struct{}, 1)
	done <- struct{}{}
	if pause.Until(done, time.Now().Add(time.Hour)) {
		t.Fatal("Until with a ready done reported the deadline reached")
	}
	if len(done) != 0 {
		t.Error("Until did not consume the value that ended it")
	}
	if !pause.Until(nil, time.Now().Add(time.Millisecond)) {
		t.Error("Until with a nil done did not reach its deadline")
	}
}

// BenchmarkFor500us and BenchmarkTimer500us report the mean time a 500 µs wait takes (ns/op):
// the first with pause, the second with a plain Go timer, the coarseness pause avoids.
func BenchmarkFor500us(b *testing.B) {
	for b.Loop() {
		_ = pause.For(b.Context(), 500*time.Microsecond)
	}
}

// BenchmarkFor250us64AtOnce: 64 goroutines waiting 250 µs at a time, as many connections through
// a link would; ns/op is the time per wait of all 64 together (× 64: the mean wait).
func BenchmarkFor250us64AtOnce(b *testing.B) {
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = pause.For(context.Background(), 250*time.Microsecond)
		}
	})
}

func BenchmarkTimer500us(b *testing.B) {
	t := time.NewTimer(time.Hour)
	for b.Loop() {
		t.Reset(500 * time.Microsecond)
		<-t.C
	}
}
