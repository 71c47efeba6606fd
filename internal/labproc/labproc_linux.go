package labproc

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel stop the lab if doctor dies without stopping it (kill -9):
// no lab outlives its run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
