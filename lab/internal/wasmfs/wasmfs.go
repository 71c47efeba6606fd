// Package wasmfs reads the WebAssembly modules a package ships gzipped in an embedded directory
// as NAME.wasm.gz (the edge's functions and the function platform's): gzipped because a Go
// wasip1 module is a few MB, a quarter of it gzipped, and every rebuild is a new blob in the
// repository's history.
package wasmfs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
)

// Dir is a directory of NAME.wasm.gz files in FS; Kind names what they are, for errors ("edge
// function").
type Dir struct {
	FS   fs.FS
	Path string
	Kind string
}

// Names lists the modules, sorted.
func (d Dir) Names() []string {
	entries, _ := fs.ReadDir(d.FS, d.Path) // embedded: cannot fail
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".wasm.gz"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Module returns the module name (one of Names), decompressed.
func (d Dir) Module(name string) ([]byte, error) {
	gz, err := fs.ReadFile(d.FS, d.Path+"/"+name+".wasm.gz")
	if err != nil {
		return nil, fmt.Errorf("%s %q: not shipped (have %s)", d.Kind, name, strings.Join(d.Names(), ", "))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", d.Kind, name, err)
	}
	wasm, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", d.Kind, name, err)
	}
	return wasm, nil
}
