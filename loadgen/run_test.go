package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/result"
)

// quantile reads any quantile of a result's latency histogram, in ms.
func quantile(t *testing.T, l *result.Load, q float64) float64 {
	t.Helper()
	h, err := hist.Decode(l.Histograms.Latency)
	if err != nil {
		t.Fatal(err)
	}
	return float64(h.Quantile(q)) / float64(time.Millisecond)
}

// cpu keeps this package's closed-model runs at full speed, which take every cycle they can get,
// from running beside its other runs: on two cores under the race detector they starved
// open-model runs into leaving requests unsent, which is not what those tests check.
var cpu sync.RWMutex

// shareCPU holds cpu for the rest of t, alone for a run at full speed: call it at the start of a
// parallel test that runs load (a leaf, or a subtest whose own subtests take no share), before
// anything it times.
func shareCPU(t *testing.T, alone bool) {
	if alone {
		cpu.Lock()
		t.Cleanup(cpu.Unlock)
	} else {
		cpu.RLock()
		t.Cleanup(cpu.RUnlock)
	}
}

// run drives url with cfg filled in and fails the test on a configuration error.
func run(t *testing.T, ctx context.Context, cfg Config) *result.Load {
	t.Helper()
	l, err := Run(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return l
}

// TestAccuracyKnownServiceTime drives a server whose service time is known — 1 request in 10
// takes 50 ms, the others 10 ms — and checks the reported percentiles. Tolerance: the server's
// sleeps overshoot by up to a few ms on a loaded machine, so each percentile must lie within
// [want − 0.5 ms, want + 8 ms].
func TestAccuracyKnownServiceTime(t *testing.T) {
	t.Parallel()
	shareCPU(t, false)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		d := 10 * time.Millisecond
		if n.Add(1)%10 == 0 {
			d = 50 * time.Millisecond
		}
		time.Sleep(d)
	}))
	defer srv.Close()
	l := run(t, t.Context(), Config{Targets: []Target{{URL: srv.URL}}, Arrival: Arrival{Rate: 200}, Duration: 3 * time.Second, Connections: 64})
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", l.LatencyMS.P50, 10},
		{"p85", quantile(t, l, 0.85), 10},
		{"p95", l.LatencyMS.P95, 50},
		{"p99", l.LatencyMS.P99, 50},
	} {
		if c.got < c.want-0.5 || c.got > c.want+8 {
			t.Errorf("%s = %.2f ms, want %.0f ms (−0.5/+8)", c.name, c.got, c.want)
		}
	}
	if l.Errors != 0 || l.Requests < 590 || l.Requests > 610 {
		t.Errorf("requests %d errors %d, want ~600 and 0", l.Requests, l.Errors)
	}
}

// TestCoordinatedOmission is wrk2's classic: a server that stalls every handler for 1 s once every
// 2 s. Requests due during a stall wait until it ends, so half the requests have latencies spread
// evenly over (0, 1 s]: P90 ≈ 0.8 s, P99 ≈ 0.98 s, max ≈ 1 s. A closed-loop tool sees only the
// few requests in flight when the stall began as slow (service_ms).
func TestCoordinatedOmission(t *testing.T) {
	rate, conns := 1000.0, 50
	if raceEnabled {
		rate, conns = 200, 20
	}
	start := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		if into := time.Since(start) % (2 * time.Second); into < time.Second {
			time.Sleep(time.Second - into)
		}
	}))
	defer srv.Close()
	// Start the load at the beginning of a stall, so the 10 s hold five whole cycles.
	time.Sleep(2*time.Second - time.Since(start)%(2*time.Second))
	l := run(t, t.Context(), Config{Targets: []Target{{URL: srv.URL}}, Arrival: Arrival{Rate: rate}, Duration: 10 * time.Second, Connections: conns})

	if l.Generator.AchievedRatio < 0.99 {
		t.Errorf("achieved %.1f%% of the offered rate, want ≥ 99%%", 100*l.Generator.AchievedRatio)
	}
	// Tolerances: ±60 ms on P90, ±30 ms on P99, max within [0.95 s, 1.1 s].
	if p := l.LatencyMS.P90; math.Abs(p-800) > 60 {
		t.Errorf("P90 = %.0f ms, want 800 ± 60", p)
	}
	if p := l.LatencyMS.P99; math.Abs(p-980) > 30 {
		t.Errorf("P99 = %.0f ms, want 980 ± 30", p)
	}
	if m := l.LatencyMS.Max; m < 950 || m > 1100 {
		t.Errorf("max = %.0f ms, want 950..1100", m)
	}
	// The uncorrected view hides the stall from most requests.
	if p := l.ServiceMS.P90; p > 100 {
		t.Errorf("service P90 = %.0f ms: want it far below the honest 800 ms (under 100 ms)", p)
	}
	t.Logf("latency p50 %.0f p90 %.0f p99 %.0f max %.0f; service p50 %.1f p90 %.1f p99 %.0f; achieved %.1f%%",
		l.LatencyMS.P50, l.LatencyMS.P90, l.LatencyMS.P99, l.LatencyMS.Max, l.ServiceMS.P50, l.ServiceMS.P90, l.ServiceMS.P99, 100*l.Generator.AchievedRatio)
}

func TestClosedModel(t *testing.T) {
	t.Parallel()
	eachEngine(t, openEngines, testClosedModel)
}

func testClosedModel(t *testing.T, ec engineCase) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(10 * time.Millisecond) }))
	defer srv.Close()
	l := run(t, t.Context(), Config{Targets: []Target{{URL: srv.URL}}, Model: "closed", Users: 5, Think: 10 * time.Millisecond, Duration: 2 * time.Second, path: ec.path})
	// 5 users, each cycle 10 ms service + 10 ms think: at most 250 req/s. The rate a closed model
	// keeps is users / (latency + think): judged against the latency measured, so that a loaded
	// machine's slower answers do not fail it, within [0.7, 1.05]× — thinking twice per cycle
	// would give about 0.67×, and the remaining slack is think-timer overshoot under load.
	want := 5 / (l.LatencyMS.Mean/1000 + 0.010)
	if l.AchievedRPS > 255 || l.AchievedRPS > 1.05*want || l.AchievedRPS < 0.7*want {
		t.Errorf("achieved %.0f req/s, want at most 255 and 0.7..1.05 × %.0f (5 users / (mean latency %.1f ms + 10 ms think))",
			l.AchievedRPS, want, l.LatencyMS.Mean)
	}
	t.Logf("achieved %.0f req/s, %.2f× the %.0f that the mean latency %.1f ms and the think time allow", l.AchievedRPS, l.AchievedRPS/want, want, l.LatencyMS.Mean)
	if l.Model != "closed" || l.OfferedRPS != 0 || l.Generator.Connections != 5 {
		t.Errorf("model %q offered %v connections %d, want closed, 0, 5", l.Model, l.OfferedRPS, l.Generator.Connections)
	}
}

// TestClosedModelFullSpeed: without think time (the event loop then runs on io_uring, waking for
// a third of the users' answers at a time where the kernel allows, or polls for answers before it
// parks on epoll) every user still has one request in flight at a time, latency is the server's,
// and cancellation ends the run at once. 12 users against a 5 ms server: at most 2,400 req/s;
// at least 1,600, and latency p50 5–7.5 ms (stated tolerances for a shared machine's scheduling).
func TestClosedModelFullSpeed(t *testing.T) {
	t.Parallel()
	eachEngine(t, slices.Concat(fullSpeedEngines, []engineCase{{"full-speed-goroutines", pathGoroutines, true}}), testClosedModelFullSpeed)
}

func testClosedModelFullSpeed(t *testing.T, ec engineCase) {
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	l := run(t, ctx, ec.config(Config{Targets: []Target{{URL: srv.URL}}, Connections: 12, Duration: 30 * time.Second}))
	if took := time.Since(start); took > 2500*time.Millisecond {
		t.Errorf("canceled run returned after %v, want about 1.5 s", took)
	}
	if !l.Partial || l.AchievedRPS > 2400 || l.AchievedRPS < 1600 {
		t.Errorf("partial %v, achieved %.0f req/s; want a partial run at 1600..2400 req/s (12 users, 5 ms each)", l.Partial, l.AchievedRPS)
	}
	if l.LatencyMS.P50 < 5 || l.LatencyMS.P50 > 7.5 {
		t.Errorf("latency p50 %.2f ms, want 5..7.5 (the server sleeps 5 ms)", l.LatencyMS.P50)
	}
	if m := most.Load(); m > 12 {
		t.Errorf("the server saw %d requests at once from 12 users", m)
	}
}

func TestWarmupIsExcludedAndTimelineCovers(t *testing.T) {
	t.Parallel()
	shareCPU(t, false)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	l := run(t, t.Context(), Config{Targets: []Target{{URL: srv.URL}}, Arrival: Arrival{Rate: 100}, Warmup: time.Second, Duration: 2 * time.Second})
	if l.Requests != 200 {
		t.Errorf("requests = %d, want exactly 200 (100/s for the 2 s after warm-up)", l.Requests)
	}
	if len(l.Timeline) != 2 {
		t.Fatalf("timeline has %d seconds, want 2: %+v", len(l.Timeline), l.Timeline)
	}
	var sum int64
	for _, s := range l.Timeline {
		sum += s.Requests
		if math.Abs(s.OfferedRPS-100) > 1e-9 {
			t.Errorf("second %d offered %v, want 100", s.T, s.OfferedRPS)
		}
	}
	if d := sum - l.Requests; d < -2 || d > 2 {
		t.Errorf("timeline counts %d requests, total %d", sum, l.Requests)
	}
	if l.DurationS != 2 || math.Abs(l.OfferedRPS-100) > 1e-9 {
		t.Errorf("duration %v offered %v, want 2 and 100", l.DurationS, l.OfferedRPS)
	}
}

// TestShardStartsAtAndOffersItsShare: a shard waits for StartAt, says how far from it it started,
// and offers and sends its share of the rate.
func TestShardStartsAtAndOffersItsShare(t *testing.T) {
	t.Parallel()
	shareCPU(t, false)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	at := time.Now().Add(300 * time.Millisecond)
	l := run(t, t.Context(), Config{Targets: []Target{{URL: srv.URL}}, Arrival: Arrival{Rate: 400}, Duration: time.Second, Shard: Shard{Index: 1, Count: 4}, StartAt: at})
	if l.StartedAt.Before(at) {
		t.Errorf("started at %v, before the requested %v", l.StartedAt, at)
	}
	// A timer's lateness on a loaded machine: tens of milliseconds at worst.
	if l.StartAt == nil || !l.StartAt.Requested.Equal(at) || l.StartAt.OffsetMS < 0 || l.StartAt.OffsetMS > 100 {
		t.Errorf("start_at = %+v, want %v requested and an offset of 0 to 100 ms", l.StartAt, at)
	}
	if l.Shard == nil || *l.Shard != (Shard{Index: 1, Count: 4}) {
		t.Errorf("shard = %+v, want 1/4", l.Shard)
	}
	if l.Requests != 100 || math.Abs(l.OfferedRPS-100) > 1e-9 {
		t.Errorf("requests %d offered %v, want exactly 100 and 100/s (a quarter of 400/s for 1 s)", l.Requests, l.OfferedRPS)
	}
	for _, sec := range l.Timeline {
		if math.Abs(sec.OfferedRPS-100) > 1e-9 {
			t.Errorf("second %d offered %v, want 100", sec.T, sec.OfferedRPS)
		}
	}
}

// TestCancelBeforeStartAtSendsNothing: a run interrupted while it waits for StartAt sends nothing
// and says so.
func TestCancelBeforeStartAtSendsNothing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, Config{Targets: []Target{{URL: "http://127.0.0.1:1/"}}, Arrival: Arrival{Rate: 1}, Duration: time.Second, StartAt: time.Now().Add(time.Hour)}, nil)
	if err == nil || !strings.Contains(err.Error(), "nothing was sent") {
		t.Errorf("Run = %v, want an error saying nothing was sent", err)
	}
}

var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-[0-9a-f]{16}-01$`)

func TestTraceparentAndExemplars(t *testing.T) {
	t.Parallel()
	shareCPU(t, false)
	var mu sync.Mutex
	seen := map[string]bool{}
	var bad []string
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		tp := r.Header.Get("Traceparent")
		m := traceparentRE.FindStringSubmatch(tp)
		mu.Lock()
		defer mu.Unlock()
		if m == nil {
			bad = append(bad, tp)
			return
		}
		seen[m[1]] = true
		if r.URL.Query().Get("slow") != "" {
			time.Sleep(30 * time.Millisecond)
		}
	}))
	defer srv.Close()
	l := run(t, t.Context(), Config{Targets: []Target{{URL: srv.URL, Weight: 9}, {URL: srv.URL + "/?slow=1"}}, Arrival: Arrival{Rate: 200}, Duration: 2 * time.Second})
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("bad traceparent headers: %q", bad[:min(3, len(bad))])
	}
	if int64(len(seen)) != l.Requests {
		t.Errorf("%d distinct trace ids for %d requests", len(seen), l.Requests)
	}
	var slow int
	for _, e := range l.Exemplars {
		if !seen[e.TraceID] {
			t.Errorf("exemplar trace %s was never sent", e.TraceID)
		}
		if e.Why == "slowest" {
			slow++
			if e.LatencyMS < 29 {
				t.Errorf("slowest exemplar at %.1f ms: the slow target takes 30 ms", e.LatencyMS)
			}
		}
	}
	if slow != result.SlowestExemplars {
		t.Errorf("%d slowest exemplars, want %d", slow, result.SlowestExemplars)
	}
}

func TestTargetWeights(t *testing.T) {
	t.Parallel()
	shareCPU(t, false)
	var a, b atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			if string(body) == `{"x":1}` && r.Header.Get("X-Test") == "yes" {
				b.Add(1)
			}
			return
		}
		a.Add(1)
	}))
	defer srv.Close()
	l := run(t, t.Context(), Config{Targets: []Target{
		{URL: srv.URL + "/a", Weight: 3},
		{URL: srv.URL + "/b", Method: "POST", Body: `{"x":1}`, Headers: map[string]string{"X-Test": "yes"}, Weight: 1},
	}, Arrival: Arrival{Rate: 1000}, Duration: 2 * time.Second})
	// 2000 requests split 3:1; binomial sd of the smaller share ≈ 19, tolerance 5 sd ≈ ±100.
	if got := b.Load(); got < 400 || got > 600 || a.Load()+got != l.Requests {
		t.Errorf("GET %d, POST with body and header %d, total %d: want ~1500/500", a.Load(), got, l.Requests)
	}
	// Each target's part counts exactly what its server saw.
	if len(l.PerTarget) != 2 || l.PerTarget[0].Name != "GET /a" || l.PerTarget[1].Name != "POST /b" ||
		l.PerTarget[0].Requests != a.Load() || l.PerTarget[1].Requests != b.Load() {
		t.Fatalf("per target %+v; want GET /a %d and POST /b %d", l.PerTarget, a.Load(), b.Load())
	}
	for _, pt := range l.PerTarget {
		h, err := hist.Decode(pt.Latency)
		if err != nil || h.Count() != pt.Requests || pt.LatencyMS.P99 <= 0 {
			t.Errorf("%s: histogram of %v requests (%v), p99 %v; want %d", pt.Name, h, err, pt.LatencyMS.P99, pt.Requests)
		}
		// Rates within 1 %: the measured period is 2 s.
		if want := float64(pt.Requests) / l.DurationS; math.Abs(pt.AchievedRPS-want) > want/100 {
			t.Errorf("%s: achieved %v req/s, want %v", pt.Name, pt.AchievedRPS, want)
		}
	}
}

func TestTargetPattern(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, url string
		host        bool
		want        string
	}{
		{"GET", "http://h/api/posts/42?limit=20", false, "GET /api/posts/{n}"},
		{"GET", "http://h/api/posts/7/comments/9", false, "GET /api/posts/{n}/comments/{n}"},
		{"PUT", "http://h/u/0b8e5f4c-7d1e-4a4e-9a7a-2f3e1d9c8b7a", false, "PUT /u/{uuid}"},
		{"GET", "http://h/blob/9f86d081884c7d659a2feaa0c55ad015", false, "GET /blob/{hex}"},
		{"GET", "http://h/v2/cafe", false, "GET /v2/cafe"},
		{"GET", "http://h", false, "GET /"},
		{"GET", "https://a:8443/x/1", true, "GET https://a:8443/x/{n}"},
		{"GET", "http://u:secret@h/x", true, "GET http://h/x"},
	} {
		if got := TargetPattern(tc.method, tc.url, tc.host); got != tc.want {
			t.Errorf("TargetPattern(%s, %s, %v) = %q, want %q", tc.method, tc.url, tc.host, got, tc.want)
		}
	}
	names, groupOf := targetGroups([]Target{{Method: "GET", URL: "http://h/p/1"}, {Method: "GET", URL: "http://h/p/2"}, {Method: "GET", URL: "http://h/"}})
	if !reflect.DeepEqual(names, []string{"GET /p/{n}", "GET /"}) || !reflect.DeepEqual(groupOf, []int{0, 0, 1}) {
		t.Errorf("targetGroups = %v %v", names, groupOf)
	}
	if names, _ := targetGroups([]Target{{Method: "GET", URL: "http://h/p/1"}, {Method: "GET", URL: "http://h/p/2"}}); names != nil {
		t.Errorf("one pattern made parts %v", names)
	}
	var many []Target
	for i := range MaxTargetGroups + 5 {
		many = append(many, Target{Method: "GET", URL: fmt.Sprintf("http://h/p%d", i)})
	}
	names, groupOf = targetGroups(many)
	if len(names) != MaxTargetGroups+1 || names[MaxTargetGroups] != "other" || groupOf[len(many)-1] != MaxTargetGroups {
		t.Errorf("%d patterns: %d parts, last %q", len(many), len(names), names[len(names)-1])
	}
}

func FuzzTargetPattern(f *testing.F) {
	f.Add("GET", "http://h/api/posts/42?limit=20", false)
	f.Add("PUT", "http://h/u/0b8e5f4c-7d1e-4a4e-9a7a-2f3e1d9c8b7a", true)
	f.Add("GET", "%zz", true)
	f.Fuzz(func(t *testing.T, method, url string, host bool) {
		p := TargetPattern(method, url, host)
		if !strings.HasPrefix(p, method+" ") {
			t.Fatalf("TargetPattern(%q, %q) = %q: no method", method, url, p)
		}
	})
}

// TestLargeBodiesAcrossTwoServers sends 4 MiB request bodies (more than a socket takes at once,
// so writes go out in parts) to one server and GETs to another, on every engine: connections
// switch between the two addresses, and every body must arrive whole.
func TestLargeBodiesAcrossTwoServers(t *testing.T) {
	t.Parallel()
	// 1 MiB: many writes and reads for every engine, yet cheap enough under the race detector,
	// which checks every byte a syscall moves (4 MiB let CI send only 4 requests in 10 s).
	body := strings.Repeat("0123456789abcdef", 1<<16)
	eachEngine(t, allEngines, func(t *testing.T, ec engineCase) {
		var whole, broken, gets atomic.Int64
		posts := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			if b, err := io.ReadAll(r.Body); err == nil && string(b) == body {
				whole.Add(1)
			} else {
				broken.Add(1)
			}
		}))
		defer posts.Close()
		other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { gets.Add(1) }))
		defer other.Close()
		l := run(t, t.Context(), ec.config(Config{Targets: []Target{
			{URL: posts.URL, Method: "POST", Body: body, Weight: 1},
			{URL: other.URL, Weight: 3},
		}, Arrival: Arrival{Rate: 20}, Duration: time.Second, Connections: 4}))
		// A slow machine may leave some of the open model's requests unsent (every connection
		// busy until the end): that is not what this test checks. Everything sent must arrive.
		// Targets are drawn at random, a GET three times in four: even if only 4 requests are
		// sent, all POSTs is a 1-in-256 draw (CI once sent 5 of 10 at even weights, all POSTs).
		sent := l.Requests - l.ErrorsByKind["unsent"]
		if l.Errors != l.ErrorsByKind["unsent"] || whole.Load() == 0 || gets.Load() == 0 || broken.Load() != 0 || whole.Load()+gets.Load() != sent {
			t.Errorf("%d requests sent, errors %v; server saw %d whole bodies, %d broken, %d GETs: want both servers served, nothing broken",
				sent, l.ErrorsByKind, whole.Load(), broken.Load(), gets.Load())
		}
	})
}

// TestErrorKindsAndBoundedEnd points the generator at targets that misbehave in each way and
// checks that errors are counted by kind and the run ends on time: duration + the request timeout.
func TestErrorKindsAndBoundedEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachEngine(t, allEngines, func(t *testing.T, ec engineCase) { testErrorKindAndBoundedEnd(t, ec, tc.serve, tc.kind) })
		})
	}
}

// engineCase is one way for the fast path to move bytes, with the load that makes it do so.
type engineCase struct {
	name   string
	path   fastPath
	closed bool // the closed model at full speed, a user per connection, instead of the test's load
}

var (
	// loopEngines run the tests' own load on event loops: on io_uring where the kernel has it, and
	// on epoll.
	loopEngines = []engineCase{{"loops", pathAuto, false}, {"loops-epoll", pathEpoll, false}}
	// openEngines run the tests' own load: event loops, and a goroutine per connection.
	openEngines = slices.Concat(loopEngines, []engineCase{{"goroutines", pathGoroutines, false}})
	// fullSpeedEngines run the closed model at full speed: io_uring where the kernel has it, and
	// epoll with its spin.
	fullSpeedEngines = []engineCase{{"full-speed", pathAuto, true}, {"full-speed-epoll", pathEpoll, true}}
	allEngines       = slices.Concat(openEngines, fullSpeedEngines)
)

// config returns cfg as ec runs it.
func (ec engineCase) config(cfg Config) Config {
	cfg.path = ec.path
	if ec.closed {
		cfg.Model, cfg.Users, cfg.Arrival = "closed", cfg.Connections, Arrival{}
	}
	return cfg
}

// eachEngine runs test once per engine, in parallel.
func eachEngine(t *testing.T, engines []engineCase, test func(t *testing.T, ec engineCase)) {
	for _, ec := range engines {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			shareCPU(t, ec.closed)
			test(t, ec)
		})
	}
}

// errorCases are targets that misbehave in each way, and the kind of error each must count.
var errorCases = []struct {
	name  string
	serve func(c net.Conn) // nil: nothing listens
	kind  string
}{
	{"refused", nil, "refused"},
	{"hang", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, "timeout"},
	{"reset", func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() }, "reset"},
	{"garbage", func(c net.Conn) { readRequest(c); c.Write([]byte("SSH-2.0-OpenSSH\r\n\r\n")); c.Close() }, "protocol"},
	{"half answer", func(c net.Conn) {
		readRequest(c)
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
		c.Close()
	}, "closed"},
	{"huge body", func(c net.Conn) {
		readRequest(c)
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n"))
		c.Close()
	}, "body_too_large"},
	{"endless body", func(c net.Conn) {
		readRequest(c)
		c.Write([]byte("HTTP/1.1 200 OK\r\n\r\n"))
		chunk := make([]byte, 64<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}, "body_too_large"},
	{"endless chunked body", func(c net.Conn) {
		readRequest(c)
		c.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
		chunk := append(append([]byte("10000\r\n"), make([]byte, 64<<10)...), "\r\n"...)
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}, "body_too_large"},
	{"endless trailers", func(c net.Conn) { // each line is small and consumed: memory stays flat, the timeout ends it
		readRequest(c)
		c.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"))
		line := []byte("X-Trailer: " + strings.Repeat("t", 1000) + "\r\n")
		for {
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	}, "timeout"},
	{"status", func(c net.Conn) {
		for readRequest(c) {
			c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"))
		}
	}, "status_503"},
}

func testErrorKindAndBoundedEnd(t *testing.T, ec engineCase, serve func(net.Conn), kind string) {
	addr := serveRaw(t, serve)
	const timeout = 500 * time.Millisecond
	start := time.Now()
	l := run(t, t.Context(), ec.config(Config{Targets: []Target{{URL: "http://" + addr + "/"}}, Arrival: Arrival{Rate: 50},
		Duration: time.Second, Timeout: timeout, Connections: 4, MaxBody: 1 << 20}))
	took := time.Since(start)
	if took > time.Second+timeout+300*time.Millisecond {
		t.Errorf("run took %v, want ≤ duration + timeout (1.5 s) + 0.3 s slack", took)
	}
	if l.ErrorsByKind[kind] == 0 {
		t.Errorf("errors by kind %v: want some %q", l.ErrorsByKind, kind)
	}
	if l.Errors != l.Requests {
		t.Errorf("%d errors of %d requests: want every request to fail", l.Errors, l.Requests)
	}
}

// TestLargeAnswerHead checks that an answer whose head is larger than a connection's first read
// buffer (but within the 16 KiB limit) is read whole, on every engine.
func TestLargeAnswerHead(t *testing.T) {
	t.Parallel()
	eachEngine(t, allEngines, func(t *testing.T, ec engineCase) {
		cookie := strings.Repeat("c", 3*minRead)
		var answered atomic.Int64
		addr := serveRaw(t, func(c net.Conn) {
			for readRequest(c) {
				c.Write([]byte("HTTP/1.1 200 OK\r\nSet-Cookie: " + cookie + "\r\nContent-Length: 5\r\n\r\nhello"))
				answered.Add(1)
			}
		})
		l := run(t, t.Context(), ec.config(Config{Targets: []Target{{URL: "http://" + addr + "/"}}, Arrival: Arrival{Rate: 50},
			Duration: time.Second, Connections: 2}))
		wantSentAnswered(t, l, answered.Load())
	})
}

// readRequest reads one request head (and a small body, if any) from c.
func readRequest(c net.Conn) bool {
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for !strings.Contains(string(buf), "\r\n\r\n") {
		n, err := c.Read(tmp)
		if err != nil {
			return false
		}
		buf = append(buf, tmp[:n]...)
	}
	return true
}

// serveRaw listens on loopback and runs serve per connection; a nil serve leaves nothing
// listening at the returned address.
func serveRaw(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if serve == nil {
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { defer c.Close(); serve(c) })
		}
	})
	return ln.Addr().String()
}

func TestAnswersThatKeepWorking(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer string
	}{
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"},
		{"interim 100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"connection close", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"},
		{"http/1.0 until close", "HTTP/1.0 200 OK\r\n\r\nbody until close"},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachEngine(t, allEngines, func(t *testing.T, ec engineCase) { testAnswerKeepsWorking(t, ec, tc.answer) })
		})
	}
}

func testAnswerKeepsWorking(t *testing.T, ec engineCase, answer string) {
	closes := strings.Contains(answer, "close") || strings.HasPrefix(answer, "HTTP/1.0")
	addr := serveRaw(t, func(c net.Conn) {
		for readRequest(c) {
			c.Write([]byte(answer))
			if closes {
				return
			}
		}
	})
	l := run(t, t.Context(), ec.config(Config{Targets: []Target{{URL: "http://" + addr + "/"}}, Arrival: Arrival{Rate: 100}, Duration: time.Second, Connections: 4}))
	if l.Errors != 0 || l.Requests < 100 || !ec.closed && l.Requests != 100 {
		t.Errorf("requests %d errors %v, want 100 (at full speed: at least 100) and none", l.Requests, l.ErrorsByKind)
	}
}

func TestStaleKeepAliveIsRetried(t *testing.T) {
	t.Parallel()
	eachEngine(t, allEngines, testStaleKeepAliveIsRetried)
}

func testStaleKeepAliveIsRetried(t *testing.T, ec engineCase) {
	// The server closes each connection after one answer without saying so: the generator finds
	// out on its next write or read and must send again on a fresh connection, not count an error.
	var answered atomic.Int64
	addr := serveRaw(t, func(c net.Conn) {
		if readRequest(c) {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
			answered.Add(1)
		}
	})
	l := run(t, t.Context(), ec.config(Config{Targets: []Target{{URL: "http://" + addr + "/"}}, Arrival: Arrival{Rate: 50}, Duration: time.Second, Connections: 2}))
	wantSentAnswered(t, l, answered.Load())
}

// wantSentAnswered checks a one-second run at 50 req/s: every request sent was answered, at least
// half of them were sent, and no error but "unsent" was counted. Under the race detector beside
// the package's other tests the generator can fall behind and leave some of the open model's
// requests unsent, which is not what the callers check.
func wantSentAnswered(t *testing.T, l *result.Load, answered int64) {
	t.Helper()
	sent := l.Requests - l.ErrorsByKind["unsent"]
	if l.Errors != l.ErrorsByKind["unsent"] || sent < 25 || answered < sent {
		t.Errorf("%d requests sent, %d answered, errors %v; want at least 25 sent, all answered, no error", sent, answered, l.ErrorsByKind)
	}
}

func TestMemoryStaysFlatOnHugeBodies(t *testing.T) {
	t.Parallel()
	shareCPU(t, false)
	addr := serveRaw(t, func(c net.Conn) {
		chunk := make([]byte, 256<<10)
		for readRequest(c) {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 32*len(chunk))
			for range 32 {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := run(t, t.Context(), Config{Targets: []Target{{URL: "http://" + addr + "/"}}, Arrival: Arrival{Rate: 20}, Duration: time.Second, Connections: 4})
	runtime.ReadMemStats(&after)
	// 20 answers of 8 MiB went through; the heap may grow by buffers, not by bodies: < 32 MiB.
	if l.Errors != 0 {
		t.Errorf("errors %v", l.ErrorsByKind)
	}
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 32<<20 {
		t.Errorf("heap grew by %d MiB while discarding 160 MiB of bodies", grew>>20)
	}
}

func TestCancelEndsEarlyWithPartialResult(t *testing.T) {
	t.Parallel()
	eachEngine(t, allEngines, testCancelEndsEarlyWithPartialResult)
}

func testCancelEndsEarlyWithPartialResult(t *testing.T, ec engineCase) {
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select { // a slow target: cancellation must cut in-flight requests short
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	l := run(t, ctx, ec.config(Config{Targets: []Target{{URL: srv.URL}}, Arrival: Arrival{Rate: 100}, Duration: 30 * time.Second, Connections: 8}))
	if took := time.Since(start); took > 2500*time.Millisecond {
		t.Errorf("canceled run returned after %v, want about 1.5 s", took)
	}
	if !l.Partial {
		t.Error("canceled run not marked partial")
	}
	if l.DurationS < 1.4 || l.DurationS > 1.7 {
		t.Errorf("duration_s = %v, want the 1.5 s that ran", l.DurationS)
	}
	if _, err := hist.Decode(l.Histograms.Latency); err != nil {
		t.Errorf("partial result has no valid histogram: %v", err)
	}
}

func TestNoGoroutineLeaks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	for _, model := range []Model{ModelOpen, ModelClosed} {
		cfg := Config{Targets: []Target{{URL: srv.URL}}, Model: model, Duration: 500 * time.Millisecond, Connections: 16}
		if model == "open" {
			cfg.Arrival.Rate = 200
		} else {
			cfg.Connections = 0
		}
		run(t, t.Context(), cfg)
	}
	srv.Close()
	goleak.VerifyNone(t, opts...)
}

func TestTLSAndHTTP2(t *testing.T) {
	t.Parallel()
	shareCPU(t, false)
	var h2 atomic.Int64
	h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		}
	})
	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below are expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	l := run(t, t.Context(), Config{Targets: []Target{{URL: tlsSrv.URL}}, Arrival: Arrival{Rate: 100}, Duration: time.Second, Insecure: true})
	if l.Errors != 0 || h2.Load() != l.Requests {
		t.Errorf("https: %d requests, %d over HTTP/2, errors %v", l.Requests, h2.Load(), l.ErrorsByKind)
	}
	// Without --insecure the test certificate is refused: errors of kind tls.
	l = run(t, t.Context(), Config{Targets: []Target{{URL: tlsSrv.URL}}, Arrival: Arrival{Rate: 20}, Duration: 500 * time.Millisecond})
	if l.ErrorsByKind["tls"] == 0 {
		t.Errorf("untrusted certificate: errors %v, want kind tls", l.ErrorsByKind)
	}

	h2.Store(0)
	h2c := httptest.NewUnstartedServer(h)
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetHTTP1(true)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	defer h2c.Close()
	l = run(t, t.Context(), Config{Targets: []Target{{URL: h2c.URL}}, Arrival: Arrival{Rate: 100}, Duration: time.Second, HTTP2: true})
	if l.Errors != 0 || h2.Load() != l.Requests {
		t.Errorf("h2c: %d requests, %d over HTTP/2, errors %v", l.Requests, h2.Load(), l.ErrorsByKind)
	}
}

func TestValidateNamesTheBadValue(t *testing.T) {
	t.Parallel()
	ok := Target{URL: "http://127.0.0.1:1/"}
	for _, tc := range []struct {
		cfg     Config
		field   string // the *fielderr.Error's Field; "" for an error about a target
		mention string
	}{
		{Config{Duration: time.Second, Arrival: Arrival{Rate: 1}}, "Targets", "empty"},
		{Config{Targets: []Target{{URL: "ftp://x/"}}, Duration: time.Second, Arrival: Arrival{Rate: 1}}, "", `"ftp://x/"`},
		{Config{Targets: []Target{{URL: "http://"}}, Duration: time.Second, Arrival: Arrival{Rate: 1}}, "", "no host"},
		{Config{Targets: []Target{{URL: "http://h:99999/"}}, Duration: time.Second, Arrival: Arrival{Rate: 1}}, "", `"99999"`},
		{Config{Targets: []Target{{URL: "http://h/", Method: "GE T"}}, Duration: time.Second, Arrival: Arrival{Rate: 1}}, "", `"GE T"`},
		{Config{Targets: []Target{ok}, Duration: 0, Arrival: Arrival{Rate: 1}}, "Duration", "0s"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Rate: -5}}, "Arrival.Rate", "-5"},
		{Config{Targets: []Target{ok}, Duration: 2562047 * time.Hour, Warmup: time.Hour, Arrival: Arrival{Rate: 10}}, "Duration", "2562047h0m0s with a warm-up of 1h0m0s"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Timeout: 2562047 * time.Hour, Arrival: Arrival{Rate: 10}}, "Timeout", "2562047h0m0s"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Kind: "zigzag", Rate: 5}}, "Arrival.Kind", `"zigzag"`},
		{Config{Targets: []Target{ok}, Duration: time.Second, Model: "half-open"}, "Model", `"half-open"`},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Kind: ArrivalBursts, Rate: 5, Factor: 0.5}}, "Arrival.Factor", "0.5"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Kind: ArrivalBursts, Rate: 5, Length: 2 * time.Second, Period: time.Second}}, "Arrival.Length", "2s"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Kind: ArrivalSine, Rate: 5, Amplitude: 9}}, "Arrival.Amplitude", "9"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Kind: ArrivalSteps}}, "Arrival.Steps", "empty"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Connections: -1, Arrival: Arrival{Rate: 1}}, "Connections", "-1"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Model: ModelClosed, Users: MaxConnections + 1}, "Users", "100001"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Rate: 1}, Shard: Shard{Index: 4, Count: 4}}, "Shard", "4/4: want an index from 0 to 3"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Rate: 1}, Shard: Shard{Index: 1, Count: 0}}, "Shard", "1/0: want a count"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Rate: 1}, Shard: Shard{Index: 1, Count: 2}, Requests: 10}, "Shard", "with Requests"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Model: ModelClosed, Shard: Shard{Index: 1, Count: 2}}, "Shard", "closed model"},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Rate: 1}, SamplesFormat: "xml"}, "SamplesFormat", `"xml": want one of csv, jsonl`},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Rate: 1}, SamplesFields: []SamplesField{{Name: "Step"}}}, "SamplesFields", `"Step"`},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Rate: 1}, SamplesFields: []SamplesField{{Name: "a,b"}}}, "SamplesFields", `"a,b"`},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Rate: 1}, SamplesFields: []SamplesField{{Name: "status"}}}, "SamplesFields", `"status": a sample already has`},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Rate: 1}, SamplesFields: []SamplesField{{Name: "step"}, {Name: "step"}}}, "SamplesFields", `"step": a sample already has`},
		{Config{Targets: []Target{ok}, Duration: time.Second, Arrival: Arrival{Rate: 1}, SamplesFields: []SamplesField{{Name: "step", Value: math.Inf(1)}}}, "SamplesFields", "step = +Inf: want a finite number"},
	} {
		err := tc.cfg.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("Validate(%+v) = %v, want an ErrConfig mentioning %s", tc.cfg, err, tc.mention)
			continue
		}
		var fe *fielderr.Error
		if got := errors.As(err, &fe); got != (tc.field != "") || got && fe.Field != tc.field {
			t.Errorf("Validate(%+v) = %#v, want a *fielderr.Error of field %q", tc.cfg, err, tc.field)
		}
	}
}

// TestValidateChangesNothing: Validate checks the config Run would use, with its defaults, but
// leaves the caller's as it is; WithDefaults returns the defaults in one place.
func TestValidateChangesNothing(t *testing.T) {
	t.Parallel()
	cfg := Config{Targets: []Target{{URL: "http://127.0.0.1:1/"}}, Arrival: Arrival{Kind: ArrivalBursts, Rate: 5}, Duration: time.Second}
	before := fmt.Sprintf("%+v", cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if after := fmt.Sprintf("%+v", cfg); after != before {
		t.Errorf("Validate changed the config:\n%s\nto\n%s", before, after)
	}
	d := cfg.WithDefaults()
	want := Config{
		Targets: []Target{{Method: "GET", URL: "http://127.0.0.1:1/", Weight: WeightDefault}}, Model: ModelDefault,
		Arrival:  Arrival{Kind: ArrivalBursts, Rate: 5, Factor: BurstFactorDefault, Length: BurstLengthDefault, Period: PeriodDefault, Seed: SeedDefault},
		Duration: time.Second, Connections: ConnectionsDefault, Timeout: TimeoutDefault, MaxBody: MaxBodyDefault,
	}
	if fmt.Sprintf("%+v", d) != fmt.Sprintf("%+v", want) {
		t.Errorf("WithDefaults:\n%+v\nwant\n%+v", d, want)
	}
	if cfg.Targets[0].Weight != 0 {
		t.Errorf("WithDefaults changed the caller's targets: %+v", cfg.Targets)
	}
	closed := Config{Model: ModelClosed, Users: 3, Connections: 50}.WithDefaults()
	if closed.Connections != 3 || !reflect.DeepEqual(closed.Arrival, Arrival{}) {
		t.Errorf("closed model: connections %d, arrival %+v; want the users' 3 and no arrival defaults", closed.Connections, closed.Arrival)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := newRecorder(0, nil)
	s := sample{due: time.Second, pickup: time.Second, sent: time.Second, done: time.Second + 3*time.Millisecond, status: 200}
	for b.Loop() {
		r.record(&s)
	}
}

func BenchmarkTraceparent(b *testing.B) {
	var dst [55]byte
	var tr [16]byte
	for i := range b.N {
		traceparent(&dst, &tr, uint64(i))
	}
}

func TestVerdict(t *testing.T) {
	t.Parallel()
	ok := result.Load{Requests: 1000, OfferedRPS: 100, Generator: result.Generator{Cores: 2, AchievedRatio: 1, Connections: 64}}
	for _, tc := range []struct {
		name    string
		mutate  func(l *result.Load)
		valid   bool
		mention string
	}{
		{"healthy", func(*result.Load) {}, true, ""},
		{"nothing measured", func(l *result.Load) { l.Requests = 0 }, false, "no request"},
		{"cpu bound", func(l *result.Load) { l.Generator.CPUUtilization = 0.95 }, false, "95% of its 2 cores"},
		{"late sends", func(l *result.Load) { l.Generator.DispatchLagMS.P99, l.Generator.LateDispatches = 25, 12 }, false, "dispatch lag p99 was 25.0 ms (limit 10ms; 12 requests"},
		{"a few late sends are a note", func(l *result.Load) { l.Generator.DispatchLagMS.P99, l.Generator.LateDispatches = 25, 2 }, true, "2 requests were sent over 10ms late"},
		{"fell behind with free connections", func(l *result.Load) { l.Generator.AchievedRatio = 0.8 }, false, "80.0% of the offered rate"},
		{"target slow: queueing is a note", func(l *result.Load) {
			l.Generator.AchievedRatio, l.Generator.QueuedShare, l.Generator.QueueWaitMS.P99 = 0.8, 0.3, 900
		}, true, "30.0% of requests waited"},
		{"unsent is a note", func(l *result.Load) { l.ErrorsByKind = map[string]int64{"unsent": 7} }, true, "7 requests were due but never sent"},
		{"never answered", func(l *result.Load) {
			l.Errors, l.ErrorsByKind = 1000, map[string]int64{"refused": 990, "timeout": 10}
		}, false, "no request was answered: connection refused ×990, timed out ×10"},
		{"statuses are answers", func(l *result.Load) { l.Errors, l.ErrorsByKind = 1000, map[string]int64{"status_500": 1000} }, true, ""},
		{"interrupted is not the generator", func(l *result.Load) {
			l.Partial, l.DurationS, l.Errors, l.ErrorsByKind = true, 2, 40, map[string]int64{KindInterrupted: 40}
			l.Generator.AchievedRatio = 0.1
		}, false, "the run was interrupted after 2.0 s of measurement: 40 requests in flight"},
	} {
		l := ok
		tc.mutate(&l)
		v := verdict(&l, "open")
		all := strings.Join(append(v.Reasons, v.Notes...), "; ")
		if v.Valid != tc.valid || !strings.Contains(all, tc.mention) || tc.name == "interrupted is not the generator" && strings.Contains(all, "generator") {
			t.Errorf("%s: valid %v (%s), want %v mentioning %q", tc.name, v.Valid, all, tc.valid, tc.mention)
		}
	}
}

// TestPoissonShortfallIsNotTheGenerator: a Poisson run draws fewer (or more) arrivals than its
// mean by chance; the achieved ratio must compare with the arrivals drawn.
func TestPoissonShortfallIsNotTheGenerator(t *testing.T) {
	t.Parallel()
	shareCPU(t, false)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	for seed := uint64(1); seed <= 3; seed++ {
		l := run(t, t.Context(), Config{Targets: []Target{{URL: srv.URL}}, Arrival: Arrival{Kind: "poisson", Rate: 100, Seed: seed}, Duration: time.Second})
		if l.Generator.AchievedRatio < 0.99 {
			t.Errorf("seed %d: achieved ratio %.3f with %d requests drawn: want ~1", seed, l.Generator.AchievedRatio, l.Requests)
		}
	}
}

// BenchmarkRecordMixed is BenchmarkRecord for a run of two targets, each with its own part.
func BenchmarkRecordMixed(b *testing.B) {
	r := newRecorder(0, []Target{{Method: "GET", URL: "http://h/a"}, {Method: "GET", URL: "http://h/b"}})
	s := sample{due: time.Second, pickup: time.Second, sent: time.Second, done: time.Second + 3*time.Millisecond, status: 200, target: 1}
	for b.Loop() {
		r.record(&s)
	}
}
