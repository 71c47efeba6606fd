// Package functions ships the lab's edge functions as WebAssembly modules: auth, filter,
// locale and prefs, built from the GOOS=wasip1 sources in the directories of those names
// (with the ABI helper package guest) by build.sh, and embedded here gzipped (wasm/*.wasm.gz:
// a Go wasip1 module is 2–3 MB, a quarter of it gzipped, and every rebuild is a new blob in
// the repository's history). .ci/wasm-check rebuilds them and fails if the bytes differ from
// the shipped ones, so the modules always match their source.
//
// This file is the package's only non-wasip1 file; the node loads a module with
// isolate.Runtime.Load(ctx, name, functions.Module(name)).
package functions

import (
	"embed"

	"github.com/headroom/headroom/lab/internal/wasmfs"
)

//go:embed wasm/*.wasm.gz
var modules embed.FS

var shipped = wasmfs.Dir{FS: modules, Path: "wasm", Kind: "edge function"}

// Names lists the shipped functions, sorted.
func Names() []string { return shipped.Names() }

// Module returns the WebAssembly module of the function name (one of Names), decompressed.
func Module(name string) ([]byte, error) { return shipped.Module(name) }
