package netem_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/headroom/headroom/lab/netem"
)

// serve accepts connections on a loopback port until the test ends and runs handle on each.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func echo(c net.Conn) { _, _ = io.Copy(c, c) }

func start(t *testing.T, cfg netem.Config) *netem.Link {
	t.Helper()
	l, err := netem.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// A safety net only: a broken link fails the test instead of hanging it.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

func TestLinkRelaysBytesIntactBothWays(t *testing.T) {
	t.Parallel()
	l := start(t, netem.Config{Upstream: serve(t, echo), Up: netem.Delay{Latency: time.Millisecond, Jitter: time.Millisecond}, Down: netem.Delay{Latency: 2 * time.Millisecond}})
	c := dial(t, l.Addr())
	// 4 MiB: many chunks in flight in both directions at once, jittered.
	want := make([]byte, 4<<20)
	_, _ = rand.Read(want)
	errc := make(chan error, 1)
	go func() { _, err := c.Write(want); errc <- err }()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes read back differ from the bytes sent")
	}
}

// TestLinkDelaysEachDirection sends a byte up and one back and times each leg against its own
// delay. The two delays differ, so a link that swapped them fails the longer one's bound. Only
// lower bounds: a shared machine may add any time, and a timer never fires early.
func TestLinkDelaysEachDirection(t *testing.T) {
	t.Parallel()
	const up, down = 20 * time.Millisecond, 50 * time.Millisecond
	arrived, replied := make(chan time.Time, 1), make(chan time.Time, 1)
	addr := serve(t, func(c net.Conn) {
		b := make([]byte, 1)
		if _, err := c.Read(b); err != nil {
			return
		}
		arrived <- time.Now()
		replied <- time.Now()
		_, _ = c.Write(b)
	})
	l := start(t, netem.Config{Upstream: addr, Up: netem.Delay{Latency: up}, Down: netem.Delay{Latency: down}})
	c := dial(t, l.Addr())
	sent := time.Now()
	if _, err := c.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil {
		t.Fatal(err)
	}
	received := time.Now()
	if got := (<-arrived).Sub(sent); got < up {
		t.Errorf("client → server took %v, want ≥ %v (the upstream delay)", got, up)
	}
	if got := received.Sub(<-replied); got < down {
		t.Errorf("server → client took %v, want ≥ %v (the downstream delay)", got, down)
	}
}

// TestLinkCloseCleanly closes a link with a connection open: the client sees its connection end,
// the port stops accepting, Close can be called again, and no goroutine is left behind. It does
// not run in parallel: the leak check counts every goroutine of the process.
func TestLinkCloseCleanly(t *testing.T) {
	before := []goleak.Option{goleak.IgnoreCurrent(),
		// pause's waker lives as long as the process, started by the first short wait.
		goleak.IgnoreAnyFunction("github.com/headroom/headroom/lab/internal/pause.(*waker).sleep")}
	// Registered first, so it runs last: after the echo server's cleanup.
	t.Cleanup(func() { goleak.VerifyNone(t, before...) })
	addr := serve(t, echo)
	l, err := netem.Start(netem.Config{Upstream: addr, Up: netem.Delay{Latency: time.Millisecond}, Down: netem.Delay{Latency: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Errorf("read after Close = %d, %v; want the connection closed", n, err)
	}
	if c2, err := net.Dial("tcp", l.Addr()); err == nil {
		_ = c2.Close()
		t.Errorf("dial %s after Close succeeded; want refused", l.Addr())
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestStartRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  netem.Config
		want string
	}{
		{netem.Config{}, `upstream ""`},
		{netem.Config{Upstream: "127.0.0.1"}, `upstream "127.0.0.1": want host:port`},
		{netem.Config{Upstream: "127.0.0.1:1", Up: netem.Delay{Latency: -time.Millisecond}}, "upstream latency -1ms ~ jitter 0s: both must be 0 or more"},
		{netem.Config{Upstream: "127.0.0.1:1", Down: netem.Delay{Latency: time.Millisecond, Jitter: 2 * time.Millisecond}}, "downstream jitter 2ms exceeds its latency 1ms"},
	} {
		l, err := netem.Start(tc.cfg)
		if err == nil {
			_ = l.Close()
			t.Errorf("Start(%+v) succeeded; want an error containing %q", tc.cfg, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v; want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestDialerDialsThroughOneLinkPerAddress(t *testing.T) {
	t.Parallel()
	const up, down = 5 * time.Millisecond, 10 * time.Millisecond
	d := &netem.Dialer{Up: netem.Delay{Latency: up}, Down: netem.Delay{Latency: down}}
	t.Cleanup(func() { _ = d.Close() })
	addr := serve(t, echo)
	ctx := t.Context()
	for i := range 2 {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if c.RemoteAddr().String() == addr {
			t.Fatalf("dial %d reached %s directly; want it through a link", i, addr)
		}
		start := time.Now()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		if rtt := time.Since(start); rtt < up+down {
			t.Errorf("round trip %d took %v, want ≥ %v", i, rtt, up+down)
		}
		_ = c.Close()
	}
	if _, err := d.DialContext(ctx, "unix", "/tmp/.s.PGSQL.5432"); err == nil || !strings.Contains(err.Error(), "TCP only") {
		t.Errorf("dial unix = %v; want an error saying a link relays TCP only", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DialContext(ctx, "tcp", addr); !errors.Is(err, netem.ErrClosed) {
		t.Errorf("dial after Close = %v; want ErrClosed", err)
	}
}

func TestDialerHandshakeCostsOneRoundTrip(t *testing.T) {
	t.Parallel()
	const up, down = 10 * time.Millisecond, 10 * time.Millisecond
	d := &netem.Dialer{Up: netem.Delay{Latency: up}, Down: netem.Delay{Latency: down}, Handshake: true}
	t.Cleanup(func() { _ = d.Close() })
	addr := serve(t, echo)
	start := time.Now()
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if took := time.Since(start); took < up+down {
		t.Errorf("dial with Handshake took %v; want ≥ one round trip, %v", took, up+down)
	}
}
