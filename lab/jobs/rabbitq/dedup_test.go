package rabbitq

import (
	"strconv"
	"testing"
	"time"
)

func TestDedup(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	d := newDedup(time.Minute, 3)
	if !d.claim("a", t0) || d.claim("a", t0.Add(59*time.Second)) {
		t.Fatal("a repeated id within the window was not refused")
	}
	if !d.claim("a", t0.Add(61*time.Second)) {
		t.Fatal("an id past the window was refused")
	}
	d.forget("a")
	if !d.claim("a", t0.Add(62*time.Second)) {
		t.Fatal("a forgotten id was refused")
	}
	for i := range 3 {
		d.claim("x"+strconv.Itoa(i), t0.Add(63*time.Second))
	}
	if len(d.seen) > 3 {
		t.Fatalf("%d ids remembered, limit 3", len(d.seen))
	}
	if !d.claim("a", t0.Add(64*time.Second)) {
		t.Fatal("the oldest id was not evicted when the table was full")
	}
}
