package collect

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowUploadsDoNotStarveExports: as many clients as the ingest queue has places send their
// headers, then their body at a byte per 100 ms. They hold every place for at most BodyTimeout,
// are answered 408 and counted; a real export meanwhile gets through once they are cut, not
// after the 30 s a read timeout allows. Bounded: the attack ends with the test, within 10 s.
func TestSlowUploadsDoNotStarveExports(t *testing.T) {
	t.Parallel()
	const places = 8
	const bodyTimeout = 2 * time.Second
	s := start(t, Config{QueueSize: places, BodyTimeout: bodyTimeout, HeaderTimeout: time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	addr := s.r.HTTPAddr().String()
	answers := make(chan string, places)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range places {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { answers <- slowloris(ctx, c) })
	}
	// Every place is taken by a slow upload: a real export is refused as overloaded.
	waitFor(ctx, t, "the slow uploads to take every place", func() bool { return len(s.r.slots) == places })
	body := protoBody(build(spanSpec{trace: 1, span: 1, parent: -1}))
	attacked := time.Now()
	if a := post(t, s.url(), ctProtobuf, "", body); a.code != http.StatusTooManyRequests {
		t.Fatalf("export while every place is held: %d, want 429", a.code)
	}
	// An exporter retrying (as OTLP exporters do on 429) gets through once the slow uploads
	// are cut at BodyTimeout.
	var code int
	waitFor(ctx, t, "an export to be accepted", func() bool {
		code = post(t, s.url(), ctProtobuf, "", body).code
		return code == http.StatusOK
	})
	took := time.Since(attacked)
	t.Logf("with every place held by a slow upload, an export got through after %v", took.Round(time.Millisecond))
	if took > bodyTimeout+2*time.Second {
		t.Errorf("the export got through %v after the attack held every place, want within BodyTimeout %v (+2 s)", took, bodyTimeout)
	}
	for range places {
		select {
		case a := <-answers:
			if !strings.HasPrefix(a, "HTTP/1.1 408") {
				t.Errorf("a slow upload was answered %q, want 408", a)
			}
		case <-ctx.Done():
			t.Fatal("a slow upload was never answered")
		}
	}
	if n := s.r.Stats().RequestsRefused[ReasonSlowUpload]; n != places {
		t.Errorf("refused as %s: %d, want %d", ReasonSlowUpload, n, places)
	}
}

// slowloris sends an export's headers on c, then its body a byte per 100 ms, until the
// receiver answers (returned: the status line), hangs up, or ctx ends.
func slowloris(ctx context.Context, c net.Conn) string {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.Write([]byte("POST /v1/traces HTTP/1.1\r\nHost: collect\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n")); err != nil {
		return err.Error()
	}
	status := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			line = err.Error()
		}
		status <- strings.TrimSpace(line)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case st := <-status:
			return st
		case <-tick.C:
			if _, err := c.Write([]byte{0}); err != nil {
				return <-status
			}
		}
	}
}

// waitFor polls cond every 50 ms until it holds, failing the test when ctx ends first.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
