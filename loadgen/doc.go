// Package loadgen generates HTTP load and measures latency honestly.
//
// In the open model an arrival process (a Shape, a pure function of elapsed time) fixes when each
// request is due; a bounded pool of connections sends them; latency is measured from the due time,
// so a slow answer that holds back later requests is charged to them (no coordinated omission). In
// the closed model a fixed number of users each send, wait for the answer, think, and repeat.
//
// One engine per run holds the schedule and the recorder; an executor moves the requests: a
// goroutine per connection, or, for HTTP/1.1 on Linux, event loops on io_uring or epoll that
// drive many connections each (docs/ARCHITECTURE.md, "The event loop").
//
// loadgen never imports the lab: it reaches targets over the wire only.
package loadgen
