package netem_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/netem"
)

// TestFaults injects each fault on a link in front of a real HTTP server and checks what a
// client sees: refused while down, no answer while hung, a later answer while slow, both while
// flapping, and the link as before once the fault is removed.
func TestFaults(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	l, err := netem.Start(netem.Config{Upstream: strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	get := func(timeout time.Duration) (time.Duration, error) {
		// A new connection per request: a fault must act on new connections, not only on old ones.
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		start := time.Now()
		resp, err := c.Get("http://" + l.Addr() + "/")
		if err == nil {
			_ = resp.Body.Close()
		}
		return time.Since(start), err
	}
	inject := func(f netem.Fault) {
		t.Helper()
		if err := l.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := get(5 * time.Second); err != nil {
		t.Fatalf("no fault: %v", err)
	}

	inject(netem.Fault{Kind: netem.FaultDown})
	if _, err := get(5 * time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("down: %v, want connection refused", err)
	}
	inject(netem.Fault{Kind: netem.FaultHang})
	if _, err := get(300 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("hang: %v, want the client's timeout", err)
	}
	const extra = 150 * time.Millisecond
	inject(netem.Fault{Kind: netem.FaultSlow, Extra: extra})
	// A lower bound only: the added delay cannot make an answer faster.
	if d, err := get(5 * time.Second); err != nil || d < extra {
		t.Errorf("slow by %v: took %v (%v), want at least %v", extra, d, err, extra)
	}
	if got := l.Fault(); got.Kind != netem.FaultSlow || got.Extra != extra {
		t.Errorf("Fault() = %+v", got)
	}

	inject(netem.Fault{Kind: netem.FaultFlap, Period: 40 * time.Millisecond})
	var ok, refused int
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	for ctx.Err() == nil && (ok == 0 || refused == 0) {
		if _, err := get(time.Second); err == nil {
			ok++
		} else {
			refused++
		}
		time.Sleep(7 * time.Millisecond)
	}
	if ok == 0 || refused == 0 {
		t.Errorf("flapping for 2s: %d answered, %d failed; want both", ok, refused)
	}

	inject(netem.Fault{})
	for i := range 5 {
		if _, err := get(5 * time.Second); err != nil {
			t.Fatalf("after removing the fault, request %d: %v", i, err)
		}
	}
}

func TestFaultValidation(t *testing.T) {
	for _, f := range []netem.Fault{{Kind: "melt"}, {Kind: netem.FaultSlow}, {Kind: netem.FaultFlap, Period: time.Millisecond}} {
		if err := f.Validate(); err == nil {
			t.Errorf("%+v: no error", f)
		}
	}
}
