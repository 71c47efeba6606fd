//go:build linux

package loadgen

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The event loop drives its connections through an io_uring instead of epoll when the kernel
// offers one: each pass hands the kernel every send and receive that fell due and waits in the
// same system call, a fraction of a call per request. Receives are recvmsg, so each answer comes
// with its arrival stamp and may wait in the completion queue without growing late. The
// connections' state machine is the epoll loop's; only how bytes move differs. Where io_uring
// is missing or refused (kernels before 6.1, seccomp, kernel.io_uring_disabled) the loop falls
// back to epoll. Why: docs/ARCHITECTURE.md, "The event loop"; measurements: docs/performance.md.

// ringMaxWait bounds one wait for completions. The wait is a raw system call (cheaper than a
// scheduler-aware one), so it holds the loop's P: goroutines queued on that P (progress, the
// timeline, signal delivery) wait at most this long. A signal ends the wait early, so the
// scheduler's preemption still gets through.
const ringMaxWait = 10 * time.Millisecond

// ringMinSleep is the shortest sleep of the open model's loop: at high rates it sends the
// requests that fell due meanwhile together, up to that much late (recorded as dispatch lag, not
// charged to the target), instead of waking for each, which cost the generator more than twice the
// CPU per request (docs/performance.md).
const ringMinSleep = 200 * time.Microsecond

// At full speed the loop wakes for a share of its users' answers (1/ringGatherShare of them), or
// for those that came within ringGather of the first, rather than for each: fewer wakes leave
// more of the cores to the target, and the answers are dated by the kernel, so gathering adds
// nothing to their latency; it only delays the users' next requests, as wrk's batches of epoll
// events do. The values were chosen in paired rounds against wrk (docs/performance.md).
const (
	ringGatherShare = 3
	ringGather      = 50 * time.Microsecond
)

// ringDrainWait bounds how long the loop waits, at its end, for the kernel to finish with the
// buffers of operations it cut short.
const ringDrainWait = time.Second

type ringOpKind uint8

const (
	ringConnect ringOpKind = iota // a poll for the end of a non-blocking connect
	ringSend
	ringRecv
)

// ringOp is an operation the kernel holds. Its slot keeps the buffer the kernel reads or writes
// alive until the completion comes, even when the connection has moved on (closed, or given a
// fresh buffer): a completion whose seq is not its connection's is stale and only frees the slot.
type ringOp struct {
	c    *evConn
	seq  uint32
	kind ringOpKind
	buf  []byte
	rx   *rxMsg // a receive's message header, which the kernel also writes: kept alive like buf
}

// stranded keeps the buffers of operations the kernel did not finish within ringDrainWait of
// their loop's end, so that the memory it may still write is never reused. It stays empty unless
// a kernel misbehaves.
var stranded struct {
	sync.Mutex
	ops []ringOp
}

// runRing drives the connections through an io_uring until the run is over; it reports false,
// having done nothing, when no ring can be had.
func (l *evLoop) runRing() bool {
	// The ring is set up for one submitting thread, the one that creates it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := newUring(ringEntries(len(l.conns)))
	if err != nil {
		return false
	}
	l.ring = r
	l.x.ring.Store(true)
	defer l.closeRing()
	// Answers are dated by the kernel in either model: a receive's completion may wait in the
	// queue while the loop sleeps or gathers more.
	l.stamp = true
	for l.ctx.Err() == nil {
		if l.stamp {
			l.takeWallOffset()
		}
		now := l.e.since()
		l.dispatch(now)
		l.expire(now)
		if l.finished(now) {
			return true
		}
		wait := max(l.nextWake(now)-now, time.Microsecond)
		switch {
		case !l.spin && l.stamp && l.canWait(): // at full speed no send is ever planned
			// Sleep until the next send: answers complete meanwhile, dated by the kernel.
			if l.sleepUnlessHungUp(max(wait, ringMinSleep)) {
				continue
			}
		case l.opsOut == 0:
			r.sleep(wait) // nothing in flight (closed-model users thinking): nothing ends the wait early
		case l.spin && l.stamp && r.canGather:
			r.gather(uint32(max(1, min(len(l.conns)/ringGatherShare, l.opsOut))), ringGather, min(wait, ringMaxWait))
		default:
			r.enter(1, min(wait, ringMaxWait))
		}
		r.completions(l.completed)
	}
	l.interrupt()
	return true
}

// sleepUnlessHungUp submits what is queued and sleeps up to wait, but wakes as soon as a
// connection hangs up or fails (the alarm set): an answer that ends so completes its receive
// without bytes, hence without a stamp, and is dated when the loop sees it. It then runs the
// completions and closes the connections that hung up between requests, and reports true. It
// reports false, having submitted only, when the alarm set cannot be waited on; the loop then
// sleeps in the ring as before.
func (l *evLoop) sleepUnlessHungUp(wait time.Duration) bool {
	r := l.ring
	r.enter(0, 0)
	if l.noAlarm {
		r.sleep(wait)
		r.completions(l.completed)
		return true
	}
	n, err := epollWaitFor(l.alarm, l.evs, wait, &l.alarmTS)
	if err != nil && !errors.Is(err, syscall.EINTR) {
		l.noAlarm = true
		return false
	}
	r.settle()
	r.completions(l.completed)
	for _, ev := range l.evs[:max(n, 0)] {
		if c := l.conns[ev.Fd]; c.fd >= 0 && c.state != csInflight {
			l.closeConn(c)
		}
	}
	return true
}

// ringEntries sizes the submission queue: a send, a receive and a connect poll per connection
// at most, as a power of two. The completion queue is twice as large, so it cannot overflow.
func ringEntries(conns int) uint32 {
	n := uint32(64)
	for int(n) < 3*conns && n < 1<<15 {
		n <<= 1
	}
	return n
}

// submit queues an operation of kind for c on buf and returns its entry for the caller to fill.
func (l *evLoop) submit(c *evConn, kind ringOpKind, buf []byte) *uringSQE {
	var slot uint32
	if n := len(l.freeOps); n > 0 {
		slot, l.freeOps = l.freeOps[n-1], l.freeOps[:n-1]
	} else {
		slot = uint32(len(l.ops))
		l.ops = append(l.ops, ringOp{})
	}
	l.ops[slot] = ringOp{c: c, seq: c.seq, kind: kind, buf: buf}
	if kind == ringRecv {
		l.ops[slot].rx = c.rx
	}
	l.opsOut++
	s := l.ring.next()
	s.fd, s.userData = int32(c.fd), uint64(slot)
	if len(buf) > 0 {
		s.addr, s.len = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))), uint32(len(buf))
	}
	return s
}

// ringSend queues the rest of c's request and, unless one is pending, a receive for its answer:
// the receive waits in the kernel for the first bytes.
func (l *evLoop) ringSend(c *evConn) {
	s := l.submit(c, ringSend, c.wbuf[c.wpos:])
	s.opcode, s.opFlags = uringOpSend, syscall.MSG_NOSIGNAL
	c.sending = true
	if !c.receiving {
		l.ringRecv(c)
	}
}

// ringRecv queues a receive into c's read buffer: a recvmsg when answers are stamped, so the
// kernel hands over the arrival time with the bytes.
func (l *evLoop) ringRecv(c *evConn) {
	c.room = c.rb.free()
	s := l.submit(c, ringRecv, c.room)
	s.opcode = uringOpRecv
	if l.stamp {
		s.opcode, s.addr, s.len = uringOpRecvmsg, uint64(uintptr(unsafe.Pointer(c.rx.point(c.room)))), 1
	}
	c.receiving = true
}

// ringConnecting queues a poll for the end of c's non-blocking connect.
func (l *evLoop) ringConnecting(c *evConn) {
	s := l.submit(c, ringConnect, nil)
	s.opcode, s.opFlags = uringOpPoll, syscall.EPOLLOUT
	c.sending = true
}

// completed handles one completion.
func (l *evLoop) completed(cqe *uringCQE) {
	op := &l.ops[cqe.userData]
	c, stale, kind := op.c, op.seq != op.c.seq, op.kind
	*op = ringOp{}
	l.freeOps = append(l.freeOps, uint32(cqe.userData))
	l.opsOut--
	if stale {
		return
	}
	var err error
	if cqe.res < 0 {
		err = syscall.Errno(-cqe.res)
	}
	switch kind {
	case ringConnect:
		c.sending = false
		if err != nil {
			l.fail(c, os.NewSyscallError("connect", err))
		} else if l.connected(c) {
			l.flush(c)
		}
	case ringSend:
		c.sending = false
		if err != nil {
			l.failOrRetry(c, os.NewSyscallError("write", err))
			return
		}
		if c.wpos += int(cqe.res); c.wpos < len(c.wbuf) {
			l.ringSend(c)
		}
	case ringRecv:
		c.receiving = false
		l.arrival(c, c.rx, int(cqe.res))
		if l.got(c, c.room, int(max(cqe.res, 0)), err) {
			l.ringRecv(c)
		}
	}
}

// ringRelease cuts short c's pending operations before its descriptor closes: a shutdown ends a
// receive or send the kernel holds (a close alone would not), and c's read buffer is replaced,
// since the old one stays the kernel's until the operation completes.
func (l *evLoop) ringRelease(c *evConn) {
	if c.sending || c.receiving {
		_ = syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
	}
	if c.receiving {
		c.rb, c.rx = newReadBuf(), new(rxMsg)
	}
	c.seq++
	c.sending, c.receiving = false, false
}

// closeRing waits for the kernel to finish the operations the loop cut short (their connections
// are shut down by then, so it is quick), then closes the ring.
func (l *evLoop) closeRing() {
	for _, c := range l.conns {
		l.closeConn(c)
	}
	deadline := time.Now().Add(ringDrainWait)
	for l.opsOut > 0 && time.Now().Before(deadline) {
		l.ring.enter(1, ringMaxWait)
		l.ring.completions(l.completed)
	}
	if l.opsOut > 0 {
		stranded.Lock()
		for _, op := range l.ops {
			if op.c != nil {
				stranded.ops = append(stranded.ops, op)
			}
		}
		stranded.Unlock()
	}
	l.ring.close()
	l.ring = nil
}
