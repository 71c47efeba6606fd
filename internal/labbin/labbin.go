// Package labbin finds headroom-lab, the lab's own binary, which `headroom lab` and
// `headroom doctor` run as a separate process. It imports nothing of the lab: finding the
// binary must not link the lab into the toolkit.
package labbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Name is the lab binary's file name; Env names the variable that overrides where it is.
const (
	Name = "headroom-lab"
	Env  = "HEADROOM_LAB"
)

// ErrNotFound is returned by Find when no lab binary is found.
var ErrNotFound = errors.New("lab binary not found")

// Find returns the path of the lab binary: $HEADROOM_LAB when set, else headroom-lab next to
// the running executable (where `go build -o bin/ ./cmd/...` and `go install ./cmd/...` put
// it), else the first on PATH.
func Find() (string, error) {
	if p := os.Getenv(Env); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("%w: %s=%q is not an executable file", ErrNotFound, Env, p)
		}
		return p, nil
	}
	var beside string
	if self, err := os.Executable(); err == nil {
		beside = filepath.Join(filepath.Dir(self), Name)
		if isExecutable(beside) {
			return beside, nil
		}
	}
	if p, err := exec.LookPath(Name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: no %s next to this executable (%s) or on PATH; build both binaries with `go build -o bin/ ./cmd/...` and run bin/headroom, or set %s to its path",
		ErrNotFound, Name, beside, Env)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
