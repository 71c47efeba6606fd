package isolate_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/isolate"
)

// testCacheDir is the compilation cache the tests share across runs: compiling a Go module
// takes seconds (more under -race), loading it from the cache tens of milliseconds. wazero
// keys entries by its version and the module's hash and writes them atomically.
var testCacheDir = filepath.Join(os.TempDir(), "headroom-isolate-test-wazero")

var guestBuild struct {
	once sync.Once
	wasm []byte
	err  error
}

// testGuest builds internal/testguest for wasip1 (once per test binary).
func testGuest(t testing.TB) []byte {
	t.Helper()
	guestBuild.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			guestBuild.err = fmt.Errorf("the go command builds the test module: %w", err)
			return
		}
		out := filepath.Join(t.TempDir(), "testguest.wasm")
		cmd := exec.Command(goBin, "build", "-trimpath", "-buildmode=c-shared", "-o", out, "./internal/testguest")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			guestBuild.err = fmt.Errorf("go build testguest: %w\n%s", err, b)
			return
		}
		guestBuild.wasm, guestBuild.err = os.ReadFile(out)
	})
	if guestBuild.err != nil {
		t.Fatal(guestBuild.err)
	}
	return guestBuild.wasm
}

func newRuntime(t testing.TB, cfg isolate.Config) *isolate.Runtime {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = testCacheDir
	}
	if cfg.CPULimit == 0 {
		// The limit is wall time of the call: under -race on a loaded machine a call can take
		// past the default 50 ms. TestCPULimit sets its own.
		cfg.CPULimit = 5 * time.Second
	}
	r, err := isolate.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// guestFunction loads the test module into a new runtime configured by cfg.
func guestFunction(t testing.TB, cfg isolate.Config) (*isolate.Runtime, *isolate.Function) {
	t.Helper()
	wasm := testGuest(t)
	r := newRuntime(t, cfg)
	f, err := r.Load(context.Background(), "testguest", wasm)
	if err != nil {
		t.Fatal(err)
	}
	return r, f
}

func get(target string) *isolate.Request {
	path, query, _ := strings.Cut(target, "?")
	return &isolate.Request{Method: "GET", Path: path, Query: query, ClientAddr: "127.0.0.1:40000"}
}

func call(t testing.TB, f *isolate.Function, target string) (isolate.Decision, isolate.CallStats, error) {
	t.Helper()
	return f.Call(t.Context(), isolate.PhaseRequest, get(target))
}

// mustServe checks the function still answers after a failure.
func mustServe(t *testing.T, f *isolate.Function) {
	t.Helper()
	d, _, err := call(t, f, "/ok")
	if err != nil || d.Action != isolate.ActionContinue {
		t.Fatalf("after the failure, /ok = %v, %v; want continue", d.Action, err)
	}
}

func TestWarmInstanceReused(t *testing.T) {
	t.Parallel()
	r, f := guestFunction(t, isolate.Config{})
	_, st, err := call(t, f, "/ok")
	if err != nil || !st.Cold || st.Instantiate <= 0 {
		t.Fatalf("first call: %+v, %v; want cold with an instantiate time", st, err)
	}
	_, st, err = call(t, f, "/ok")
	if err != nil || st.Cold || st.Instantiate != 0 || st.Call <= 0 {
		t.Fatalf("second call: %+v, %v; want warm", st, err)
	}
	if got := r.Stats(); got.Idle != 1 || got.Busy != 0 || got.Max != 8 {
		t.Errorf("Stats = %+v, want 1 idle, 0 busy, max 8 (1 GiB / 128 MiB)", got)
	}
	if got := f.Stats(); got.Idle != 1 {
		t.Errorf("Function.Stats = %+v, want 1 idle", got)
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	// Zeroing and collecting 100 MiB takes longer than the default CPU limit under -race.
	r, f := guestFunction(t, isolate.Config{MemoryLimit: 64 << 20, CPULimit: 10 * time.Second})
	for _, target := range []string{
		"/alloc?mb=100", // grows step by step into the cap
		"/big?mb=512",   // one allocation past it, refused while memory is still small
	} {
		d, _, err := call(t, f, target)
		if !errors.Is(err, isolate.ErrMemoryLimit) {
			t.Fatalf("%s: %v, %v; want ErrMemoryLimit", target, d.Action, err)
		}
		if got := isolate.Outcome(d, err); got != "memory_limit" {
			t.Errorf("Outcome = %q", got)
		}
		t.Logf("%s: %v", target, err)
		if st := r.Stats(); st.Idle+st.Busy != 0 {
			t.Errorf("%s: the failed instance was kept: %+v", target, st)
		}
		mustServe(t, f)
	}
	d, _, err := call(t, f, "/alloc?mb=16") // well under the cap: fine
	if err != nil || d.Status != 200 {
		t.Fatalf("16 MiB under a 64 MiB cap: %v %v", d.Status, err)
	}
}

func TestCPULimit(t *testing.T) {
	t.Parallel()
	const limit = 50 * time.Millisecond
	// Generous for a loaded 2-core machine under -race: wazero checks the context at every
	// loop iteration, so the stop itself takes microseconds; the rest is scheduling.
	const tolerance = 500 * time.Millisecond
	_, f := guestFunction(t, isolate.Config{CPULimit: limit})
	mustServe(t, f) // the instance is started: the limit applies to the call alone
	start := time.Now()
	d, st, err := call(t, f, "/loop")
	took := time.Since(start)
	if !errors.Is(err, isolate.ErrCPULimit) || isolate.Outcome(d, err) != "cpu_limit" {
		t.Fatalf("/loop: %v; want ErrCPULimit", err)
	}
	if took < limit || took > limit+tolerance {
		t.Errorf("/loop stopped after %v (call %v); want between %v and %v", took, st.Call, limit, limit+tolerance)
	}
	t.Logf("/loop stopped after %v: %v", took, err)
	mustServe(t, f)
}

// A fetch's wait for the origin does not count against the CPU limit.
func TestCPULimitExcludesFetch(t *testing.T) {
	t.Parallel()
	const limit = 50 * time.Millisecond
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * limit):
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "slow")
	}))
	t.Cleanup(slow.Close)
	_, f := guestFunction(t, isolate.Config{CPULimit: limit, FetchOrigins: []string{slow.URL}})
	d, _, err := call(t, f, "/fetch?url="+url.QueryEscape(slow.URL+"/x"))
	if err != nil || d.Status != 200 || string(d.Body) != "slow" {
		t.Fatalf("fetch of %v: %v %q %v; want 200 slow", 3*limit, d.Status, d.Body, err)
	}
}

func TestNoFileSystem(t *testing.T) {
	t.Parallel()
	_, f := guestFunction(t, isolate.Config{})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/etc/hosts", self, ".", "/"} {
		d, _, err := call(t, f, "/open?path="+url.QueryEscape(path))
		if err != nil || d.Status != 500 || !strings.HasPrefix(string(d.Body), "error: ") {
			t.Errorf("open %s: %v %q %v; want the guest's open to fail", path, d.Status, d.Body, err)
		}
	}
}

// The guest cannot reach a real listener: wasip1 has no socket to open (wazero offers
// sock_accept on preopened listeners only, and the runtime preopens none), and Go's net on
// wasip1 dials its in-process fake network.
func TestNoSockets(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_, f := guestFunction(t, isolate.Config{})
	d, _, err := call(t, f, "/dial?addr="+ln.Addr().String())
	if err != nil || d.Status != 500 {
		t.Fatalf("dial: %v %q %v; want the guest's dial to fail", d.Status, d.Body, err)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now())
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatal("the guest's dial reached the host's listener")
	}
	t.Logf("the guest's dial: %s", d.Body)
}

func TestFetchOnlyAllowedOrigins(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "other") }))
	t.Cleanup(other.Close)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/redirect" {
			http.Redirect(w, r, other.URL+"/", http.StatusFound)
			return
		}
		fmt.Fprint(w, "origin "+r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	_, f := guestFunction(t, isolate.Config{FetchOrigins: []string{origin.URL + "/api"}})
	for _, c := range []struct {
		url    string
		status int
		body   string
	}{
		{origin.URL + "/api/me", 200, "origin /api/me"},
		{origin.URL + "/api", 200, "origin /api"},
		{origin.URL + "/api/redirect", 302, ""}, // not followed: the target is not allowed
		{origin.URL + "/apix", 500, "error: fetch " + origin.URL + "/apix: origin not allowed"},
		{origin.URL + "/", 500, "error: fetch " + origin.URL + "/: origin not allowed"},
		{other.URL + "/api/me", 500, "error: fetch " + other.URL + "/api/me: origin not allowed"},
		{"file:///etc/hosts", 500, "error: fetch file:///etc/hosts: origin not allowed"},
		{"/api/me", 500, "error: fetch /api/me: origin not allowed"},
	} {
		d, _, err := call(t, f, "/fetch?url="+url.QueryEscape(c.url))
		if err != nil || d.Status != c.status || c.body != "" && string(d.Body) != c.body {
			t.Errorf("fetch %s: %d %q %v; want %d %q", c.url, d.Status, d.Body, err, c.status, c.body)
		}
	}
}

func TestBudgetBoundsThePool(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan struct{}, 2)
	blocking := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(blocking.Close)
	r, f := guestFunction(t, isolate.Config{
		MemoryLimit: 64 << 20, NodeBudget: 128 << 20, // room for two instances
		BusyWait: 20 * time.Millisecond, FetchOrigins: []string{blocking.URL},
	})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if d, _, err := call(t, f, "/fetch?url="+url.QueryEscape(blocking.URL)); err != nil || d.Status != 200 {
				t.Errorf("a call holding an instance: %v %q %v", d.Status, d.Body, err)
				arrived <- struct{}{}
			}
		})
	}
	<-arrived
	<-arrived // both instances are in a call
	if st := r.Stats(); st.Busy != 2 || st.Max != 2 {
		t.Errorf("Stats with two calls waiting = %+v, want 2 busy of max 2", st)
	}
	d, _, err := call(t, f, "/ok")
	if !errors.Is(err, isolate.ErrBusy) || isolate.Outcome(d, err) != "busy" {
		t.Fatalf("a third call with the budget taken: %v; want ErrBusy", err)
	}
	close(release)
	wg.Wait()
	mustServe(t, f)
	if st := r.Stats(); st.Idle != 2 || st.Busy != 0 {
		t.Errorf("Stats after = %+v, want 2 idle", st)
	}
}

// A function without an idle instance takes the place of another function's idle one.
func TestBudgetEvictsIdleInstances(t *testing.T) {
	t.Parallel()
	wasm := testGuest(t)
	r := newRuntime(t, isolate.Config{MemoryLimit: 64 << 20, NodeBudget: 64 << 20})
	a, err := r.Load(t.Context(), "a", wasm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Load(t.Context(), "b", wasm)
	if err != nil {
		t.Fatal(err)
	}
	mustServe(t, a)
	mustServe(t, b)
	if a.Stats().Idle != 0 || b.Stats().Idle != 1 {
		t.Errorf("a %+v b %+v: want b's instance to have replaced a's", a.Stats(), b.Stats())
	}
	if ok, err := a.Warm(t.Context()); ok || err != nil {
		t.Errorf("Warm with a full budget = %v, %v; want false: Warm never evicts", ok, err)
	}
}

func TestWarm(t *testing.T) {
	t.Parallel()
	_, f := guestFunction(t, isolate.Config{})
	if ok, err := f.Warm(t.Context()); !ok || err != nil {
		t.Fatalf("Warm = %v, %v", ok, err)
	}
	if _, st, err := call(t, f, "/ok"); err != nil || st.Cold {
		t.Fatalf("call after Warm: %+v %v; want warm", st, err)
	}
}

func TestGuestPanic(t *testing.T) {
	t.Parallel()
	_, f := guestFunction(t, isolate.Config{})
	d, _, err := call(t, f, "/panic")
	if !errors.Is(err, isolate.ErrGuest) || isolate.Outcome(d, err) != "error" {
		t.Fatalf("/panic: %v; want ErrGuest", err)
	}
	if !strings.Contains(err.Error(), "testguest panics on purpose") {
		t.Errorf("the error lacks the guest's stderr: %v", err)
	}
	mustServe(t, f)
}

func TestCallerCancel(t *testing.T) {
	t.Parallel()
	r, f := guestFunction(t, isolate.Config{CPULimit: time.Minute})
	mustServe(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { // cancel once the call is in the guest (or after 10 s, when the test fails)
		for end := time.Now().Add(10 * time.Second); r.Stats().Busy == 0 && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, _, err := f.Call(ctx, isolate.PhaseRequest, get("/loop"))
	if !errors.Is(err, context.Canceled) || errors.Is(err, isolate.ErrCPULimit) {
		t.Fatalf("/loop cancelled by the caller: %v; want context.Canceled", err)
	}
	mustServe(t, f)
}

func TestVars(t *testing.T) {
	t.Parallel()
	_, f := guestFunction(t, isolate.Config{Vars: map[string]map[string]string{"testguest": {"colour": "blue"}}})
	for name, want := range map[string]string{"colour": "blue", "size": "(unbound)"} {
		if d, _, err := call(t, f, "/var?name="+name); err != nil || string(d.Body) != want {
			t.Errorf("var %s = %q, %v; want %q", name, d.Body, err, want)
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	_, f := guestFunction(t, isolate.Config{MaxBodyBytes: 10})
	req := get("/ok")
	req.Body = make([]byte, 11)
	if _, _, err := f.Call(t.Context(), isolate.PhaseResponse, req); !errors.Is(err, isolate.ErrBodyTooLarge) {
		t.Fatalf("11-byte body, MaxBodyBytes 10: %v; want ErrBodyTooLarge", err)
	}
}

func TestLoadRejectsOtherModules(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, isolate.Config{CacheDir: isolate.CacheDirOff})
	for name, wasm := range map[string][]byte{"garbage": []byte("not wasm"), "loop": loopModule} {
		if _, err := r.Load(t.Context(), name, wasm); !errors.Is(err, isolate.ErrModule) {
			t.Errorf("Load %s: %v; want ErrModule", name, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg   isolate.Config
		field string
	}{
		{isolate.Config{MemoryLimit: 1000}, "MemoryLimit"},
		{isolate.Config{MemoryLimit: 256 << 20, NodeBudget: 128 << 20}, "NodeBudget"},
		{isolate.Config{CPULimit: -1}, "CPULimit"},
		{isolate.Config{FetchOrigins: []string{"ftp://x"}}, "FetchOrigins"},
		{isolate.Config{FetchOrigins: []string{"http://x/?q=1"}}, "FetchOrigins"},
		{isolate.Config{JWT: isolate.JWTConfig{EdDSA: make([]byte, 3)}}, "JWT.EdDSA"},
	} {
		c.cfg.CacheDir = isolate.CacheDirOff
		_, err := isolate.New(t.Context(), c.cfg)
		if !errors.Is(err, isolate.ErrConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: %v; want ErrConfig naming %s", c.cfg, err, c.field)
		}
	}
}

// loopModule is a hand-assembled module exporting loop(n i32) i32, which counts n down and
// returns n: a tight loop with nothing else in it, for BenchmarkLoopContextCheck. It lacks the
// ABI's exports, so Load refuses it.
var loopModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
	0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type section: (i32) -> i32
	0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
	0x07, 0x08, 0x01, 0x04, 'l', 'o', 'o', 'p', 0x00, 0x00, // export "loop" = func 0
	0x0a, 0x23, 0x01, 0x21, // code section: one body of 33 bytes
	0x01, 0x01, 0x7f, // one i32 local (the count)
	0x02, 0x40, // block
	0x03, 0x40, // loop
	0x20, 0x00, 0x45, 0x0d, 0x01, // br_if 1 (n == 0)
	0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, // n = n - 1
	0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, // c = c + 1
	0x0c, 0x00, // br 0
	0x0b, 0x0b, // end loop, end block
	0x20, 0x01, 0x0b, // return c
}
