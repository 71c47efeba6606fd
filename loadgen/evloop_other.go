//go:build !linux

package loadgen

// Event loops need epoll: elsewhere each connection has its own goroutine.
func newLoops(*engine, []*h1Request) executor { return nil }
