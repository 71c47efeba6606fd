// Package faas is the lab's function platform: an API gateway in front of function instances,
// with AWS Lambda's model (docs/lab.md, "Functions (serverless)", cites it). An instance serves
// one invocation at a time; an invocation that finds no idle instance starts one (a cold
// start), up to the function's concurrency limit, past which it is throttled (429); an
// instance idle for the function's IdleTimeout is reclaimed (scale to zero); an invocation
// running past the function's Timeout is stopped by killing its instance (504); an instance
// that needs memory past the function's MemoryMB is ended (502). Two runtimes run instances:
// a process each (RuntimeProcess) or a WebAssembly instance each (RuntimeWasm).
//
// # The cold-start remedies
//
// Provisioned concurrency (Function.Provisioned): that many instances are started with the
// platform and kept initialised, never reclaimed, replaced when one dies; invocations take them
// first and spill over to on-demand instances (cold starts) up to the concurrency limit; they
// are billed for as long as they are configured (headroom_faas_provisioned_gigabyte_seconds_total).
// A keep-warm pinger (Function.KeepWarm, KeepWarmEvery): K concurrent pings every period,
// marked guest.Request.Warmup so that guest.Serve answers them without the handler, each held
// by the platform once it has an instance until all K have one, so that K instances are used
// (and their idle time restarted) at once; the pings are invocations (faas.trigger=timer),
// counted and billed like any other.
//
// # The process runtime
//
// An instance is a process (Function.Command) that calls guest.Serve: it says hello as soon as it
// runs, initialises its handler (opens its DB…), says ready, then answers requests framed on
// its stdin and stdout (package guest says why pipes). A cold start is measured in its phases:
// start (fork/exec to the first byte), init (to ready), and the first call. Memory is enforced
// by the platform reading the instance's resident set (/proc/PID/statm) every 5 ms while it
// starts or runs an invocation, and killing it past the size, as Lambda ends an environment
// out of memory; GOMEMLIMIT is set to 90 % of it so that a Go function collects before that.
// Not an rlimit: RLIMIT_AS counts reserved address space, which a Go binary (and the race
// detector's shadow memory above all) reserves far beyond what it uses.
//
// # The wasm runtime
//
// An instance is an instance of a WebAssembly module (Function.Module) in wazero, in the
// platform's own process: a WASI command (GOOS=wasip1) whose main calls guest.Serve, so the
// same function source builds as a process and as a module (package functions holds the lab's).
// The module is compiled once per function when the platform is created (Config.WasmCacheDir
// keeps the machine code on disk across platforms); a cold start instantiates it (start: the
// instantiation and the Go runtime's start in _start, run in a goroutine of its own, up to the
// hello byte) and waits for the ready frame (init), the protocol and its watch being the process
// runtime's, over in-process pipes. The limits: the time limit cancels the instance's context
// and wazero (WithCloseOnContextDone) closes the module at its next loop header or function
// entry, so a `for {}` stops; a sleep (the guest's nanosleep) and a read of stdin are cut short
// too. The memory size is the module's memory limit (WithMemoryLimitPages, a wazero runtime per
// function): the growth past it is refused, the Go guest dies "out of memory", and the
// invocation is answered ErrOutOfMemory; no polling. No file system (no directory preopened),
// no sockets (wasip1 has none), no host imports but WASI's; the environment is the FAAS_*
// variables, GOMEMLIMIT and Function.Env alone.
//
// The two runtimes share one instance type: what differs is how an instance starts
// (fnRuntime.launch), how it is killed, how its memory is read and how its exit is explained
// (body).
//
// # Telemetry
//
// Each invocation is a server span named after the function with the FaaS semantic conventions
// (faas.name, faas.trigger=http, pubsub for a queue's message, or timer with faas.time, faas.invocation_id, faas.coldstart,
// faas.max_memory) and headroom.faas.provisioned (no convention says which kind of instance
// served), and a cold start adds child spans faas.start and faas.init; metrics are
// headroom_faas_* (see metrics.go), billed GB-s with Lambda's 1 ms rounding among them.
//
// This package imports nothing of headroom's measurement packages; with lab/isolate, it is an
// importer of wazero.
package faas
