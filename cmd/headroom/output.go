package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/term"
)

// outFile is an output that appears whole or not at all: it is written to a temporary file in the
// destination's directory, made before any work starts so a bad path fails first, and renamed
// over the destination only once complete.
type outFile struct {
	path string
	tmp  *os.File
}

// createOut prepares path for writing; "" means no output.
func createOut(path string) (*outFile, error) {
	if path == "" {
		return nil, nil
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, usageErrorf("--out %s: is a directory, want a file path", path)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, usageErrorf("--out %s: cannot write there: %v", path, err)
	}
	return &outFile{path: path, tmp: tmp}, nil
}

// commit writes with write and renames the result into place.
func (o *outFile) commit(write func(io.Writer) error) error {
	if o == nil {
		return nil
	}
	if err := write(o.tmp); err != nil {
		o.abort()
		return runFailed(fmt.Errorf("write %s: %w", o.path, err))
	}
	if err := o.tmp.Close(); err != nil {
		o.abort()
		return runFailed(fmt.Errorf("write %s: %w", o.path, err))
	}
	if err := os.Rename(o.tmp.Name(), o.path); err != nil {
		_ = os.Remove(o.tmp.Name())
		return runFailed(fmt.Errorf("write %s: %w", o.path, err))
	}
	return nil
}

// abort removes the temporary file; safe to call after commit.
func (o *outFile) abort() {
	if o == nil {
		return
	}
	_ = o.tmp.Close()
	_ = os.Remove(o.tmp.Name())
}

// isTerminal reports whether w is a terminal, for progress bars and colour. NO_COLOR and CI
// environments are treated as no terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}
