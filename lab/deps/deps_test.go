package deps_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/deps"
)

func TestParseLatency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    deps.Latency
		wantErr bool
	}{
		{in: "", want: deps.Latency{}},
		{in: "0", want: deps.Latency{}},
		{in: "500ms", want: deps.Latency{Typical: 500 * time.Millisecond}},
		{in: "50ms~5ms", want: deps.Latency{Typical: 50 * time.Millisecond, Jitter: 5 * time.Millisecond}},
		{in: "50ms,1%:5s", want: deps.Latency{Typical: 50 * time.Millisecond, Tail: 5 * time.Second, TailProb: 0.01}},
		{in: "50ms~1ms,0.5%:2s", want: deps.Latency{Typical: 50 * time.Millisecond, Jitter: time.Millisecond, Tail: 2 * time.Second, TailProb: 0.005}},
		{in: "fast", wantErr: true},
		{in: "-1s", wantErr: true},
		{in: "50ms,1:5s", wantErr: true},
		{in: "50ms,101%:5s", wantErr: true},
		{in: "50ms~x", wantErr: true},
	}
	for _, tt := range tests {
		got, err := deps.ParseLatency(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseLatency(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseLatency(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if err == nil {
			again, err := deps.ParseLatency(got.String())
			if err != nil || again != got {
				t.Errorf("round trip of %q via %q = %+v, %v", tt.in, got.String(), again, err)
			}
		}
	}
}

func FuzzParseLatency(f *testing.F) {
	for _, s := range []string{"", "500ms", "50ms~5ms", "50ms,1%:5s", "x", "1s,50%:1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := deps.ParseLatency(s)
		if err != nil {
			return
		}
		if l.Typical < 0 || l.Jitter < 0 || l.Tail < 0 || l.TailProb < 0 || l.TailProb > 1 {
			t.Fatalf("ParseLatency(%q) = %+v: out of range", s, l)
		}
		if d := l.Sample(0.5, 0); d < 0 {
			t.Fatalf("negative sample %v", d)
		}
	})
}

func TestLatencySample(t *testing.T) {
	t.Parallel()
	l := deps.Latency{Typical: 50 * time.Millisecond, Tail: 5 * time.Second, TailProb: 0.01, Jitter: 10 * time.Millisecond}
	if d := l.Sample(0.005, 0.5); d != 5*time.Second {
		t.Errorf("tail sample = %v", d)
	}
	if d := l.Sample(0.5, 0.5); d != 50*time.Millisecond {
		t.Errorf("typical sample = %v", d)
	}
	if d := l.Sample(0.5, 0); d != 40*time.Millisecond {
		t.Errorf("low jitter sample = %v", d)
	}
}

func TestMail(t *testing.T) {
	t.Parallel()
	srv, err := deps.StartMailServer(t.Context(), deps.MailServerConfig{Latency: deps.Latency{Typical: 30 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	m, err := deps.NewMailer(deps.MailerConfig{Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := m.Send(t.Context(), "friend@example.com", "You are invited", "Join us"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("send took %v, want at least the server's 30ms", el)
	}
	msgs := srv.Messages()
	if srv.Delivered() != 1 || len(msgs) != 1 || msgs[0].To[0] != "friend@example.com" || !strings.Contains(string(msgs[0].Data), "Join us") {
		t.Errorf("delivered %d: %+v", srv.Delivered(), msgs)
	}
	// A cancelled context ends the conversation.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := m.Send(ctx, "x@example.com", "s", "b"); err == nil {
		t.Error("send with a cancelled context: no error")
	}
}

// TestMailRepeatIsDroppedByMessageID: sending the same message again (same recipient, subject
// and body, hence the same Message-ID) is accepted and dropped, counted as a duplicate, and the
// oldest remembered id is forgotten past Remember.
func TestMailRepeatIsDroppedByMessageID(t *testing.T) {
	t.Parallel()
	srv, err := deps.StartMailServer(t.Context(), deps.MailServerConfig{Remember: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	m, _ := deps.NewMailer(deps.MailerConfig{Addr: srv.Addr()})
	for _, body := range []string{"token a", "token a", "token b", "token c", "token a"} {
		if err := m.Send(t.Context(), "friend@example.com", "You are invited", body); err != nil {
			t.Fatal(err)
		}
	}
	// a, (a dropped), b, c — then a again, forgotten once b and c filled the two places.
	if srv.Delivered() != 4 || srv.Duplicates() != 1 {
		t.Errorf("delivered %d, duplicates %d: want 4 and 1", srv.Delivered(), srv.Duplicates())
	}
	if msgs := srv.Messages(); !strings.Contains(string(msgs[0].Data), "Message-ID: <") {
		t.Errorf("no Message-ID header in %q", msgs[0].Data)
	}
}

func TestMailServerCloseInterruptsDelay(t *testing.T) {
	t.Parallel()
	srv, err := deps.StartMailServer(t.Context(), deps.MailServerConfig{Latency: deps.Latency{Typical: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := deps.NewMailer(deps.MailerConfig{Addr: srv.Addr()})
	errc := make(chan error, 1)
	go func() { errc <- m.Send(context.Background(), "x@example.com", "s", "b") }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Close(ctx)
	select {
	case err := <-errc: // ended, with whatever error the interrupted conversation gave
		t.Logf("interrupted send: %v", err)
	case <-ctx.Done():
		t.Fatal("Close did not interrupt a delayed message")
	}
}

func TestPayments(t *testing.T) {
	t.Parallel()
	p, err := deps.StartPaymentProvider(t.Context(), deps.PaymentProviderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	c, err := deps.NewPaymentClient(deps.PaymentClientConfig{URL: p.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := c.Charge(t.Context(), 7, 1999)
	if err != nil || ch.Status != "succeeded" || ch.ID == "" {
		t.Fatalf("Charge = %+v, %v", ch, err)
	}
	if _, err := c.Charge(t.Context(), 8, 0); !errors.Is(err, deps.ErrPaymentDeclined) {
		t.Errorf("zero amount: error = %v, want ErrPaymentDeclined", err)
	}
	if p.Charges() != 1 {
		t.Errorf("Charges = %d, want 1", p.Charges())
	}
}

func TestLogShipperBatchesAsync(t *testing.T) {
	t.Parallel()
	col, err := deps.StartLogCollector(t.Context(), deps.LogCollectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = col.Close(context.Background()) })
	s, err := deps.NewLogShipper(deps.LogShipperConfig{URL: col.URL(), BatchSize: 10, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 25 {
		if !s.Enqueue([]byte(`{"msg":"x"}`)) {
			t.Fatal("Enqueue dropped a line with room in the queue")
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if col.Lines() != 25 || s.Shipped() != 25 || s.Dropped() != 0 {
		t.Errorf("lines %d shipped %d dropped %d, want 25, 25, 0", col.Lines(), s.Shipped(), s.Dropped())
	}
	if col.Requests() != 3 {
		t.Errorf("requests = %d, want 3 batches (10+10+5)", col.Requests())
	}
	if s.Enqueue([]byte("late")) {
		t.Error("Enqueue after Close accepted a line")
	}
}

func TestLogShipperDropsWhenFull(t *testing.T) {
	t.Parallel()
	// The collector holds every request for an hour (until Close), so the queue fills up.
	slow, err := deps.StartLogCollector(t.Context(), deps.LogCollectorConfig{Latency: deps.Latency{Typical: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := deps.NewLogShipper(deps.LogShipperConfig{URL: slow.URL(), QueueSize: 4, BatchSize: 1, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for range 50 {
		if s.Enqueue([]byte("x")) {
			accepted++
		}
	}
	// At most the queue plus the one line in flight are accepted; the rest are counted as drops.
	if accepted > 5 || s.Dropped() != int64(50-accepted) {
		t.Errorf("accepted %d, dropped %d", accepted, s.Dropped())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = slow.Close(ctx) // interrupts the hour-long delay so the shipper can finish
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
