package app

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel send a service SIGTERM when the gateway dies, even by SIGKILL,
// so that no service outlives its gateway. (Linux sends it when the thread that started the
// child exits; Go's runtime keeps its threads, but for ones locked with LockOSThread.)
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
