// Package pause waits precisely for short durations, for the lab's emulated network distance.
//
// Go's timers are coarse below a millisecond: when the process is otherwise idle the runtime's
// network poller sleeps in whole milliseconds, so a 250 µs timer fires after about 1.1 ms (on the
// 2-core development machine, p50 over 400 timers, for 100 µs to 1 ms alike). A database half a
// millisecond away would then cost twice that. pause hands the last stretch of every wait to a
// waker that sleeps in ppoll(2), with a nanosecond timeout, on behalf of all waits at once.
//
// It must not import headroom's measurement packages.
package pause
