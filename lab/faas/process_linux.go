package faas

import (
	"os/exec"
	"syscall"
)

// dieWithPlatform asks Linux to kill the instance when the process that started it exits, so
// that no instance outlives a platform killed with SIGKILL. (Sent when the starting thread
// exits; Go's runtime keeps its threads, but for ones locked with LockOSThread.)
func dieWithPlatform(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
