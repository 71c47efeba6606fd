//go:build linux

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The event loop is the fast HTTP/1.1 path on Linux, wrk's design in Go: one goroutine drives
// many non-blocking connections through an epoll set of its own, which Go's netpoller waits on,
// so the loop parks like any goroutine; it saves the goroutine switch and the EAGAIN read per
// request of a goroutine per connection. In the open model, while a connection holds the next
// send, the loop does not wake for answers: it reads them at that send, dated by the kernel on
// arrival (SO_TIMESTAMPNS), so reading late does not make them late. Where the kernel has an
// io_uring the loop moves its bytes through it instead (ringloop_linux.go). Why it is built so:
// docs/ARCHITECTURE.md, "The event loop"; what it measured: docs/performance.md.

const loopPoll = 50 * time.Millisecond // longest sleep: bounds how late cancellation is seen

// At full speed on epoll the loop polls for answers for up to spinQuiet after its last one
// before it parks: a wake through Go's poller comes tens of microseconds after the answer, and
// with every user waiting on the round trip that latency is throughput (the value was measured:
// docs/performance.md). spinMax bounds one step's spinning, so timeouts and cancellation are
// still seen within a millisecond.
const (
	spinQuiet = 30 * time.Microsecond
	spinMax   = time.Millisecond
)

// loopCount is how many event loops share the connections: one per 128 connections, at most one
// per usable core (one loop for 50 connections reaches the rate of two on less CPU:
// docs/performance.md).
func loopCount(conns int) int {
	return max(1, min(runtime.GOMAXPROCS(0), (conns+127)/128))
}

type connState uint8

const (
	csIdle     connState = iota
	csWaiting            // holds a request due in the future (or a closed-model user thinking)
	csInflight           // request written or being written; answer expected
)

type evConn struct {
	idx        int
	fd         int // -1: no connection
	addr       int // index into loop.addrs of the connected address
	connecting bool
	used       bool // carried a complete exchange: a close before any answer byte may be stale
	retried    bool
	state      connState
	wakeAt     time.Duration // csWaiting: when to send
	deadline   time.Duration // csInflight: when the request times out
	target     int
	rb         readBuf
	wbuf       []byte
	wpos       int
	p          respParser
	smp        sample
	tp         [55]byte
	freedAt    time.Duration // when the last answer arrived (or the connection failed)
	arrived    time.Duration // when the bytes of the last read arrived, per the kernel if stamped
	rx         *rxMsg        // the receive's message header, when answers are stamped

	// With an io_uring (ringloop_linux.go):
	seq                uint32 // changes when the connection closes: completions of older operations are stale
	sending, receiving bool   // the kernel holds a send (or connect poll), a receive
	room               []byte // where the pending receive writes
}

// rxMsg is a recvmsg header with room for the receive timestamp. With an io_uring the kernel
// writes it when the receive completes, so a connection that closes with a receive pending gets a
// fresh one, as it gets a fresh read buffer.
type rxMsg struct {
	msg syscall.Msghdr
	iov syscall.Iovec
	oob [64]byte // control messages: the receive timestamp
}

// point makes m a header for a receive into room.
func (m *rxMsg) point(room []byte) *syscall.Msghdr {
	m.iov.Base, m.iov.Len = &room[0], uint64(len(room))
	m.msg.Iov, m.msg.Iovlen = &m.iov, 1
	m.msg.Control, m.msg.Controllen = &m.oob[0], uint64(len(m.oob))
	return &m.msg
}

// control returns the control messages the kernel wrote.
func (m *rxMsg) control() []byte { return m.oob[:min(m.msg.Controllen, uint64(len(m.oob)))] }

type evLoop struct {
	e     *engine
	x     *loops
	ctx   context.Context
	reqs  []*h1Request
	addrs []resolved
	tAddr []int    // target → index into addrs
	epfd  int      // the connections' epoll set
	alarm int      // the connections again, for hang-ups and errors only: they wake the loop even while it reads lazily
	outer int      // the epoll set the poller waits on: holds alarm, and epfd while answers should wake the loop
	ef    *os.File // outer, as the poller knows it
	rc    syscall.RawConn
	conns []*evConn
	evs   []syscall.EpollEvent
	rng   *rand.Rand

	schedDone bool
	countDone bool // closed model: Config.Requests were handed out
	unsent    int64
	deadline  time.Duration // when the poller will wake the loop without events

	spin    bool          // closed model without think time, on epoll: poll a little before parking
	stamp   bool          // answers are dated by the kernel (open model; any model on io_uring), and read lazily while a send is planned
	lazy    bool          // epfd is out of outer: answers do not wake the loop
	skip    bool          // the next step comes right after one: nothing to do
	wallOff time.Duration // wall clock minus run time, taken each step, to convert kernel stamps

	noAlarm bool             // on io_uring: the alarm set could not be waited on
	alarmTS syscall.Timespec // the alarm wait's timeout, kept off the stack

	ring    *uring // at full speed, when the kernel has one: moves the bytes instead of epoll
	ops     []ringOp
	freeOps []uint32 // free slots of ops
	opsOut  int      // operations the kernel holds
}

type resolved struct {
	sa     syscall.Sockaddr
	family int
}

// resolveAddrs resolves each distinct target address once.
func resolveAddrs(reqs []*h1Request) ([]resolved, []int, error) {
	var addrs []resolved
	index := map[string]int{}
	tAddr := make([]int, len(reqs))
	for i, r := range reqs {
		if j, ok := index[r.addr]; ok {
			tAddr[i] = j
			continue
		}
		ta, err := net.ResolveTCPAddr("tcp", r.addr)
		if err != nil {
			return nil, nil, err
		}
		var res resolved
		if ip4 := ta.IP.To4(); ip4 != nil {
			sa := &syscall.SockaddrInet4{Port: ta.Port}
			copy(sa.Addr[:], ip4)
			res = resolved{sa: sa, family: syscall.AF_INET}
		} else {
			sa := &syscall.SockaddrInet6{Port: ta.Port}
			copy(sa.Addr[:], ta.IP.To16())
			res = resolved{sa: sa, family: syscall.AF_INET6}
		}
		index[r.addr] = len(addrs)
		tAddr[i] = len(addrs)
		addrs = append(addrs, res)
	}
	return addrs, tAddr, nil
}

// ownAddrs copies the socket addresses for one loop: syscall.Connect writes into the Sockaddr it
// is given, so loops must not share them.
func ownAddrs(addrs []resolved) []resolved {
	out := make([]resolved, len(addrs))
	for i, a := range addrs {
		out[i] = a
		switch sa := a.sa.(type) {
		case *syscall.SockaddrInet4:
			c := *sa
			out[i].sa = &c
		case *syscall.SockaddrInet6:
			c := *sa
			out[i].sa = &c
		}
	}
	return out
}

func newEvLoop(ctx context.Context, x *loops, conns int, seed uint64) (*evLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	alarm, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	outer, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		syscall.Close(epfd)
		syscall.Close(alarm)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	err = syscall.EpollCtl(outer, syscall.EPOLL_CTL_ADD, epfd, &syscall.EpollEvent{Events: syscall.EPOLLIN})
	if err == nil {
		err = syscall.EpollCtl(outer, syscall.EPOLL_CTL_ADD, alarm, &syscall.EpollEvent{Events: syscall.EPOLLIN})
	}
	if err == nil {
		err = syscall.SetNonblock(outer, true)
	}
	if err != nil {
		syscall.Close(epfd)
		syscall.Close(alarm)
		syscall.Close(outer)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	ef := os.NewFile(uintptr(outer), "epoll")
	rc, err := ef.SyscallConn()
	if err != nil {
		ef.Close()
		syscall.Close(epfd)
		syscall.Close(alarm)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	e := x.e
	l := &evLoop{
		e: e, x: x, ctx: ctx, reqs: x.reqs, addrs: ownAddrs(x.addrs), tAddr: x.tAddr, epfd: epfd, alarm: alarm, outer: outer, ef: ef, rc: rc,
		evs: make([]syscall.EpollEvent, 256), rng: rand.New(rand.NewPCG(seed, rand.Uint64())),
		stamp: e.cfg.Model == ModelOpen,
		spin:  e.cfg.Model == ModelClosed && e.cfg.Think == 0,
	}
	for i := range conns {
		l.conns = append(l.conns, &evConn{idx: i, fd: -1, rb: newReadBuf(), wbuf: make([]byte, 0, 1024), rx: new(rxMsg)})
	}
	return l, nil
}

// run drives the connections until the run is over or ctx ends, and returns the number of
// requests that fell due but were never sent.
func (l *evLoop) run() int64 {
	defer l.closeAll()
	if l.e.cfg.path == pathAuto && l.runRing() {
		return l.unsent
	}
	// rc.Read calls step, and parks in the poller after each false until the epoll set has events
	// or the deadline passes. A passed deadline returns an error without calling step again (the
	// poller refuses to wait past it), so step is called once more here to send what fell due and
	// arm the next deadline.
	for l.rc.Read(l.step) != nil {
		l.skip = false
		if l.step(0) {
			break
		}
		// rc.Read calls step again at once; while lazy it has nothing new to see.
		l.skip = l.lazy
	}
	l.interrupt()
	return l.unsent
}

// interrupt counts the requests in flight when the run's context ended, as errors of kind
// KindInterrupted dated now: they had waited that long, and a result without them would hide a
// target that stopped answering. It does nothing when the run ended on its own.
func (l *evLoop) interrupt() {
	if l.ctx.Err() == nil {
		return
	}
	for _, c := range l.conns {
		if c.state == csInflight {
			l.fail(c, errCanceled)
		}
	}
}

// step handles what epoll reports, sends what is due, expires what timed out and arms the
// poller's deadline for the next thing to do without events; it reports whether the run is over.
// Doing all of it inside the poller's callback means a wake costs one epoll_wait, not a second
// one to find the set empty before parking again.
func (l *evLoop) step(uintptr) bool {
	if l.skip {
		l.skip = false
		if l.e.since() < l.deadline {
			return false // park: the deadline is still ahead, so the poller will wake the loop
		}
	}
	e := l.e
	if l.stamp {
		l.takeWallOffset()
	}
	l.drain()
	if l.ctx.Err() != nil {
		return true
	}
	now := e.since()
	l.dispatch(now)
	if l.spin {
		now = l.spinFor(now)
	}
	l.expire(now)
	if l.finished(now) {
		return true
	}
	// Moving the poller's deadline costs a timer update: do it only when the loop must wake
	// earlier than already arranged, or the arranged wake has passed.
	if wake := l.nextWake(now); wake < l.deadline || l.deadline <= now {
		l.deadline = wake
		_ = l.ef.SetReadDeadline(e.start.Add(wake))
	}
	l.setLazy(l.stamp && l.canWait())
	return false
}

// canWait reports whether the loop may sleep through answers: a connection holds the next send,
// and none is connecting or part-way through a write (those need their events).
func (l *evLoop) canWait() bool {
	holder := false
	for _, c := range l.conns {
		switch {
		case c.state == csWaiting:
			holder = true
		case c.state == csInflight && (c.connecting || l.writing(c)):
			return false
		}
	}
	return holder
}

// ringSureSend is the largest send the loop trusts to complete at once on an io_uring, so that it
// may sleep without seeing the completion: the kernel tries a send as it is submitted, and a
// connection between requests has an empty send buffer of 16 KiB or more (net.ipv4.tcp_wmem's
// default; a quarter of it leaves room for the kernel's overhead per buffer). A larger request
// keeps the loop awake until it is all sent.
const ringSureSend = 4 << 10

// writing reports whether part of c's request may still be waiting for room in the socket.
func (l *evLoop) writing(c *evConn) bool {
	if l.ring != nil {
		return c.sending && len(c.wbuf)-c.wpos > ringSureSend
	}
	return c.wpos < len(c.wbuf)
}

// setLazy takes the connections' epoll set out of the poller's (answers wait for the next planned
// wake) or puts it back (answers wake the loop). Putting it back while answers are pending makes
// the poller's set ready at once, so none waits.
func (l *evLoop) setLazy(lazy bool) {
	if lazy == l.lazy {
		return
	}
	op := syscall.EPOLL_CTL_ADD
	if lazy {
		op = syscall.EPOLL_CTL_DEL
	}
	if err := syscall.EpollCtl(l.outer, op, l.epfd, &syscall.EpollEvent{Events: syscall.EPOLLIN}); err != nil {
		// Cannot switch: keep waking for answers, which is always correct.
		l.stamp = false
		return
	}
	l.lazy = lazy
}

// finished reports whether nothing is left to do.
func (l *evLoop) finished(now time.Duration) bool {
	for _, c := range l.conns {
		if c.state != csIdle {
			return false
		}
	}
	if l.e.cfg.Model == ModelOpen {
		return l.schedDone
	}
	return now >= l.e.total || l.countDone
}

// dispatch sends what is due and gives idle connections their next request.
func (l *evLoop) dispatch(now time.Duration) {
	e := l.e
	for _, c := range l.conns {
		if c.state == csWaiting && c.wakeAt <= now {
			if e.cfg.Model == ModelClosed {
				if now >= e.total || !e.takeClosed(now) {
					c.state = csIdle
					continue
				}
				c.smp.due, c.smp.pickup = now, now
			}
			l.send(c)
		}
	}
	for _, c := range l.conns {
		if c.state != csIdle {
			continue
		}
		if e.cfg.Model == ModelClosed {
			if now < e.total && !l.countDone && e.takeClosed(now) {
				c.smp.due, c.smp.pickup = now, now
				l.send(c)
			} else if now < e.total {
				l.countDone = true
			}
			continue
		}
		for c.state == csIdle && !l.schedDone {
			due, pickup, ok := e.nextDue(func() time.Duration { return now }, &l.unsent)
			if !ok {
				l.schedDone = true
				break
			}
			// A request due before now could have gone out once both it and the connection were
			// ready: the connection has been free since its last answer arrived.
			c.smp.due, c.smp.pickup = due, pickup
			if due <= now {
				c.smp.pickup = min(now, c.freedAt)
				l.send(c)
			} else {
				c.state, c.wakeAt = csWaiting, due
			}
		}
	}
}

// expire fails requests past their timeout.
func (l *evLoop) expire(now time.Duration) {
	for _, c := range l.conns {
		if c.state == csInflight && now >= c.deadline {
			l.fail(c, os.ErrDeadlineExceeded)
		}
	}
}

// nextWake is when the loop must look again even if no event comes.
func (l *evLoop) nextWake(now time.Duration) time.Duration {
	wake := now + loopPoll
	for _, c := range l.conns {
		switch c.state {
		case csWaiting:
			wake = min(wake, c.wakeAt)
		case csInflight:
			wake = min(wake, c.deadline)
		}
	}
	if l.e.cfg.Model == ModelClosed && now < l.e.total {
		wake = min(wake, l.e.total)
	}
	return max(wake, now)
}

// send starts c's request: picks the target, stamps a fresh traceparent, connects if needed and
// writes what the socket takes.
func (l *evLoop) send(c *evConn) {
	e := l.e
	c.target = e.stamp(l.rng, &c.smp, &c.tp)
	r := l.reqs[c.target]
	c.wbuf = append(append(append(append(append(c.wbuf[:0], r.head...), "Traceparent: "...), c.tp[:]...), "\r\n"...), r.tail...)
	c.smp.sent = e.since()
	c.deadline = c.smp.sent + e.cfg.Timeout
	c.retried = false
	l.start(c)
}

// start (re)connects c if needed and writes its request.
func (l *evLoop) start(c *evConn) {
	c.state, c.wpos = csInflight, 0
	c.p.reset(l.reqs[c.target].head0, l.e.cfg.MaxBody)
	if want := l.tAddr[c.target]; c.fd >= 0 && c.addr != want {
		l.closeConn(c)
	}
	if c.fd < 0 {
		if err := l.connect(c); err != nil {
			l.fail(c, err)
			return
		}
	}
	if !c.connecting {
		l.flush(c)
	}
}

func (l *evLoop) connect(c *evConn) error {
	a := l.addrs[l.tAddr[c.target]]
	fd, err := syscall.Socket(a.family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	if l.stamp && syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) != nil {
		l.stamp = false
	}
	err = syscall.Connect(fd, a.sa)
	if err != nil && !errors.Is(err, syscall.EINPROGRESS) {
		syscall.Close(fd)
		return os.NewSyscallError("connect", err)
	}
	c.fd, c.addr, c.used = fd, l.tAddr[c.target], false
	c.rb.clear()
	c.connecting = err != nil
	if l.stamp {
		// Level-triggered: the loop closes a connection it hears hang up (or reads its end), which
		// takes it out of the set, so a reported connection is not reported again.
		if err := syscall.EpollCtl(l.alarm, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLRDHUP, Fd: int32(c.idx)}); err != nil {
			syscall.Close(fd)
			c.fd = -1
			return os.NewSyscallError("epoll_ctl", err)
		}
	}
	if l.ring != nil {
		if c.connecting {
			l.ringConnecting(c)
		}
		return nil
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.idx)}
	if c.connecting {
		ev.Events |= syscall.EPOLLOUT
	}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		syscall.Close(fd)
		c.fd = -1
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// flush writes as much of the pending request as the socket takes; the rest waits for EPOLLOUT.
func (l *evLoop) flush(c *evConn) {
	if l.ring != nil {
		l.ringSend(c)
		return
	}
	for c.wpos < len(c.wbuf) {
		n, err := rawWrite(c.fd, c.wbuf[c.wpos:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EAGAIN) {
			l.interest(c, syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLOUT)
			return
		}
		if err != nil {
			l.failOrRetry(c, os.NewSyscallError("write", err))
			return
		}
		c.wpos += n
	}
}

func (l *evLoop) interest(c *evConn, events uint32) {
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: events, Fd: int32(c.idx)})
}

// spinFor polls for answers and sends the users' next requests until none came for spinQuiet,
// or for spinMax in all; it returns the time it stopped.
func (l *evLoop) spinFor(now time.Duration) time.Duration {
	quietEnd, end := now+spinQuiet, now+spinMax
	for now < quietEnd && now < end {
		got := l.drain() > 0
		now = l.e.since()
		if got {
			l.dispatch(now)
			quietEnd = now + spinQuiet
		}
	}
	return now
}

// drain handles the events epoll has ready, without waiting, batch after batch until one is not
// full, and returns how many there were. The set was then empty when looked at, and anything
// that arrives later makes the poller wake the loop: the epoll descriptor is registered
// edge-triggered, and the poller remembers an edge that comes before the loop parks.
func (l *evLoop) drain() int {
	total := 0
	for {
		n := l.drainOnce()
		total += n
		if n < len(l.evs) {
			return total
		}
	}
}

// drainOnce handles one batch of ready events (at most len(l.evs)) and returns its size.
func (l *evLoop) drainOnce() int {
	n, err := pollNow(l.epfd, l.evs)
	if err != nil || n <= 0 {
		return 0
	}
	for _, ev := range l.evs[:n] {
		c := l.conns[ev.Fd]
		if c.fd < 0 {
			continue
		}
		if c.state != csInflight {
			// The server spoke or hung up between requests: drop the connection.
			l.closeConn(c)
			continue
		}
		if ev.Events&syscall.EPOLLOUT != 0 {
			if c.connecting && !l.connected(c) {
				continue
			}
			l.flush(c)
			if c.state == csInflight && c.wpos == len(c.wbuf) {
				l.interest(c, syscall.EPOLLIN|syscall.EPOLLRDHUP)
			}
		}
		if c.state == csInflight && ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
			l.readable(c, ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0)
		}
	}
	return n
}

// connected finishes c's non-blocking connect; when it failed, it fails c's request and reports
// false.
func (l *evLoop) connected(c *evConn) bool {
	soErr, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err == nil && soErr != 0 {
		err = syscall.Errno(soErr)
	}
	if err != nil {
		l.fail(c, os.NewSyscallError("connect", err))
		return false
	}
	c.connecting = false
	return true
}

// readable reads what arrived for c and completes its answer when whole. When the server hung up
// (hup) it reads on to the end of the stream, which ends the answer now: left for the next event,
// it would be read, and dated, only when the loop next wakes for a send.
func (l *evLoop) readable(c *evConn, hup bool) {
	for {
		room := c.rb.free()
		n, err := l.read(c, room)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return
		}
		if !l.got(c, room, n, err) || n < len(room) && !hup {
			return // level-triggered: more data raises another event
		}
	}
}

// got handles one read into room: n bytes, the end of the stream (0) or err. It completes c's
// answer when whole and reports whether the answer needs more bytes.
func (l *evLoop) got(c *evConn, room []byte, n int, err error) bool {
	switch {
	case err != nil:
		l.failOrRetry(c, os.NewSyscallError("read", err))
		return false
	case n == 0:
		if c.p.eof() {
			l.complete(c, false)
		} else {
			l.failOrRetry(c, io.ErrUnexpectedEOF)
		}
		return false
	}
	c.rb.add(n, room)
	used, done, perr := c.p.feed(c.rb.unparsed())
	c.rb.r += used
	switch {
	case perr != nil:
		l.fail(c, perr)
		return false
	case done:
		l.complete(c, c.p.keep)
		return false
	}
	return true
}

// read reads into room and sets c.arrived to when the bytes arrived: the kernel's receive stamp
// when the loop reads lazily, converted to run time and kept within [sent, now]; otherwise now.
func (l *evLoop) read(c *evConn, room []byte) (int, error) {
	if !l.stamp {
		n, err := rawRead(c.fd, room)
		c.arrived = l.e.since()
		return n, err
	}
	r, _, errno := syscall.RawSyscall(syscall.SYS_RECVMSG, uintptr(c.fd), uintptr(unsafe.Pointer(c.rx.point(room))), 0)
	if errno != 0 {
		c.arrived = l.e.since()
		return -1, errno
	}
	l.arrival(c, c.rx, int(r))
	return int(r), nil
}

// arrival sets c.arrived for a receive of n bytes through m: the kernel's stamp, converted to run
// time and kept within [sent, now], when answers are stamped; otherwise now.
func (l *evLoop) arrival(c *evConn, m *rxMsg, n int) {
	now := l.e.since()
	c.arrived = now
	if !l.stamp || n <= 0 {
		return
	}
	if at, ok := rxStamp(m.control()); ok {
		c.arrived = max(c.smp.sent, min(now, at-l.wallOff))
	} else {
		l.stamp = false // no stamps from this kernel: wake for answers from now on
	}
}

// takeWallOffset notes the wall clock's offset from run time, which converts the kernel's stamps.
func (l *evLoop) takeWallOffset() {
	t := time.Now()
	l.wallOff = time.Duration(t.UnixNano()) - t.Sub(l.e.start)
}

// The loop's sockets are non-blocking and its epoll waits do not wait, so their system calls
// never block: they go without the scheduler's syscall bookkeeping (entersyscall/exitsyscall,
// which also wakes an idle sysmon thread each time), as syscall.RawSyscall allows.

func rawWrite(fd int, p []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return rawResult(n, errno)
}

func rawRead(fd int, p []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return rawResult(n, errno)
}

// pollNow returns the events epfd has ready, without waiting. It is epoll_pwait without a signal
// mask, which every architecture has (arm64 has no epoll_wait).
func pollNow(epfd int, evs []syscall.EpollEvent) (int, error) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(evs))), uintptr(len(evs)), 0, 0, 0)
	return rawResult(n, errno)
}

// sysEpollPwait2 is epoll_pwait2, which takes its timeout in nanoseconds (Linux 5.11, older than
// any io_uring the loop uses); the same number on every architecture.
const sysEpollPwait2 = 441

// epollWaitFor returns the events epfd has ready, waiting up to wait for one; ts holds the
// timeout. A wait longer than ringRawSleep goes through the scheduler, as uring.sleep does.
func epollWaitFor(epfd int, evs []syscall.EpollEvent, wait time.Duration, ts *syscall.Timespec) (int, error) {
	*ts = syscall.NsecToTimespec(int64(wait))
	call := syscall.RawSyscall6
	if wait > ringRawSleep {
		call = syscall.Syscall6
	}
	n, _, errno := call(sysEpollPwait2, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(evs))), uintptr(len(evs)), uintptr(unsafe.Pointer(ts)), 0, 0)
	return rawResult(n, errno)
}

func rawResult(n uintptr, errno syscall.Errno) (int, error) {
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// rxStamp finds the SCM_TIMESTAMPNS control message in oob and returns its wall-clock time.
func rxStamp(oob []byte) (time.Duration, bool) {
	const hdr = int(unsafe.Sizeof(syscall.Cmsghdr{}))
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if int(h.Len) < hdr || int(h.Len) > len(oob) {
			return 0, false
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && int(h.Len) >= hdr+16 {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[hdr]))
			return time.Duration(ts.Nano()), true
		}
		const align = int(unsafe.Sizeof(uintptr(0))) // control messages are word-aligned
		next := (int(h.Len) + align - 1) &^ (align - 1)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return 0, false
}

// failOrRetry sends the request again on a fresh connection when a kept-alive connection turns
// out to have been closed by the server before any answer byte (as net/http does), else fails it.
func (l *evLoop) failOrRetry(c *evConn, err error) {
	if c.used && !c.p.gotAny && !c.retried && isStaleClose(err) && l.ctx.Err() == nil {
		l.closeConn(c)
		c.retried = true
		l.start(c)
		return
	}
	l.fail(c, err)
}

func (l *evLoop) complete(c *evConn, keep bool) {
	c.smp.done = c.arrived
	c.smp.status, c.smp.bytes, c.smp.kind = c.p.status, c.p.total, ""
	if c.p.status >= 400 {
		c.smp.kind = statusKind(c.p.status)
	}
	c.used = true
	if !keep || c.sending {
		// A connection whose answer came before its request was all sent cannot carry the next.
		l.closeConn(c)
	}
	l.finish(c)
}

func (l *evLoop) fail(c *evConn, err error) {
	c.smp.done = l.e.since()
	c.smp.status, c.smp.bytes, c.smp.kind = c.p.status, c.p.total, errorKind(err)
	if l.ctx.Err() != nil {
		c.smp.kind = KindInterrupted // cut short by the interruption, whatever the error says
	}
	l.closeConn(c)
	l.finish(c)
}

// finish records c's request and frees the connection (after the think time, closed model).
func (l *evLoop) finish(c *evConn) {
	c.freedAt = c.smp.done
	l.e.rec.record(&c.smp)
	c.state = csIdle
	if l.e.cfg.Model == ModelClosed && l.e.cfg.Think > 0 {
		c.state, c.wakeAt = csWaiting, c.smp.done+l.e.cfg.Think
	}
}

func (l *evLoop) closeConn(c *evConn) {
	if c.fd >= 0 {
		if l.ring != nil {
			l.ringRelease(c)
		} else {
			_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
		}
		syscall.Close(c.fd)
		c.fd, c.connecting, c.used = -1, false, false
	}
}

func (l *evLoop) closeAll() {
	for _, c := range l.conns {
		l.closeConn(c)
	}
	l.ef.Close()
	syscall.Close(l.epfd)
	syscall.Close(l.alarm)
}

// loops is the executor of event loops: each drives its share of the connections (loopCount).
type loops struct {
	e     *engine
	reqs  []*h1Request
	addrs []resolved
	tAddr []int
	ring  atomic.Bool // a loop ran on io_uring
}

var _ executor = (*loops)(nil)

// newLoops returns the event loops' executor, or nil when an address does not resolve (then the
// per-connection senders report the error for each request).
func newLoops(e *engine, reqs []*h1Request) executor {
	addrs, tAddr, err := resolveAddrs(reqs)
	if err != nil {
		return nil
	}
	return &loops{e: e, reqs: reqs, addrs: addrs, tAddr: tAddr}
}

func (x *loops) io() string {
	if x.ring.Load() {
		return "io_uring"
	}
	return "epoll"
}

func (x *loops) start(ctx context.Context, wg *sync.WaitGroup, unsent func(int64)) error {
	n := loopCount(x.e.cfg.Connections)
	var ls []*evLoop
	for i := range n {
		conns := x.e.cfg.Connections / n
		if i < x.e.cfg.Connections%n {
			conns++
		}
		l, err := newEvLoop(ctx, x, conns, uint64(i))
		if err != nil {
			for _, l := range ls {
				l.closeAll()
			}
			return err
		}
		ls = append(ls, l)
	}
	for _, l := range ls {
		wg.Go(func() { unsent(l.run()) })
	}
	return nil
}
