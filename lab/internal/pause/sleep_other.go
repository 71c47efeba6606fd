//go:build !linux

package pause

import "time"

// sleepUntil waits on a Go timer where nanosleep(2) is not wired up: correct, only coarser.
func sleepUntil(deadline time.Time) {
	if d := time.Until(deadline); d > 0 {
		<-time.NewTimer(d).C
	}
}
