//go:build linux

package loadgen

import (
	"errors"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// uring is the smallest io_uring the event loop needs: a submission queue of sends, receives and
// polls, and a completion queue read from shared memory. The standard library has no io_uring,
// and what the loop needs of one fits here; the kernel's ABI (include/uapi/linux/io_uring.h) is
// stable.
type uring struct {
	fd      int
	sqMem   []byte
	sqeMem  []byte
	sqTail  *uint32 // shared: the kernel consumes up to it
	sqMask  uint32
	sqArray []uint32
	sqes    []uringSQE
	cqHead  *uint32 // shared: we consume up to it
	cqTail  *uint32 // shared: the kernel fills up to it
	cqMask  uint32
	cqes    []uringCQE
	tail    uint32 // our submission tail, published to sqTail on enter
	unsent  uint32 // queued entries not yet taken by the kernel
	free    uint32 // submission slots left before the queue is full
	ts      syscall.Timespec
	waitArg uringGetEventsArg // points at ts; both live here, not on a stack that may move

	canGather bool // the kernel takes a minimum wait (IORING_FEAT_MIN_TIMEOUT, 6.12+): see gather
}

type uringSQE struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	opFlags  uint32 // msg_flags, poll32_events ...
	userData uint64
	bufIndex uint16
	_        uint16
	_        int32
	_        [2]uint64
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	_                                                                      [3]uint32
	sqOff                                                                  [10]uint32 // head, tail, ring_mask, ring_entries, flags, dropped, array, resv1, user_addr (u64)
	cqOff                                                                  [10]uint32 // head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1, user_addr (u64)
}

// uringGetEventsArg is io_uring_getevents_arg: how io_uring_enter takes a wait timeout.
type uringGetEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWait   uint32
	ts        uint64
}

const (
	sysIOUringSetup = 425 // the same number on every architecture since 5.1
	sysIOUringEnter = 426

	uringOpPoll    = 6
	uringOpRecvmsg = 10
	uringOpSend    = 26
	uringOpRecv    = 27

	// The loop is the ring's only submitter, on one locked thread, and collects completions only
	// when it asks for them: the kernel then runs the work completions need in that call instead of
	// interrupting the thread for each (6.1+).
	uringSetupSingleIssuer = 1 << 12
	uringSetupDeferTaskrun = 1 << 13

	uringFeatSingleMmap = 1 << 0
	uringFeatExtArg     = 1 << 8
	uringFeatMinTimeout = 1 << 15

	uringEnterGetEvents = 1 << 0
	uringEnterExtArg    = 1 << 3

	uringOffSQRing = 0
	uringOffSQEs   = 0x10000000
)

var errUringUnsupported = errors.New("io_uring lacks a needed feature")

// newUring sets up a ring of entries slots. It must be called on the thread that will submit.
func newUring(entries uint32) (*uring, error) {
	var p uringParams
	p.flags = uringSetupSingleIssuer | uringSetupDeferTaskrun
	fd, _, errno := syscall.Syscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &uring{fd: int(fd), canGather: p.features&uringFeatMinTimeout != 0}
	if p.features&uringFeatSingleMmap == 0 || p.features&uringFeatExtArg == 0 {
		r.close()
		return nil, errUringUnsupported
	}
	size := max(p.sqOff[6]+p.sqEntries*4, p.cqOff[5]+p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	var err error
	if r.sqMem, err = syscall.Mmap(r.fd, uringOffSQRing, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
		r.close()
		return nil, err
	}
	if r.sqeMem, err = syscall.Mmap(r.fd, uringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
		r.close()
		return nil, err
	}
	at := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&r.sqMem[off])) }
	r.sqTail, r.sqMask = at(p.sqOff[1]), *at(p.sqOff[2])
	r.sqArray = unsafe.Slice(at(p.sqOff[6]), p.sqEntries)
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	r.cqHead, r.cqTail, r.cqMask = at(p.cqOff[0]), at(p.cqOff[1]), *at(p.cqOff[2])
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&r.sqMem[p.cqOff[5]])), p.cqEntries)
	r.tail = *r.sqTail
	r.free = p.sqEntries
	return r, nil
}

// next returns a cleared submission entry, flushing the queue to the kernel first if it is full.
func (r *uring) next() *uringSQE {
	if r.free == 0 {
		r.enter(0, 0)
	}
	i := r.tail & r.sqMask
	r.sqArray[i] = i
	r.tail++
	r.unsent++
	r.free--
	s := &r.sqes[i]
	*s = uringSQE{}
	return s
}

// enter submits what is queued and, when wait > 0, waits up to wait for at least want
// completions, in a raw system call (see ringMaxWait).
func (r *uring) enter(want uint32, wait time.Duration) { r.call(want, wait, false) }

// ringRawSleep is the longest sleep made in a raw system call, which keeps the loop's P; a longer
// one goes through the scheduler, which hands the P to other goroutines meanwhile.
const ringRawSleep = time.Millisecond

// sleep submits what is queued and waits out wait, however many completions come meanwhile: with
// deferred task work the kernel finishes their operations when the wait ends, without waking the
// loop for each.
func (r *uring) sleep(wait time.Duration) {
	r.call(uint32(len(r.cqes)), wait, wait > ringRawSleep) // more than can be pending: never reached
}

// uringLocalBatch is the most deferred completions one enter without a wait runs
// (IO_LOCAL_TW_DEFAULT_MAX, Linux 6.13+; earlier kernels run them all).
const uringLocalBatch = 20

// settle runs the work of the completions the kernel deferred (with deferred task work it runs
// only when the loop enters the ring), without waiting: a wait, however short, would put the
// thread to sleep and wake it again. An enter runs at most uringLocalBatch of them, so it enters
// again while the last one posted as many.
func (r *uring) settle() {
	for {
		before := r.ready()
		r.enter(0, 0)
		if r.ready()-before < uringLocalBatch {
			return
		}
	}
}

// ready is how many completions wait in the queue.
func (r *uring) ready() uint32 { return atomic.LoadUint32(r.cqTail) - *r.cqHead }

// gather is enter that also ends the wait once first has passed with a completion ready
// (min_wait_usec); only where canGather.
func (r *uring) gather(want uint32, first, wait time.Duration) {
	r.waitArg.minWait = uint32(first / time.Microsecond)
	r.call(want, wait, false)
	r.waitArg.minWait = 0
}

func (r *uring) call(want uint32, wait time.Duration, viaScheduler bool) {
	atomic.StoreUint32(r.sqTail, r.tail)
	flags := uintptr(uringEnterGetEvents)
	var arg, argSize uintptr
	if wait > 0 && want > 0 {
		r.ts = syscall.NsecToTimespec(int64(wait))
		r.waitArg.ts = uint64(uintptr(unsafe.Pointer(&r.ts)))
		flags |= uringEnterExtArg
		arg, argSize = uintptr(unsafe.Pointer(&r.waitArg)), unsafe.Sizeof(r.waitArg)
	} else {
		want = 0
	}
	enter := syscall.RawSyscall6
	if viaScheduler {
		enter = syscall.Syscall6
	}
	n, _, errno := enter(sysIOUringEnter, uintptr(r.fd), uintptr(r.unsent), uintptr(want), flags, arg, argSize)
	if errno == 0 {
		r.unsent -= uint32(n)
		r.free += uint32(n)
	}
	// ETIME (the wait ran out) and EINTR leave the queue as it was; what was taken is counted
	// the next time. EBUSY (completions are full) is resolved by reading them.
}

// completions calls fn for each completion ready, then hands their slots back to the kernel.
func (r *uring) completions(fn func(*uringCQE)) {
	head, tail := *r.cqHead, atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		fn(&r.cqes[head&r.cqMask])
	}
	atomic.StoreUint32(r.cqHead, head)
}

func (r *uring) close() {
	if r.sqeMem != nil {
		_ = syscall.Munmap(r.sqeMem)
	}
	if r.sqMem != nil {
		_ = syscall.Munmap(r.sqMem)
	}
	syscall.Close(r.fd)
}
