package faas_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab/faas"
)

// blockCalls starts n concurrent /block calls, waits until the function has want busy
// instances, and returns a function that releases the calls and returns their answers.
func blockCalls(t *testing.T, p *faas.Platform, srv *httptest.Server, fn string, n, want int) func() []answer {
	t.Helper()
	release := filepath.Join(t.TempDir(), "release")
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = call(t, srv, "/fn/"+fn+"/block?file="+release) })
	}
	waitFor(t, "the calls on instances", func() bool { s, _ := p.Stats(fn); return s.Busy == want })
	return func() []answer {
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		return answers
	}
}

// TestProvisioned: K provisioned instances are ready before any invocation, serve the first K
// concurrent invocations warm, the (K+1)th spills over to a cold on-demand instance, the janitor
// reclaims that one and never the provisioned ones, and their GB-s accrue with time.
func TestProvisioned(t *testing.T) {
	t.Parallel()
	const k = 2
	fn := testFunction(t, "prov")
	fn.Provisioned = k
	fn.Concurrency = k + 1
	fn.IdleTimeout = 100 * time.Millisecond
	fn.Timeout = 30 * time.Second
	before := time.Now()
	p, srv, reg := newPlatform(t, fn)
	after := time.Now()
	waitFor(t, "the provisioned instances ready", func() bool {
		s, _ := p.Stats("prov")
		return s.Provisioned == k && s.Idle == k && s.Busy == 0
	})
	if got := counter(t, reg, "headroom_faas_invocations_total"); got != 0 {
		t.Fatalf("%v invocations before any call, want 0", got)
	}
	if got := counter(t, reg, "headroom_faas_provisioned_instances"); got != k {
		t.Errorf("provisioned gauge %v, want %d", got, k)
	}

	done := blockCalls(t, p, srv, "prov", k, k)
	spill := call(t, srv, "/fn/prov/echo")
	if spill.status != 200 || spill.header.Get("Faas-Coldstart") != "true" {
		t.Errorf("call %d: %+v, want 200 cold (spilled over to on-demand)", k+1, spill)
	}
	for i, a := range done() {
		if a.status != 200 || a.header.Get("Faas-Coldstart") != "false" {
			t.Errorf("concurrent call %d: %+v, want 200 warm on a provisioned instance", i, a)
		}
	}
	if got := counter(t, reg, "headroom_faas_billed_gigabyte_seconds_total", "provisioned", "true"); got < k*0.001*0.125 {
		t.Errorf("billed on provisioned instances %v GB-s, want at least %d × 1 ms × 0.125 GB", got, k)
	}

	// The on-demand instance goes, the provisioned ones stay, however long they idle.
	waitFor(t, "the on-demand instance reclaimed", func() bool { s, _ := p.Stats("prov"); return s.Idle == k })
	time.Sleep(3 * fn.IdleTimeout)
	start := time.Now()
	s, _ := p.Stats("prov")
	end := time.Now()
	if s.Idle != k || s.Provisioned != k {
		t.Errorf("after 3 idle timeouts: %+v, want the %d provisioned instances idle", s, k)
	}
	if got := counter(t, reg, "headroom_faas_cold_starts_total"); got != 1 {
		t.Errorf("%v cold starts, want 1 (the spill-over)", got)
	}
	// Provisioned GB-s: K × 128 MB × the time since New, bounded by what the test saw of it.
	gb := float64(k) * 128 / 1024
	if lo, hi := gb*start.Sub(after).Seconds(), gb*end.Sub(before).Seconds(); s.ProvisionedGBSeconds < lo || s.ProvisionedGBSeconds > hi {
		t.Errorf("provisioned %v GB-s, want %v to %v", s.ProvisionedGBSeconds, lo, hi)
	}
	if got := counter(t, reg, "headroom_faas_provisioned_gigabyte_seconds_total"); got < s.ProvisionedGBSeconds {
		t.Errorf("provisioned GB-s metric %v, want at least Stats' earlier %v", got, s.ProvisionedGBSeconds)
	}
}

// TestProvisionedReplaced: a provisioned instance that crashes is replaced by another
// provisioned one (not a cold start), which serves the next invocation warm.
func TestProvisionedReplaced(t *testing.T) {
	t.Parallel()
	fn := testFunction(t, "provcrash")
	fn.Provisioned = 1
	fn.Concurrency = 1
	p, srv, reg := newPlatform(t, fn)
	ready := func() bool { s, _ := p.Stats("provcrash"); return s.Provisioned == 1 && s.Idle == 1 }
	waitFor(t, "the provisioned instance ready", ready)
	wantError(t, call(t, srv, "/fn/provcrash/crash"), 502, "provcrash", "crashed")
	waitFor(t, "the provisioned instance replaced", ready)
	if a := call(t, srv, "/fn/provcrash/echo"); a.status != 200 || a.header.Get("Faas-Coldstart") != "false" {
		t.Errorf("after the crash: %+v, want 200 warm on the replacement", a)
	}
	if got := counter(t, reg, "headroom_faas_cold_starts_total"); got != 0 {
		t.Errorf("%v cold starts, want 0", got)
	}
}

// syncBuffer is a log destination the platform's goroutines may write concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestProvisionedStartFails: a provisioned instance whose init fails is retried with backoff,
// 6 attempts in all (about 3 s), then its slot is given up and the function serves on demand.
func TestProvisionedStartFails(t *testing.T) {
	t.Parallel()
	fn := testFunction(t, "provfail")
	fn.Env = append(fn.Env, "TEST_INIT_FAIL=1")
	fn.Provisioned = 1
	var log syncBuffer
	p, err := faas.New(faas.Config{Functions: []faas.Function{fn}, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	waitFor(t, "the slot given up", func() bool { s, _ := p.Stats("provfail"); return s.Busy == 0 })
	out := log.String()
	if n := strings.Count(out, "retrying"); n != 5 || !strings.Contains(out, "giving its slot up") || !strings.Contains(out, "cannot open the database") {
		t.Errorf("log:\n%s\nwant 5 retries, then giving up, with init's error", out)
	}
	if s, _ := p.Stats("provfail"); s.Provisioned != 0 || s.Idle != 0 {
		t.Errorf("after giving up: %+v, want no instance", s)
	}
}

// TestKeepWarm: K pings every KeepWarmEvery keep K instances past the idle timeout (no instance
// started again), the next K concurrent invocations are warm, and the pings are invocations
// counted and billed that never reach the handler.
func TestKeepWarm(t *testing.T) {
	t.Parallel()
	const k = 2
	fn := testFunction(t, "warmed")
	fn.KeepWarm = k
	fn.IdleTimeout = time.Second // pings every 500 ms (the default, half of it)
	fn.Timeout = 30 * time.Second
	p, srv, reg := newPlatform(t, fn)
	pings := func() float64 { return counter(t, reg, "headroom_faas_invocations_total", "trigger", "timer") }
	waitFor(t, "the first round of pings", func() bool { s, _ := p.Stats("warmed"); return pings() >= k && s.Idle == k })
	if got := counter(t, reg, "headroom_faas_cold_starts_total"); got != k {
		t.Fatalf("%v cold starts after the first round, want %d: the pings did not overlap", got, k)
	}
	// Past the idle timeout; then act right after a round, when the pings hold no instance.
	time.Sleep(fn.IdleTimeout + fn.IdleTimeout/4)
	n := pings()
	waitFor(t, "a round of pings just done", func() bool { s, _ := p.Stats("warmed"); return pings() >= n+k && s.Busy == 0 })
	if s, _ := p.Stats("warmed"); s.Idle != k {
		t.Errorf("after the idle timeout: %d idle, want %d kept warm", s.Idle, k)
	}
	if got := counter(t, reg, "headroom_faas_cold_starts_total"); got != k {
		t.Errorf("%v cold starts, want %d: an instance was reclaimed and started again", got, k)
	}
	// An instance that has answered every round of pings: its handler's first call is this one.
	if a := call(t, srv, "/fn/warmed/calls"); a.status != 200 || a.body != "1" {
		t.Errorf("/calls: %+v, want 1: the pings reached the handler", a)
	}
	done := blockCalls(t, p, srv, "warmed", k, k)
	for i, a := range done() {
		if a.status != 200 || a.header.Get("Faas-Coldstart") != "false" {
			t.Errorf("concurrent call %d: %+v, want 200 warm", i, a)
		}
	}
	// Counted by trigger, and billed: 1 ms at least each, at 128 MB.
	ok := counter(t, reg, "headroom_faas_invocations_total", "trigger", "timer", "outcome", "ok")
	if ok < 2*k {
		t.Errorf("%v pings ok, want at least %d", ok, 2*k)
	}
	https := counter(t, reg, "headroom_faas_invocations_total", "trigger", "http")
	if got := counter(t, reg, "headroom_faas_billed_gigabyte_seconds_total"); got < (ok+https)*0.001*0.125 {
		t.Errorf("billed %v GB-s, want at least %v pings and %v calls × 1 ms × 0.125 GB", got, ok, https)
	}
}

func TestRemedyConfig(t *testing.T) {
	t.Parallel()
	fn := testFunction(t, "x")
	fn.Concurrency = 2
	fn.Provisioned = 3
	fn.KeepWarm = -1
	bad := testFunction(t, "y")
	bad.KeepWarmEvery = time.Minute
	_, err := faas.New(faas.Config{Functions: []faas.Function{fn, bad}})
	if !errors.Is(err, faas.ErrConfig) {
		t.Fatalf("err %v, want ErrConfig", err)
	}
	for _, want := range []string{"Functions[0].Provisioned 3: want 0 to Concurrency (2)", "Functions[0].KeepWarm -1: want 0 to Concurrency (2)",
		"Functions[1].KeepWarmEvery 1m0s without KeepWarm"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	// A pinger slower than the idle timeout is allowed, with a warning.
	slow := testFunction(t, "slow")
	slow.KeepWarm = 1
	slow.IdleTimeout = time.Minute
	slow.KeepWarmEvery = time.Minute
	var log syncBuffer
	p, err := faas.New(faas.Config{Functions: []faas.Function{slow}, Logger: slog.New(slog.NewTextHandler(&log, nil)),
		Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Close(context.Background())
	if !strings.Contains(log.String(), "cannot keep instances warm") {
		t.Errorf("log %q, want a warning about the pinger's period", log.String())
	}
	if got := p.Config().Functions[0].KeepWarmEvery; got != time.Minute {
		t.Errorf("KeepWarmEvery %v, want as set", got)
	}
	d, err := faas.New(faas.Config{Functions: []faas.Function{{Name: "d", Command: []string{"true"}, KeepWarm: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close(context.Background())
	if got := d.Config().Functions[0].KeepWarmEvery; got != faas.IdleTimeoutDefault/2 {
		t.Errorf("default KeepWarmEvery %v, want half the idle timeout", got)
	}
}
