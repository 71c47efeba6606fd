//go:build !linux

package labproc

import "os/exec"

// setDeathSignal does nothing here: only Linux stops a child when its parent dies.
func setDeathSignal(*exec.Cmd) {}
