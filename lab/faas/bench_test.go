package faas_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/faas"
	"github.com/headroom/headroom/lab/faas/guest"
)

// The targets (docs/lab.md): process cold start P50 ≤ 50 ms, P99 ≤ 125 ms; wasm cold
// start (compiled module cached) ≤ 50 ms; warm overhead P50 ≤ 200 µs. Run without -race: the
// process function here is this test binary, so a race build's start and init are the race
// runtime's too, and the wasm runtime runs in the race-instrumented platform.

func benchPlatform(b *testing.B, fn faas.Function) *faas.Platform {
	b.Helper()
	p, err := faas.New(faas.Config{Functions: []faas.Function{fn}, WasmCacheDir: testCacheDir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// quantile returns the q-quantile of ds (sorted in place), in unit.
func quantile(ds []time.Duration, q float64, unit time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[int(q*float64(len(ds)-1))]) / float64(unit)
}

// BenchmarkColdStartProcess invokes a function whose every call is cold (the instance of the
// previous call reclaimed first, outside the timer): a fork/exec of this test binary, the Go
// runtime's start, an init, and the first call.
func BenchmarkColdStartProcess(b *testing.B) {
	benchColdStart(b, testFunction(b, "cold"))
}

// BenchmarkColdStartWasm is BenchmarkColdStartProcess on the wasm runtime, the module compiled
// when the platform is created (or loaded from the compilation cache): a wazero instantiation,
// the Go runtime's start in wasm (_start up to the hello), an init, and the first call.
func BenchmarkColdStartWasm(b *testing.B) {
	benchColdStart(b, runtimeFunction(b, faas.RuntimeWasm, "cold"))
}

// benchColdStart measures the cold starts of fn, reporting their P50 and P99 and the phases'.
func benchColdStart(b *testing.B, fn faas.Function) {
	fn.IdleTimeout = time.Millisecond
	p := benchPlatform(b, fn)
	var cold, start, init, first []time.Duration
	for b.Loop() {
		b.StopTimer()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			if s, _ := p.Stats("cold"); s.Idle == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the idle instance was not reclaimed in 10 s")
			}
		}
		b.StartTimer()
		_, inv, err := p.Invoke(context.Background(), "cold", guest.Request{Method: "GET", Path: "/echo"})
		if err != nil {
			b.Fatal(err)
		}
		if !inv.Cold {
			b.Fatal("a warm call: the benchmark measures cold starts only")
		}
		cold = append(cold, inv.Start+inv.Init)
		start = append(start, inv.Start)
		init = append(init, inv.Init)
		first = append(first, inv.Duration)
	}
	b.ReportMetric(quantile(cold, 0.5, time.Millisecond), "cold-p50-ms")
	b.ReportMetric(quantile(cold, 0.99, time.Millisecond), "cold-p99-ms")
	b.ReportMetric(quantile(start, 0.5, time.Millisecond), "start-p50-ms")
	b.ReportMetric(quantile(start, 0.99, time.Millisecond), "start-p99-ms")
	b.ReportMetric(quantile(init, 0.5, time.Millisecond), "init-p50-ms")
	b.ReportMetric(quantile(init, 0.99, time.Millisecond), "init-p99-ms")
	b.ReportMetric(quantile(first, 0.5, time.Millisecond), "firstcall-p50-ms")
}

// BenchmarkWarmOverhead invokes a warm instance whose handler does nothing: what is left is
// the platform's overhead, through the gateway over loopback HTTP (gateway) or called
// in-process (invoke: the pool and the pipe round trip alone).
func BenchmarkWarmOverhead(b *testing.B) {
	benchWarm(b, testFunction(b, "warm"))
}

// BenchmarkWarmOverheadWasm is BenchmarkWarmOverhead on the wasm runtime: the pipes are
// in-process (io.Pipe), the guest's JSON decoding and encoding run in wasm.
func BenchmarkWarmOverheadWasm(b *testing.B) {
	benchWarm(b, runtimeFunction(b, faas.RuntimeWasm, "warm"))
}

func benchWarm(b *testing.B, fn faas.Function) {
	fn.Concurrency = 1
	p := benchPlatform(b, fn)
	if _, _, err := p.Invoke(context.Background(), "warm", guest.Request{Path: "/echo"}); err != nil {
		b.Fatal(err)
	}
	b.Run("invoke", func(b *testing.B) {
		var ds []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, _, err := p.Invoke(context.Background(), "warm", guest.Request{Method: "GET", Path: "/echo"}); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		b.ReportMetric(quantile(ds, 0.5, time.Microsecond), "p50-µs")
		b.ReportMetric(quantile(ds, 0.99, time.Microsecond), "p99-µs")
	})
	b.Run("gateway", func(b *testing.B) {
		srv := httptest.NewServer(p.Handler())
		defer srv.Close()
		client := srv.Client()
		var ds []time.Duration
		for b.Loop() {
			t0 := time.Now()
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/fn/warm/echo", strings.NewReader("x"))
			if err != nil {
				b.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
			ds = append(ds, time.Since(t0))
		}
		b.ReportMetric(quantile(ds, 0.5, time.Microsecond), "p50-µs")
		b.ReportMetric(quantile(ds, 0.99, time.Microsecond), "p99-µs")
	})
}

// BenchmarkBurstFromZero sends bursts of 20 concurrent invocations, each after the function has
// been left idle for twice its IdleTimeout (its on-demand instances reclaimed), with neither
// remedy, with a keep-warm pinger of 20 (every IdleTimeout/2), and with 20 provisioned
// instances. It reports the cold starts per burst, the invocations' P50 and P99 (call to
// answer, cold start included) and the cold starts' share of P99: their part of the time of the
// invocations at or past P99, as diagnose's cold_start finding computes it.
func BenchmarkBurstFromZero(b *testing.B) {
	const burst = 20
	const idle = 200 * time.Millisecond
	for _, c := range []struct {
		name                  string
		keepWarm, provisioned int
	}{{"none", 0, 0}, {"keep-warm-20", burst, 0}, {"provisioned-20", 0, burst}} {
		b.Run(c.name, func(b *testing.B) {
			fn := testFunction(b, "burst")
			fn.Concurrency = 2 * burst // room to spill over
			fn.IdleTimeout = idle
			fn.KeepWarm = c.keepWarm
			fn.Provisioned = c.provisioned
			p := benchPlatform(b, fn)
			var lat, cold []time.Duration
			colds := 0
			for b.Loop() {
				b.StopTimer()
				time.Sleep(2 * idle)
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
					if s, _ := p.Stats("burst"); s.Provisioned == c.provisioned && s.Busy == 0 {
						break
					}
					if time.Now().After(deadline) {
						b.Fatal("the provisioned instances not ready in 10 s")
					}
				}
				b.StartTimer()
				invs := make([]faas.Invocation, burst)
				ds := make([]time.Duration, burst)
				var wg sync.WaitGroup
				for i := range burst {
					wg.Go(func() {
						t0 := time.Now()
						_, inv, err := p.Invoke(context.Background(), "burst", guest.Request{Method: "GET", Path: "/echo"})
						ds[i] = time.Since(t0)
						invs[i] = inv
						if err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				for i, inv := range invs {
					lat = append(lat, ds[i])
					cold = append(cold, inv.Start+inv.Init)
					if inv.Cold {
						colds++
					}
				}
			}
			b.ReportMetric(float64(colds)/float64(b.N), "cold/burst")
			b.ReportMetric(coldShareOfP99(lat, cold), "cold-share-of-p99")
			b.ReportMetric(quantile(slices.Clone(lat), 0.5, time.Millisecond), "p50-ms")
			b.ReportMetric(quantile(slices.Clone(lat), 0.99, time.Millisecond), "p99-ms")
		})
	}
}

// coldShareOfP99 is the share of the invocations at or past the P99 latency (nearest rank)
// whose time was cold start: the sum of their cold starts over the sum of their latencies.
func coldShareOfP99(lat, cold []time.Duration) float64 {
	p99 := time.Duration(quantile(slices.Clone(lat), 0.99, 1))
	var tail, tailCold time.Duration
	for i, d := range lat {
		if d >= p99 {
			tail += d
			tailCold += cold[i]
		}
	}
	return float64(tailCold) / float64(tail)
}

// BenchmarkScaleOutProcess is the scale-out from zero: 100 invocations at once on a
// function with no instance (concurrency 100), reporting new instances per second: the cold
// starts over the time until the last invocation is answered (an invocation arriving after an
// instance is free again reuses it). The anchor: Lambda adds 1,000
// environments per 10 s per function; Firecracker starts 5 microVMs per core per second.
func BenchmarkScaleOutProcess(b *testing.B) {
	benchScaleOut(b, testFunction(b, "scale"))
}

// BenchmarkScaleOutWasm is BenchmarkScaleOutProcess on the wasm runtime.
func BenchmarkScaleOutWasm(b *testing.B) {
	benchScaleOut(b, runtimeFunction(b, faas.RuntimeWasm, "scale"))
}

func benchScaleOut(b *testing.B, fn faas.Function) {
	const n = 100
	fn.Concurrency, fn.MemoryMB = n, 256
	var rates []float64
	for b.Loop() {
		b.StopTimer()
		p, err := faas.New(faas.Config{Functions: []faas.Function{fn}, WasmCacheDir: testCacheDir})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		begin := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		cold := 0
		for range n {
			wg.Go(func() {
				_, inv, err := p.Invoke(context.Background(), "scale", guest.Request{Method: "GET", Path: "/echo"})
				if err != nil {
					b.Error(err)
				}
				mu.Lock()
				cold += map[bool]int{true: 1}[inv.Cold]
				mu.Unlock()
			})
		}
		wg.Wait()
		elapsed := time.Since(begin)
		b.StopTimer()
		rates = append(rates, float64(cold)/elapsed.Seconds())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = p.Close(ctx)
		cancel()
		b.StartTimer()
	}
	slices.Sort(rates)
	b.ReportMetric(rates[len(rates)/2], "instances/s")
}
