// Package atomicfile writes output files whole or not at all: the content goes to a temporary
// file beside the destination, which is renamed over it only once complete. Creating the
// temporary file first also makes a bad path fail before any work is done.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File is an output being written. Not safe for concurrent use.
type File struct {
	path string
	tmp  *os.File
}

// Create prepares path for writing; it fails if path is a directory or its directory is not
// writable.
func Create(path string) (*File, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, want a file path", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("%s: cannot write there: %w", path, err)
	}
	// CreateTemp makes the file private; an output is an ordinary file, readable like any other.
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{path: path, tmp: tmp}, nil
}

// Commit writes the content with write and renames it into place. On error nothing is left.
func (f *File) Commit(write func(io.Writer) error) error {
	err := write(f.tmp)
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.tmp.Name(), f.path)
	}
	if err != nil {
		_ = os.Remove(f.tmp.Name())
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return nil
}

// Writer is the temporary file, for an output written while work runs; Commit then completes
// it (with a write that adds nothing, or the rest).
func (f *File) Writer() io.Writer { return f.tmp }

// Abort removes the temporary file. It is safe to call after Commit.
func (f *File) Abort() {
	_ = f.tmp.Close()
	_ = os.Remove(f.tmp.Name())
}

// Write creates path and commits what write produces.
func Write(path string, write func(io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	return f.Commit(write)
}
