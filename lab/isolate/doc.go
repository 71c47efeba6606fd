// Package isolate runs the lab's edge functions (lab/edge/functions) in wazero, one
// WebAssembly instance per concurrent call, with the limits the notes give an edge node: a
// memory cap per isolate (Config.MemoryLimit, 128 MiB), a CPU-time limit per call
// (Config.CPULimit, 50 ms), no file system (no directory is preopened: every open fails), no
// sockets (wasip1 has none; the only way out is the host call fetch, to Config.FetchOrigins),
// and a node memory budget (Config.NodeBudget, 1 GiB) that bounds how many instances exist.
//
// # Life of a call
//
// Runtime.Load compiles a module once (wazero's compilation cache on disk, Config.CacheDir, so
// a restarted node loads it in tens of milliseconds instead of compiling for a second or more).
// Function.Call takes an idle instance of the function (warm) or starts one (cold: wazero
// instantiation and the Go runtime's _initialize, a few milliseconds), evicting another
// function's idle instance if the budget is full, or waits Config.BusyWait and fails with
// ErrBusy. It writes the request into the guest (hr_buffer, once per instance), calls
// hr_handle, and decodes the decision; a clean instance goes back to the pool, a failed one
// (ErrCPULimit, ErrMemoryLimit, ErrGuest, a cancelled context) is discarded and the next call
// starts afresh: a failure costs one call, never the node.
//
// # The ABI (package abi holds the encodings)
//
// Guest exports: hr_abi_v1() marks the module; _initialize() (Go's -buildmode=c-shared
// reactor); hr_buffer(size i32) -> i32 returns a guest buffer of at least size bytes;
// hr_handle(len i32) -> i64 runs the function on the request written there and returns the
// decision's address << 32 | length. Host imports, module "headroom": result(ptr, len) -> i32
// copies the last call's pending bytes; log(ptr, len); now() -> i64; var_get(name, len) -> i32
// reads a variable of Config.Vars; jwt_verify(tok, len) -> i32 verifies a session token with
// golang-jwt and the keys of Config.JWT (EdDSA, HS256; nothing else, alg none included);
// fetch(req, len) -> i32 sends an HTTP request to an allowed origin (no redirects followed).
// A host call returning data returns its length n (the guest fetches it with result), or -n
// for an error message of n bytes.
//
// The request is pushed whole, in a compact binary encoding (uvarint-prefixed fields, about
// 14× cheaper than encoding/json natively and far more in wasm, where encoding/json would also
// add 400 KB to every module), because an edge request is small: method, path, query, client
// address, headers, and in the response phase the status, headers and a body up to
// Config.MaxBodyBytes. The decision is data, a list of tagged edits (set/add/delete a request
// or response header, rewrite the path, choose the origin pool, vouch for an identity, or
// answer with status, headers and body), which the host validates as untrusted input and
// applies itself: the guest never holds a handle to the proxy's state.
//
// Prior art, and why this is not it: Proxy-Wasm (Envoy, NGINX) drives a filter through
// callbacks (on_http_request_headers, body chunks, …) in which the guest pulls each header
// with a host call and returns Continue or Pause, with streaming bodies, shared data and
// queues: the right shape for a long-lived filter chain, many boundary crossings per request
// for ours. Fastly Compute hands the guest the whole request lifecycle (main() once per
// request, handles to requests, bodies and backends, the guest sends to the origin itself):
// the right shape for an application at the edge, but the cache and the origin call would
// move into the guest. The lab's functions are small decisions in front of a cache the node
// owns, so: one crossing in, one out, the decision as a value (easy to test, log, fuzz and
// put in a span), host calls only for what the guest must not or cannot do itself
// (verify with the node's keys, reach an origin, read the clock).
//
// # Measured (BenchmarkCompileCold … BenchmarkLoopContextCheck; figures in docs/lab.md)
//
// The CPU limit is wazero's WithCloseOnContextDone: the compiled code checks for a closed
// module at every loop header and function entry by leaving the machine code for Go. A tight
// loop pays 30–46× for it; Go's wasm backend compiles every function to a dispatch loop, so a
// Go guest's warm call pays about 2× (auth: ~24 µs without the check, ~54 µs with it).
// wazero has no fuel metering; without the check a runaway guest holds a core for ever.
//
// This package imports nothing of headroom's measurement packages; its host side is, with
// lab/faas's wasm runtime, an importer of wazero.
package isolate
