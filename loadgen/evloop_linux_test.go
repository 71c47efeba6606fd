//go:build linux

package loadgen

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestLazyReadsKeepLatency drives a fast server at 100 req/s over 8 connections: a connection
// always holds the next send, so the event loop reads answers only when it wakes for that send,
// up to 10 ms after they arrived. Latency must still be the answer's arrival, not the read:
// p50 under 3 ms (reading at the next send would put it near 10 ms). Both loops read lazily: on
// io_uring the receives complete while the loop sleeps, on epoll they wait in the sockets.
func TestLazyReadsKeepLatency(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	eachEngine(t, loopEngines, func(t *testing.T, ec engineCase) {
		l := run(t, t.Context(), ec.config(Config{Targets: []Target{{URL: srv.URL}}, Arrival: Arrival{Rate: 100}, Duration: 2 * time.Second, Connections: 8}))
		if l.Errors != 0 || l.Requests < 190 {
			t.Fatalf("requests %d, errors %v: want ~200 and none", l.Requests, l.ErrorsByKind)
		}
		if l.LatencyMS.P50 >= 3 || l.ServiceMS.P50 >= 3 {
			t.Errorf("latency p50 %.2f ms, service p50 %.2f ms: want both under 3 ms", l.LatencyMS.P50, l.ServiceMS.P50)
		}
	})
}

// cmsg builds one control message as the kernel lays it out.
func cmsg(level, typ int32, data []byte) []byte {
	hdr := int(unsafe.Sizeof(syscall.Cmsghdr{}))
	b := make([]byte, (hdr+len(data)+7)&^7)
	binary.NativeEndian.PutUint64(b, uint64(hdr+len(data)))
	binary.NativeEndian.PutUint32(b[8:], uint32(level))
	binary.NativeEndian.PutUint32(b[12:], uint32(typ))
	copy(b[hdr:], data)
	return b
}

func timespec(sec, nsec int64) []byte {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint64(b, uint64(sec))
	binary.NativeEndian.PutUint64(b[8:], uint64(nsec))
	return b
}

func TestRxStamp(t *testing.T) {
	t.Parallel()
	stamp := cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, timespec(1700000000, 123))
	other := cmsg(syscall.SOL_IP, 1, []byte{1, 2, 3, 4})
	for _, tc := range []struct {
		name   string
		oob    []byte
		want   time.Duration
		wantOK bool
	}{
		{"stamp", stamp, 1700000000*time.Second + 123, true},
		{"after another message", append(append([]byte{}, other...), stamp...), 1700000000*time.Second + 123, true},
		{"none", nil, 0, false},
		{"other message only", other, 0, false},
		{"truncated stamp", stamp[:20], 0, false},
		{"length past the buffer", func() []byte { b := append([]byte{}, stamp...); b[0] = 200; return b }(), 0, false},
		{"zero length", make([]byte, 32), 0, false},
	} {
		got, ok := rxStamp(tc.oob)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}

// FuzzRxStamp checks that any control-message buffer is parsed without panicking.
func FuzzRxStamp(f *testing.F) {
	f.Add(cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, timespec(1, 2)))
	f.Add(cmsg(syscall.SOL_IP, 1, []byte{1}))
	f.Fuzz(func(t *testing.T, oob []byte) {
		// The kernel's buffer is 8-byte aligned; so is a fresh allocation of ≥ 8 bytes.
		b := make([]byte, len(oob))
		copy(b, oob)
		_, _ = rxStamp(b)
	})
}

// TestIOPath checks which way the bytes moved, as the result reports it: io_uring where the kernel
// offers one (else epoll, which the test then names), in either model, and epoll when the ring is
// ruled out.
func TestIOPath(t *testing.T) {
	t.Parallel()
	shareCPU(t, true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	wantRing := "io_uring"
	if err := tryUring(); err != nil {
		t.Logf("this kernel gives no io_uring (%v): the full-speed run must fall back to epoll", err)
		wantRing = "epoll"
	}
	closed := Config{Targets: []Target{{URL: srv.URL}}, Model: "closed", Users: 4, Duration: 300 * time.Millisecond}
	epoll := closed
	epoll.path = pathEpoll
	open := Config{Targets: []Target{{URL: srv.URL}}, Arrival: Arrival{Rate: 100}, Duration: 300 * time.Millisecond, Connections: 4}
	openEpoll := open
	openEpoll.path = pathEpoll
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{{"full speed", closed, wantRing}, {"full speed on epoll", epoll, "epoll"}, {"open", open, wantRing}, {"open on epoll", openEpoll, "epoll"}} {
		l := run(t, t.Context(), tc.cfg)
		if l.Generator.IO != tc.want || l.Requests == 0 || l.Errors != 0 {
			t.Errorf("%s: io %q, %d requests, errors %v; want io %q, requests and no errors", tc.name, l.Generator.IO, l.Requests, l.ErrorsByKind, tc.want)
		}
	}
}

// tryUring sets up and closes a ring, on a thread of its own as the loop does.
func tryUring() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := newUring(8)
	if err == nil {
		r.close()
	}
	return err
}

// TestRingEntries: three operations per connection fit, as a power of two, from 64 up.
func TestRingEntries(t *testing.T) {
	t.Parallel()
	for conns, want := range map[int]uint32{1: 64, 21: 64, 22: 128, 50: 256, 128: 512, 100000: 1 << 15} {
		if got := ringEntries(conns); got != want {
			t.Errorf("ringEntries(%d) = %d, want %d", conns, got, want)
		}
	}
}

// TestUringLayout: the structures shared with the kernel have its sizes (include/uapi/linux/io_uring.h).
func TestUringLayout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_sqe", unsafe.Sizeof(uringSQE{}), 64},
		{"io_uring_cqe", unsafe.Sizeof(uringCQE{}), 16},
		{"io_uring_params", unsafe.Sizeof(uringParams{}), 120},
		{"io_uring_getevents_arg", unsafe.Sizeof(uringGetEventsArg{}), 24},
		{"sqe user_data offset", unsafe.Offsetof(uringSQE{}.userData), 32},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d bytes, want %d", tc.name, tc.got, tc.want)
		}
	}
}
