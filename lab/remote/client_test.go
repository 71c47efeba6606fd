package remote_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroom/headroom/lab/remote"
)

// counted is an httptest server on loopback that counts its requests and answers with h.
func counted(t testing.TB, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// refusedAddr is a loopback address that refuses connections for the whole test. A closed
// listener's port is not enough: a parallel test's server can be given it at once. The port here
// stays bound by a connected client socket, which never listens, so nothing else can take it.
func refusedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn.LocalAddr().String()
}

func newClient(t testing.TB, cfg remote.Config) *remote.Client {
	t.Helper()
	if cfg.Peer == "" {
		cfg.Peer = "posts"
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	c, err := remote.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func down(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "down", http.StatusServiceUnavailable)
}

func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	_, err := remote.New(remote.Config{BaseURL: "127.0.0.1:80", MaxAttempts: -1})
	if !errors.Is(err, remote.ErrConfig) {
		t.Fatalf("err = %v, want ErrConfig", err)
	}
	for _, field := range []string{"Peer", "BaseURL", "MaxAttempts"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

func TestDeadlineStopsSlowServer(t *testing.T) {
	t.Parallel()
	srv, n := counted(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	c := newClient(t, remote.Config{BaseURL: srv.URL, Timeout: 50 * time.Millisecond, Deadline: 300 * time.Millisecond,
		MaxAttempts: 10, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond, NoBreaker: true})
	start := time.Now()
	err := c.Do(t.Context(), http.MethodGet, "/slow", "/slow", nil, nil)
	if !errors.Is(err, remote.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// Generous: the call's deadline is 300 ms; the server would hold it 10 s.
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("call took %s, want about the 300 ms deadline", d)
	}
	if got := n.Load(); got < 2 {
		t.Errorf("server saw %d attempts, want retries after the 50 ms attempt timeout", got)
	}
}

func TestNoTimeoutWaitsForTheCaller(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv, _ := counted(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	c := newClient(t, remote.Config{BaseURL: srv.URL, NoTimeout: true, Timeout: time.Millisecond, Deadline: time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Do(ctx, http.MethodGet, "/slow", "/slow", nil, nil)
	if err == nil {
		t.Fatal("call to a hung server succeeded")
	}
	// Without a deadline of its own the call lasts until the caller gives up (200 ms), far
	// past the 1 ms Timeout and Deadline that NoTimeout ignores.
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("call ended after %s, want it held until the caller's 200 ms", d)
	}
}

func TestRetriesWithBackoffSucceedOnFlappingServer(t *testing.T) {
	t.Parallel()
	var seen atomic.Int64
	srv, n := counted(t, func(w http.ResponseWriter, _ *http.Request) {
		if seen.Add(1)%3 != 0 { // two failures, then a success
			down(w, nil)
			return
		}
		_, _ = w.Write([]byte(`{"id":7}`))
	})
	c := newClient(t, remote.Config{BaseURL: srv.URL, MaxAttempts: 3, BackoffMin: time.Millisecond, BackoffMax: 4 * time.Millisecond,
		BudgetBurst: 100, NoBreaker: true})
	const calls = 20
	for range calls {
		var out struct{ ID int }
		if err := c.Do(t.Context(), http.MethodGet, "/posts/{id}", "/posts/7", nil, &out); err != nil {
			t.Fatal(err)
		}
		if out.ID != 7 {
			t.Fatalf("decoded %+v, want id 7", out)
		}
	}
	if got := n.Load(); got != 3*calls {
		t.Errorf("server saw %d requests, want %d (3 per call)", got, 3*calls)
	}
}

// TestRetryBudgetBoundsLoadOnDownServer counts what a down peer receives: with the budget, at
// most 1.2× the calls (the target); with NaiveRetries, NaiveMaxAttempts times the calls.
func TestRetryBudgetBoundsLoadOnDownServer(t *testing.T) {
	t.Parallel()
	t.Run("budgeted", func(t *testing.T) {
		t.Parallel()
		srv, n := counted(t, down)
		reg := prometheus.NewRegistry()
		c := newClient(t, remote.Config{BaseURL: srv.URL, BackoffMin: 100 * time.Microsecond, BackoffMax: time.Millisecond,
			NoBreaker: true, Registerer: reg})
		const calls = 500
		for range calls {
			if err := c.Do(t.Context(), http.MethodGet, "/posts", "/posts", nil, nil); err == nil {
				t.Fatal("call to a down server succeeded")
			}
		}
		load := float64(n.Load()) / calls
		t.Logf("budgeted retries: %d calls → %d requests (%.3f× load)", calls, n.Load(), load)
		if load > 1.2 {
			t.Errorf("down server's load = %.3f× the calls, want ≤ 1.2×", load)
		}
		if r := testutil.ToFloat64(counterOf(t, reg, "headroom_remote_budget_rejections_total")); r == 0 {
			t.Error("no budget rejection counted")
		}
	})
	t.Run("naive", func(t *testing.T) {
		t.Parallel()
		srv, n := counted(t, down)
		c := newClient(t, remote.Config{BaseURL: srv.URL, NaiveRetries: true, NoBreaker: true})
		const calls = 20
		for range calls {
			if err := c.Do(t.Context(), http.MethodGet, "/posts", "/posts", nil, nil); err == nil {
				t.Fatal("call to a down server succeeded")
			}
		}
		load := float64(n.Load()) / calls
		t.Logf("naive retries: %d calls → %d requests (%.0f× load)", calls, n.Load(), load)
		if load != remote.NaiveMaxAttemptsDefault {
			t.Errorf("down server's load = %.1f× the calls, want %d× (every attempt of the naive cap)", load, remote.NaiveMaxAttemptsDefault)
		}
	})
}

// counterOf gathers reg and returns the first series of the metric name as a collector.
func counterOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "copy"})
			c.Add(mf.GetMetric()[0].GetCounter().GetValue())
			return c
		}
	}
	t.Fatalf("no series %s", name)
	return nil
}

func TestBreakerOpensFailsFastAndRecovers(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	srv, n := counted(t, func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			down(w, r)
		}
	})
	reg := prometheus.NewRegistry()
	c := newClient(t, remote.Config{BaseURL: srv.URL, MaxAttempts: 1, BreakerFailures: 5, BreakerWindow: 10,
		BreakerDelay: 100 * time.Millisecond, BreakerProbes: 2, Registerer: reg})
	get := func() error { return c.Do(t.Context(), http.MethodGet, "/posts", "/posts", nil, nil) }
	for range 10 {
		_ = get()
	}
	sent := n.Load()
	if err := get(); !errors.Is(err, remote.ErrCircuitOpen) {
		t.Fatalf("err after 10 failures = %v, want ErrCircuitOpen", err)
	}
	if n.Load() != sent {
		t.Error("an attempt reached the server through an open circuit")
	}
	if s := gauge(t, reg, "headroom_remote_breaker_state"); s != 1 {
		t.Errorf("breaker state gauge = %v, want 1 (open)", s)
	}
	healthy.Store(true)
	// Half-open after BreakerDelay (100 ms): poll, bounded, until a probe goes through.
	recovered := false
	for range 100 {
		if err := get(); err == nil {
			recovered = true
			break
		} else if !errors.Is(err, remote.ErrCircuitOpen) {
			t.Fatalf("probe failed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !recovered {
		t.Fatal("breaker did not let a probe through within 1 s")
	}
	for range 5 {
		if err := get(); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
	if s := gauge(t, reg, "headroom_remote_breaker_state"); s != 0 {
		t.Errorf("breaker state gauge = %v, want 0 (closed)", s)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}

func TestBulkheadRejectsPastItsLimit(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	srv, _ := counted(t, func(_ http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-release
	})
	c := newClient(t, remote.Config{BaseURL: srv.URL, Bulkhead: 2, MaxAttempts: 1})
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- c.Do(t.Context(), http.MethodGet, "/posts", "/posts", nil, nil) }()
	}
	<-arrived
	<-arrived
	if err := c.Do(t.Context(), http.MethodGet, "/posts", "/posts", nil, nil); !errors.Is(err, remote.ErrBulkheadFull) {
		t.Errorf("third concurrent call: err = %v, want ErrBulkheadFull", err)
	}
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("call within the limit: %v", err)
		}
	}
}

func TestPostRetriedOnlyWithIdempotencyKey(t *testing.T) {
	t.Parallel()
	var keys atomic.Int64
	srv, n := counted(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(remote.IdempotencyKeyHeader) != "" {
			keys.Add(1)
		}
		down(w, r)
	})
	c := newClient(t, remote.Config{BaseURL: srv.URL, MaxAttempts: 3, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond, NoBreaker: true})
	body := map[string]string{"title": "hello"}
	err := c.Do(t.Context(), http.MethodPost, "/posts", "/posts", body, nil)
	if se, ok := errors.AsType[*remote.StatusError](err); !ok || se.Code != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want a StatusError 503", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("POST without a key: %d requests, want 1 (never retried)", got)
	}
	_ = c.Do(remote.WithIdempotencyKey(t.Context(), "k1"), http.MethodPost, "/posts", "/posts", body, nil)
	if got := n.Load() - 1; got != 3 || keys.Load() != 3 {
		t.Errorf("POST with a key: %d requests (%d with the key), want 3 and 3", got, keys.Load())
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	c := newClient(t, remote.Config{BaseURL: "http://" + refusedAddr(t), MaxAttempts: 1})
	if err := c.Do(t.Context(), http.MethodGet, "/posts", "/posts", nil, nil); err == nil {
		t.Fatal("call to a closed port succeeded")
	}
}

// TestHedgeBudgetSparesASlowPeer: a peer slow on every request, called concurrently, receives
// hedged copies for at most a small share of the calls, not one per call.
func TestHedgeBudgetSparesASlowPeer(t *testing.T) {
	t.Parallel()
	srv, n := counted(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(100 * time.Millisecond):
		}
	})
	c := newClient(t, remote.Config{BaseURL: srv.URL, HedgeDelay: 5 * time.Millisecond, MaxAttempts: 1})
	const calls = 40
	errs := make(chan error, calls)
	for range calls {
		go func() { errs <- c.Do(t.Context(), http.MethodGet, "/posts", "/posts", nil, nil) }()
	}
	for range calls {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	extra := float64(n.Load()-calls) / calls
	t.Logf("%d concurrent calls to a peer slow on every request: %d requests (%.0f %% extra)", calls, n.Load(), 100*extra)
	// Unbudgeted, every call would send its copy (100 % extra). Generous: the share of 10 % in
	// flight is approximate while the calls start.
	if extra > 0.5 {
		t.Errorf("hedges added %.0f %% requests, want well under 100 %%", 100*extra)
	}
}

// TestMistakesSwitchAtRunTime flips the classic mistakes between calls through Config.Mistakes:
// naive retries hammer a down peer, budgeted ones do not; with no timeout a hung peer holds the
// call until the caller gives up, and switched back the deadline holds again.
func TestMistakesSwitchAtRunTime(t *testing.T) {
	t.Parallel()
	var mistakes atomic.Pointer[remote.Mistakes]
	mistakes.Store(&remote.Mistakes{})
	hang := atomic.Bool{}
	srv, n := counted(t, func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := newClient(t, remote.Config{BaseURL: srv.URL, MaxAttempts: 3, NaiveMaxAttempts: 20, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond,
		BudgetBurst: 1000, Timeout: 50 * time.Millisecond, Deadline: 200 * time.Millisecond, NoBreaker: true,
		Mistakes: func() remote.Mistakes { return *mistakes.Load() }})

	_ = c.Do(t.Context(), http.MethodGet, "/p", "/p", nil, nil)
	if got := n.Swap(0); got != 3 {
		t.Errorf("budgeted retries on a down peer: %d attempts, want MaxAttempts 3", got)
	}
	mistakes.Store(&remote.Mistakes{NaiveRetries: true})
	_ = c.Do(t.Context(), http.MethodGet, "/p", "/p", nil, nil)
	if got := n.Swap(0); got != 20 {
		t.Errorf("naive retries on a down peer: %d attempts, want NaiveMaxAttempts 20", got)
	}

	hang.Store(true)
	mistakes.Store(&remote.Mistakes{NoTimeout: true})
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Do(ctx, http.MethodGet, "/p", "/p", nil, nil)
	// A lower bound: without a deadline of its own the call lasts until the caller's 600 ms.
	if waited := time.Since(start); err == nil || waited < 550*time.Millisecond {
		t.Errorf("no timeout on a hung peer: returned after %v (%v), want the caller's 600 ms", waited, err)
	}
	mistakes.Store(&remote.Mistakes{})
	err = c.Do(t.Context(), http.MethodGet, "/p", "/p", nil, nil)
	if !errors.Is(err, remote.ErrTimeout) {
		t.Errorf("deadlines back on: %v, want ErrTimeout", err)
	}
}
