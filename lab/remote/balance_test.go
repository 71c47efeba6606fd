package remote_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab/remote"
)

// replica is one instance of the peer on loopback: /healthz answers 200, or 503 while sick is
// set (nil: never), and every other request is counted and answered by h.
func replica(t testing.TB, sick *atomic.Bool, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == remote.HealthPathDefault {
			if sick != nil && sick.Load() {
				http.Error(w, "sick", http.StatusServiceUnavailable)
			}
			return
		}
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func ok(http.ResponseWriter, *http.Request) {}

// newBalancer returns a started Balancer, stopped at the test's end. Left zero, Peer is "posts"
// and HealthInterval a minute: checks then run only at Start and after SetEndpoints, so that
// what the calls do to the endpoints' health is the tests' to see.
func newBalancer(t testing.TB, cfg remote.BalancerConfig) *remote.Balancer {
	t.Helper()
	if cfg.Peer == "" {
		cfg.Peer = "posts"
	}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = time.Minute
	}
	b, err := remote.NewBalancer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return b
}

func status(t testing.TB, b *remote.Balancer, url string) remote.EndpointStatus {
	t.Helper()
	for _, e := range b.Endpoints() {
		if e.URL == url {
			return e
		}
	}
	t.Fatalf("no endpoint %s among %v", url, b.Endpoints())
	return remote.EndpointStatus{}
}

// waitFor polls cond, bounded: the health checks and ejections it waits for are events of
// other goroutines that the Balancer does not announce.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: not within 10 s", what)
}

func get(c *remote.Client, ctx context.Context) error {
	return c.Do(ctx, http.MethodGet, "/posts/{id}", "/posts/7", nil, nil)
}

func TestBalancerConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	_, err := remote.NewBalancer(remote.BalancerConfig{Endpoints: []string{"127.0.0.1:80"},
		HealthInterval: time.Second, HealthTimeout: 2 * time.Second, HealthyThreshold: -1, HealthPath: "healthz"})
	if !errors.Is(err, remote.ErrConfig) {
		t.Fatalf("err = %v, want ErrConfig", err)
	}
	for _, field := range []string{"Peer", "Endpoints", "HealthTimeout", "HealthyThreshold", "HealthPath"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}

	srv, _ := replica(t, nil, ok)
	b := newBalancer(t, remote.BalancerConfig{Endpoints: []string{srv.URL}})
	for _, urls := range [][]string{nil, {srv.URL, srv.URL + "/"}, {"ftp://127.0.0.1:21"}} {
		if err := b.SetEndpoints(urls); !errors.Is(err, remote.ErrConfig) || !strings.Contains(err.Error(), "Endpoints") {
			t.Errorf("SetEndpoints(%q): err = %v, want ErrConfig naming Endpoints", urls, err)
		}
	}
	if got := b.Endpoints(); len(got) != 1 || got[0].URL != srv.URL {
		t.Errorf("endpoints after refused SetEndpoints: %v, want %s unchanged", got, srv.URL)
	}

	for _, tc := range []struct {
		cfg         remote.Config
		field, says string
	}{
		{remote.Config{Peer: "posts", BaseURL: srv.URL, Balancer: b}, "Balancer", "exactly one"},
		{remote.Config{Peer: "accounts", Balancer: b}, "Balancer", `"posts"`},
		{remote.Config{Peer: "posts"}, "BaseURL", "or a Balancer"},
	} {
		_, err := remote.New(tc.cfg)
		if !errors.Is(err, remote.ErrConfig) || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("New(BaseURL %q, Peer %q): err = %v, want ErrConfig naming %s and saying %s", tc.cfg.BaseURL, tc.cfg.Peer, err, tc.field, tc.says)
		}
	}
}

// TestLeastOutstandingSparesASlowReplica: of two replicas, one answering at once and one in
// 20 ms, concurrent callers send most calls to the fast one. Round robin or a random pick would
// send each half.
func TestLeastOutstandingSparesASlowReplica(t *testing.T) {
	t.Parallel()
	fast, nFast := replica(t, nil, ok)
	slow, nSlow := replica(t, nil, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Millisecond):
		}
	})
	b := newBalancer(t, remote.BalancerConfig{Endpoints: []string{fast.URL, slow.URL}})
	c := newClient(t, remote.Config{Balancer: b, MaxAttempts: 1})
	const workers, calls = 4, 100
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				if err := get(c, t.Context()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d calls from %d callers: fast replica %d, slow replica %d", workers*calls, workers, nFast.Load(), nSlow.Load())
	// The slow replica is picked only when the fast one has as many attempts in flight: it
	// holds about one caller of four, the fast one the rest. Seen: 5× to 22× (-race, 2 shared
	// cores); required: 3×.
	if nFast.Load() < 3*nSlow.Load() {
		t.Errorf("fast replica %d calls, slow %d: want the fast one at least 3× the slow one", nFast.Load(), nSlow.Load())
	}
}

// TestIdleReplicasShareLoad: calls one at a time find both replicas idle; the tie is broken at
// random, so each gets about half.
func TestIdleReplicasShareLoad(t *testing.T) {
	t.Parallel()
	a, nA := replica(t, nil, ok)
	bb, nB := replica(t, nil, ok)
	c := newClient(t, remote.Config{Balancer: newBalancer(t, remote.BalancerConfig{Endpoints: []string{a.URL, bb.URL}}), MaxAttempts: 1})
	const calls = 400
	for range calls {
		if err := get(c, t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// Each expects 200 (binomial SD 10): 30 % to 70 % is ± 8 SD.
	if nA.Load() < 120 || nB.Load() < 120 {
		t.Errorf("%d calls: replicas got %d and %d, want each 30 %% to 70 %%", calls, nA.Load(), nB.Load())
	}
}

// TestClosedReplicaIsEjected: the first call that finds a replica closed (refused) fails, with
// one attempt per call, and ejects it; every later call goes to the other replicas. The peer's
// breaker, set to open on a single failure, does not count the ejected replica's failure.
func TestClosedReplicaIsEjected(t *testing.T) {
	t.Parallel()
	urls := make([]string, 3)
	servers := make([]*httptest.Server, 3)
	for i := range servers {
		servers[i], _ = replica(t, nil, ok)
		urls[i] = servers[i].URL
	}
	reg := prometheus.NewRegistry()
	b := newBalancer(t, remote.BalancerConfig{Endpoints: urls, Registerer: reg})
	c := newClient(t, remote.Config{Balancer: b, MaxAttempts: 1, BreakerFailures: 1, BreakerWindow: 1, Registerer: reg})
	servers[0].Close()
	var failed []error
	const calls = 200
	for range calls {
		if err := get(c, t.Context()); err != nil {
			failed = append(failed, err)
		}
	}
	// Each call finds the closed replica with a chance of 1 in 3 until it is ejected.
	if len(failed) != 1 || !errors.Is(failed[0], syscall.ECONNREFUSED) {
		t.Fatalf("%d calls: failures %v, want one, connection refused", calls, failed)
	}
	if s := status(t, b, urls[0]); s.Healthy || s.Picks != 1 {
		t.Errorf("closed replica: healthy %v picks %d, want ejected after its one pick", s.Healthy, s.Picks)
	}
	if s := gauge(t, reg, "headroom_remote_breaker_state"); s != 0 {
		t.Errorf("breaker state = %v, want 0 (closed): one replica's restart is not the peer's failure", s)
	}
}

// TestHealthChecks: a replica whose /healthz answers 503 takes no calls until it answers 200
// again (HealthyThreshold checks in a row); the metrics follow.
func TestHealthChecks(t *testing.T) {
	t.Parallel()
	var sick atomic.Bool
	good, nGood := replica(t, nil, ok)
	flaky, nFlaky := replica(t, &sick, ok)
	reg := prometheus.NewRegistry()
	b := newBalancer(t, remote.BalancerConfig{Endpoints: []string{good.URL, flaky.URL},
		HealthInterval: 20 * time.Millisecond, Registerer: reg})
	c := newClient(t, remote.Config{Balancer: b, MaxAttempts: 1, Registerer: reg})
	if s := status(t, b, flaky.URL); !s.Healthy {
		t.Fatal("replica unhealthy after Start's checks")
	}
	sick.Store(true)
	waitFor(t, "replica answering 503 marked unhealthy", func() bool { return !status(t, b, flaky.URL).Healthy })
	if v := endpointMetric(t, reg, "headroom_remote_endpoint_healthy", flaky.URL); v != 0 {
		t.Errorf("headroom_remote_endpoint_healthy = %v, want 0", v)
	}
	before := nFlaky.Load()
	for range 50 {
		if err := get(c, t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := nFlaky.Load() - before; n != 0 || nGood.Load() < 50 {
		t.Errorf("while unhealthy the replica took %d of 50 calls, want 0", n)
	}
	sick.Store(false)
	waitFor(t, "replica answering 200 healthy again", func() bool { return status(t, b, flaky.URL).Healthy })
	if v := endpointMetric(t, reg, "headroom_remote_endpoint_healthy", flaky.URL); v != 1 {
		t.Errorf("headroom_remote_endpoint_healthy = %v, want 1", v)
	}
	if v := endpointMetric(t, reg, "headroom_remote_endpoint_picks_total", good.URL); v < 50 {
		t.Errorf("headroom_remote_endpoint_picks_total = %v, want at least the 50 calls", v)
	}
	if v := endpointMetric(t, reg, "headroom_remote_endpoint_outstanding", good.URL); v != 0 {
		t.Errorf("headroom_remote_endpoint_outstanding = %v with no call in flight, want 0", v)
	}
}

// endpointMetric is the value of the named series for the endpoint (peer "posts").
func endpointMetric(t *testing.T, reg *prometheus.Registry, name, endpoint string) float64 {
	t.Helper()
	v, n := series(t, reg, name, map[string]string{"peer": "posts", "endpoint": endpoint})
	if n != 1 {
		t.Fatalf("%d series %s{endpoint=%q}, want 1", n, name, endpoint)
	}
	return v
}

// series adds the values of the named gauges or counters whose labels include want, and counts
// them.
func series(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) (sum float64, n int) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, p := range m.GetLabel() {
				got[p.GetName()] = p.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue metrics
				}
			}
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
			n++
		}
	}
	return sum, n
}

// TestPanicMode: with every replica failing its checks, calls still go to all of them rather
// than failing.
func TestPanicMode(t *testing.T) {
	t.Parallel()
	var sick atomic.Bool
	sick.Store(true)
	a, nA := replica(t, &sick, ok)
	bb, nB := replica(t, &sick, ok)
	b := newBalancer(t, remote.BalancerConfig{Endpoints: []string{a.URL, bb.URL}})
	for _, e := range b.Endpoints() {
		if e.Healthy {
			t.Fatalf("%s healthy though its /healthz answers 503", e.URL)
		}
	}
	c := newClient(t, remote.Config{Balancer: b, MaxAttempts: 1})
	for range 100 {
		if err := get(c, t.Context()); err != nil {
			t.Fatalf("panic mode: %v", err)
		}
	}
	if nA.Load() == 0 || nB.Load() == 0 {
		t.Errorf("100 calls in panic mode: replicas got %d and %d, want both some", nA.Load(), nB.Load())
	}
}

// TestStopCancelsHungChecks: Stop returns while a replica holds its health check far longer.
func TestStopCancelsHungChecks(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	}))
	t.Cleanup(srv.Close)
	b, err := remote.NewBalancer(remote.BalancerConfig{Peer: "posts", Endpoints: []string{srv.URL},
		HealthInterval: time.Minute, HealthTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := b.Start(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start with a hung first check: err = %v, want the context's deadline", err)
	}
	stopCtx, cancelStop := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancelStop()
	if err := b.Stop(stopCtx); err != nil {
		t.Errorf("Stop: %v, want the hung check canceled and the checker returned", err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Errorf("Start after Stop: %v, want nil (a Balancer starts once)", err)
	}
}

// TestAttemptSpansNameTheReplica: a retry goes to the other replica, and each attempt's span
// names the replica it went to.
func TestAttemptSpansNameTheReplica(t *testing.T) {
	t.Parallel()
	a, _ := replica(t, nil, down)
	bb, _ := replica(t, nil, down)
	rec := tracetest.NewSpanRecorder()
	c := newClient(t, remote.Config{Balancer: newBalancer(t, remote.BalancerConfig{Endpoints: []string{a.URL, bb.URL}}),
		MaxAttempts: 2, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond, NoBreaker: true,
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	if err := get(c, t.Context()); err == nil {
		t.Fatal("call to two down replicas succeeded")
	}
	var urls []string
	for _, s := range rec.Ended() {
		if s.SpanKind() != trace.SpanKindClient {
			continue
		}
		at := attrs(s)
		full := at["url.full"].AsString()
		urls = append(urls, full)
		u, err := url.Parse(full)
		if err != nil {
			t.Fatal(err)
		}
		if at["server.address"].AsString() != u.Hostname() || fmt.Sprint(at["server.port"].AsInt64()) != u.Port() {
			t.Errorf("attempt to %s: server.address %q server.port %d", full, at["server.address"].AsString(), at["server.port"].AsInt64())
		}
	}
	slices.Sort(urls)
	want := []string{a.URL + "/posts/7", bb.URL + "/posts/7"}
	slices.Sort(want)
	if !slices.Equal(urls, want) {
		t.Errorf("attempts went to %q, want one to each replica %q", urls, want)
	}
}

// TestRollingRestart replaces each of three replicas in turn (close it, wait until a call has
// found it gone and ejected it, start a new one, SetEndpoints, wait until it serves) while four
// callers send GETs.
// With retries no call fails: the attempt that found the replica gone is retried on another.
// With one attempt per call, each replica's ejection is a failed call: at least one per replica
// (the active checks cannot eject it first: they run only after SetEndpoints here, and three
// failures in a row would be needed).
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		maxAttempts int
	}{{"retries", 3}, {"one attempt", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const replicas = 3
			calls, failed, retries := rollingRestart(t, replicas, tc.maxAttempts)
			t.Logf("MaxAttempts %d: %d calls, %d failed, %d retries", tc.maxAttempts, calls, failed, retries)
			switch {
			case tc.maxAttempts > 1 && (failed != 0 || retries == 0):
				t.Errorf("with retries: %d calls failed and %d retried, want none failed, some retried", failed, retries)
			case tc.maxAttempts == 1 && failed < replicas:
				t.Errorf("without retries: %d calls failed, want at least %d (one per replica restarted)", failed, replicas)
			}
		})
	}
}

func rollingRestart(t *testing.T, replicas, maxAttempts int) (calls, failed, retries int64) {
	const workers, maxCalls = 4, 20000 // per worker; the restarts take far fewer
	servers := make([]*httptest.Server, replicas)
	urls := make([]string, replicas)
	for i := range servers {
		servers[i], _ = replica(t, nil, ok)
		urls[i] = servers[i].URL
	}
	reg := prometheus.NewRegistry()
	b := newBalancer(t, remote.BalancerConfig{Endpoints: urls, Registerer: reg})
	c := newClient(t, remote.Config{Balancer: b, MaxAttempts: maxAttempts, Registerer: reg})

	var nCalls, nFailed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range maxCalls {
				select {
				case <-stop:
					return
				default:
				}
				nCalls.Add(1)
				if err := get(c, t.Context()); err != nil {
					nFailed.Add(1)
				}
			}
		})
	}
	// Every replica has served (and holds kept-alive connections) before it is replaced.
	waitFor(t, "load on every replica", func() bool {
		return !slices.ContainsFunc(b.Endpoints(), func(e remote.EndpointStatus) bool { return e.Picks < 20 })
	})
	for i := range servers {
		servers[i].Close() // waits for the requests it is serving
		waitFor(t, fmt.Sprintf("replica %d ejected", i), func() bool { return !status(t, b, urls[i]).Healthy })
		servers[i], _ = replica(t, nil, ok)
		urls[i] = servers[i].URL
		if err := b.SetEndpoints(urls); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("replica %d's successor serving", i), func() bool { return status(t, b, urls[i]).Picks >= 20 })
	}
	close(stop)
	wg.Wait()
	return nCalls.Load(), nFailed.Load(), retried(t, reg)
}

func retried(t *testing.T, reg *prometheus.Registry) int64 {
	t.Helper()
	v, _ := series(t, reg, "headroom_remote_attempts_total", map[string]string{"kind": "retry"})
	return int64(v)
}
