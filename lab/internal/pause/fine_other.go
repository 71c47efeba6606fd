//go:build !linux

package pause

import "time"

// fineUntil waits on a Go timer where the precise waker is not built.
func fineUntil(done <-chan struct{}, deadline time.Time) bool { return timerUntil(done, deadline) }
