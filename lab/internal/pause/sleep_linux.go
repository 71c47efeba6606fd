package pause

import (
	"syscall"
	"time"
)

// sleepUntil sleeps in nanosleep(2) until deadline; the loop resumes after a signal (the Go
// runtime's preemption signal interrupts the call).
func sleepUntil(deadline time.Time) {
	for d := time.Until(deadline); d > 0; d = time.Until(deadline) {
		ts := syscall.NsecToTimespec(int64(d))
		_ = syscall.Nanosleep(&ts, nil)
	}
}
