// Package functions holds the lab's functions for lab/faas, each a handler init for
// guest.Serve that builds both for a process and for the wasm runtime, so that the two runtimes
// are compared on the same code: Thumbnail (media processing, the notes' good use of
// serverless). The lab binary serves a handler as a process; build.sh builds the wasip1 main of
// each (thumbnail/) into a module, embedded here gzipped (wasm/*.wasm.gz: a Go module is
// megabytes, a quarter of it gzipped) and returned by Module. .ci/wasm-check rebuilds them and
// fails if the bytes differ from the shipped ones, so the modules always match their source.
//
// functions.go (Module, Names) is not built for wasip1: a module embedding the modules would
// embed itself.
package functions
