//go:build !linux

package app

import "os/exec"

// dieWithParent does nothing here: without Linux's parent-death signal a service outlives a
// gateway killed with SIGKILL.
func dieWithParent(*exec.Cmd) {}
