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
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
)

//go:embed wasm/*.wasm.gz
var modules embed.FS

// Names lists the shipped functions, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(modules, "wasm") // embedded: cannot fail
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".wasm.gz"))
	}
	slices.Sort(names)
	return names
}

// Module returns the WebAssembly module of the function name (one of Names), decompressed.
func Module(name string) ([]byte, error) {
	gz, err := modules.ReadFile("wasm/" + name + ".wasm.gz")
	if err != nil {
		return nil, fmt.Errorf("edge function %q: not shipped (have %s)", name, strings.Join(Names(), ", "))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("edge function %s: %w", name, err)
	}
	wasm, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("edge function %s: %w", name, err)
	}
	return wasm, nil
}
