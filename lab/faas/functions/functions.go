//go:build !wasip1

package functions

import (
	"embed"

	"github.com/headroom/headroom/lab/internal/wasmfs"
)

//go:embed wasm/*.wasm.gz
var modules embed.FS

var shipped = wasmfs.Dir{FS: modules, Path: "wasm", Kind: "faas function"}

// Names lists the functions shipped as modules, sorted.
func Names() []string { return shipped.Names() }

// Module returns the WebAssembly module of the function name (one of Names), decompressed:
// faas.Function.Module of a RuntimeWasm function.
func Module(name string) ([]byte, error) { return shipped.Module(name) }
