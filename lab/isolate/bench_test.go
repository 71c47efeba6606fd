package isolate_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tetratelabs/wazero"

	"github.com/headroom/headroom/lab/edge/functions"
	"github.com/headroom/headroom/lab/isolate"
)

func authModule(b *testing.B) []byte {
	b.Helper()
	wasm, err := functions.Module("auth")
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}

// BenchmarkCompileCold compiles the auth module with an empty cache: the first start of a
// node, or a new module.
func BenchmarkCompileCold(b *testing.B) {
	wasm := authModule(b)
	dir := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		r, err := isolate.New(context.Background(), isolate.Config{CacheDir: filepath.Join(dir, fmt.Sprint(i))})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Load(context.Background(), "auth", wasm); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		r.Close(context.Background())
		b.StartTimer()
	}
}

// BenchmarkCompileCached starts a new runtime on a warm on-disk cache and loads the auth
// module: a node's restart.
func BenchmarkCompileCached(b *testing.B) {
	wasm := authModule(b)
	cfg := isolate.Config{CacheDir: b.TempDir()}
	load := func() *isolate.Runtime {
		r, err := isolate.New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Load(context.Background(), "auth", wasm); err != nil {
			b.Fatal(err)
		}
		return r
	}
	load().Close(context.Background()) // fills the cache
	for b.Loop() {
		r := load()
		b.StopTimer()
		r.Close(context.Background())
		b.StartTimer()
	}
}

// BenchmarkInstantiate measures a cold call: two functions share a budget of one instance, so
// each call evicts the other's instance and starts its own. instantiate-ns/op is the start
// alone (wazero's instantiation and the Go runtime's _initialize).
func BenchmarkInstantiate(b *testing.B) {
	wasm := authModule(b)
	r := newRuntime(b, isolate.Config{NodeBudget: isolate.MemoryLimitDefault})
	var fs [2]*isolate.Function
	for i := range fs {
		f, err := r.Load(context.Background(), fmt.Sprint("auth", i), wasm)
		if err != nil {
			b.Fatal(err)
		}
		fs[i] = f
	}
	req := &isolate.Request{Method: "GET", Path: "/page/home"}
	var inst time.Duration
	i := 0
	for b.Loop() {
		i++
		_, st, err := fs[i%2].Call(context.Background(), isolate.PhaseRequest, req)
		if err != nil || !st.Cold {
			b.Fatalf("call %d: cold %v, %v", i, st.Cold, err)
		}
		inst += st.Instantiate
	}
	b.ReportMetric(float64(inst.Nanoseconds())/float64(i), "instantiate-ns/op")
}

var (
	benchHS = []byte("bench secret")
	benchEd = func() ed25519.PrivateKey { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }()
)

func benchToken(b *testing.B, m jwt.SigningMethod, key any) string {
	claims := jwt.MapClaims{"sub": "42", "sid": "s-1", "iss": "headroom-lab", "exp": time.Now().Add(time.Hour).Unix()}
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// warmCalls measures warm calls of f on req: the edge's per-request cost of the function.
func warmCalls(b *testing.B, f *isolate.Function, req *isolate.Request) {
	d, _, err := f.Call(context.Background(), isolate.PhaseRequest, req) // start the instance
	if err != nil || d.Identity == nil {
		b.Fatalf("warm-up: %+v, %v; want a verified identity", d, err)
	}
	for b.Loop() {
		if _, st, err := f.Call(context.Background(), isolate.PhaseRequest, req); err != nil || st.Cold {
			b.Fatal(err, st.Cold)
		}
	}
}

func authFunction(b *testing.B, stopCheck bool) *isolate.Function {
	cfg := isolate.Config{CacheDir: testCacheDir, JWT: isolate.JWTConfig{HS256: benchHS, EdDSA: benchEd.Public().(ed25519.PublicKey)}}
	start := isolate.New
	if !stopCheck {
		start = isolate.NewWithoutStopCheck
	}
	r, err := start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close(context.Background()) })
	f, err := r.Load(context.Background(), "auth", authModule(b))
	if err != nil {
		b.Fatal(err)
	}
	return f
}

func bearer(tok string) *isolate.Request {
	return &isolate.Request{Method: "GET", Path: "/api/me", ClientAddr: "127.0.0.1:1",
		Headers: []isolate.Header{{Name: "Authorization", Value: "Bearer " + tok}, {Name: "Accept", Value: "application/json"}}}
}

// BenchmarkAuthWarm is a warm call of the auth function with a valid token, verified by the
// host (jwt_verify, golang-jwt): the whole call, request encoding to decoded decision.
func BenchmarkAuthWarm(b *testing.B) {
	b.Run("HS256", func(b *testing.B) {
		warmCalls(b, authFunction(b, true), bearer(benchToken(b, jwt.SigningMethodHS256, benchHS)))
	})
	b.Run("EdDSA", func(b *testing.B) {
		warmCalls(b, authFunction(b, true), bearer(benchToken(b, jwt.SigningMethodEdDSA, benchEd)))
	})
	// Without the stop check (BenchmarkLoopContextCheck): what it costs a real function.
	b.Run("HS256-no-stop-check", func(b *testing.B) {
		warmCalls(b, authFunction(b, false), bearer(benchToken(b, jwt.SigningMethodHS256, benchHS)))
	})
	// The same HS256 check in the module (crypto/hmac, encoding/json compiled to wasm), for the
	// question "verify on the host or in the module".
	b.Run("HS256-in-module", func(b *testing.B) {
		_, f := guestFunction(b, isolate.Config{Vars: map[string]map[string]string{"testguest": {"hs256_key": string(benchHS)}}})
		req := bearer(benchToken(b, jwt.SigningMethodHS256, benchHS))
		req.Path = "/hs256"
		warmCalls(b, f, req)
	})
}

// BenchmarkLoopContextCheck is the price of stopping runaway guests: a tight wasm loop of
// 10 million iterations, compiled with wazero's context check (WithCloseOnContextDone, which
// lab/isolate uses) and without. ns/iter is per loop iteration.
func BenchmarkLoopContextCheck(b *testing.B) {
	const n = 10_000_000
	for _, check := range []bool{true, false} {
		b.Run(fmt.Sprintf("check=%v", check), func(b *testing.B) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(check))
			defer r.Close(ctx)
			mod, err := r.Instantiate(ctx, loopModule)
			if err != nil {
				b.Fatal(err)
			}
			loop := mod.ExportedFunction("loop")
			cctx, cancel := context.WithTimeout(ctx, time.Hour) // a deadline, as a call has
			defer cancel()
			for b.Loop() {
				if res, err := loop.Call(cctx, n); err != nil || res[0] != n {
					b.Fatal(res, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/iter")
		})
	}
}

// BenchmarkCallFloor is a warm call that does nothing (the test module's /ok): the ABI's and
// the Go guest runtime's floor under every function.
func BenchmarkCallFloor(b *testing.B) {
	_, f := guestFunction(b, isolate.Config{})
	req := get("/ok")
	if _, _, err := f.Call(context.Background(), isolate.PhaseRequest, req); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := f.Call(context.Background(), isolate.PhaseRequest, req); err != nil {
			b.Fatal(err)
		}
	}
}
