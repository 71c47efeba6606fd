package faas_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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
			if idle, _, _ := p.Stats("cold"); idle == 0 {
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
