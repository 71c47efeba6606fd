//go:build !linux

package loadgen

import "context"

// Event loops need epoll: elsewhere each connection has its own goroutine.
func (e *engine) prepareLoops([]*h1Request) {}

type loopPlan struct{}

func (e *engine) startLoops(context.Context, *syncGroup, func(int64)) error { return nil }
