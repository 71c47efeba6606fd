//go:build !wasip1

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

// Names lists the functions shipped as modules, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(modules, "wasm") // embedded: cannot fail
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".wasm.gz"))
	}
	slices.Sort(names)
	return names
}

// Module returns the WebAssembly module of the function name (one of Names), decompressed:
// faas.Function.Module of a RuntimeWasm function.
func Module(name string) ([]byte, error) {
	gz, err := modules.ReadFile("wasm/" + name + ".wasm.gz")
	if err != nil {
		return nil, fmt.Errorf("faas function %q: not shipped (have %s)", name, strings.Join(Names(), ", "))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("faas function %s: %w", name, err)
	}
	wasm, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("faas function %s: %w", name, err)
	}
	return wasm, nil
}
