package main

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/internal/cliexit"
)

// outFile is an output that appears whole or not at all (see atomicfile), created before any
// work starts so a bad path fails first. A nil outFile means no output.
type outFile struct{ f *atomicfile.File }

// createOut prepares the --out path for writing; "" means no output.
func createOut(path string) (*outFile, error) { return createOutFlag("--out", path) }

// createOutFlag prepares the path a flag names for writing; "" means no output.
func createOutFlag(flag, path string) (*outFile, error) {
	if path == "" {
		return nil, nil
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, cliexit.Usagef("%s %w", flag, err)
	}
	return &outFile{f: f}, nil
}

// commit writes with write and renames the result into place.
func (o *outFile) commit(write func(io.Writer) error) error {
	if o == nil {
		return nil
	}
	if err := o.f.Commit(write); err != nil {
		return cliexit.RunFailed(err)
	}
	return nil
}

// abort removes the temporary file; safe to call after commit.
func (o *outFile) abort() {
	if o != nil {
		o.f.Abort()
	}
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
