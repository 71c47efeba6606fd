package flame

import (
	"fmt"
	"strings"
	"time"

	"github.com/headroom/headroom/result"
)

// HotspotConfig sets when a function is a CPU hot spot. The zero value uses the defaults.
type HotspotConfig struct {
	// MinShare is the smallest flat (self) share of the CPU samples, 0..1, that makes a function a
	// hot spot; default MinShareDefault (0.10).
	MinShare float64
	// Max is the most findings returned per profile, the largest first; default MaxDefault (3).
	Max int
	// MinFlat is the least self time that makes a hot spot in a profile measured in nanoseconds,
	// so a few samples of a short profile are not called one; default MinFlatDefault (100ms:
	// 10 samples at the Go runtime's 100 Hz).
	MinFlat time.Duration
}

// Defaults of HotspotConfig, which zero fields stand for.
const (
	MinShareDefault = 0.10
	MaxDefault      = 3
	MinFlatDefault  = 100 * time.Millisecond
)

func (c HotspotConfig) withDefaults() HotspotConfig {
	if c.MinShare <= 0 {
		c.MinShare = MinShareDefault
	}
	if c.Max <= 0 {
		c.Max = MaxDefault
	}
	if c.MinFlat <= 0 {
		c.MinFlat = MinFlatDefault
	}
	return c
}

// Hotspots returns a cpu_hotspot finding for each function whose flat share of the CPU profile
// cpu is at least cfg.MinShare, largest first. endpoint is the route the profile covers ("" for
// the whole process). Evidence.Statement is the function, CPUShare its flat share and TotalMS its
// self time (CPU profiles in nanoseconds); ShareOfP99 stays 0: a CPU profile does not say which
// requests' tail the time was in.
func Hotspots(cpu *Folded, endpoint string, cfg HotspotConfig) []result.Finding {
	cfg = cfg.withDefaults()
	if cpu.Total <= 0 {
		return nil
	}
	var out []result.Finding
	for _, fn := range cpu.Top(0) {
		if fn.FlatShare < cfg.MinShare || len(out) == cfg.Max {
			break
		}
		if notAHotspot(fn.Name) || (cpu.Unit == "nanoseconds" && time.Duration(fn.Flat) < cfg.MinFlat) {
			continue
		}
		ms := float64(fn.Flat) / 1e6
		if cpu.Unit != "nanoseconds" {
			ms = 0
		}
		where := "the process"
		if endpoint != "" {
			where = endpoint
		}
		out = append(out, result.Finding{
			Kind:     result.KindCPUHotspot,
			Endpoint: endpoint,
			Summary: fmt.Sprintf("%s uses %.0f %% of the CPU samples of %s itself (flat), %.0f %% with its callees",
				fn.Name, 100*fn.FlatShare, where, 100*fn.CumShare),
			Evidence: result.Evidence{
				TraceIDs:  []string{},
				CPUShare:  fn.FlatShare,
				Statement: fn.Name,
				TotalMS:   ms,
			},
			Remedy: hotspotRemedy(fn.Name),
		})
	}
	return out
}

// notAHotspot reports frames that stand for the profiler or scheduler rather than code: a
// goroutine preempted by a signal (asyncPreempt), the runtime's pseudo-frames for time outside Go
// code, and unsymbolized addresses.
func notAHotspot(name string) bool {
	switch name {
	case "runtime.asyncPreempt", "runtime.asyncPreempt2", "runtime._System", "runtime._ExternalCode", "runtime._GC", "runtime._VDSO", "?":
		return true
	}
	return strings.HasPrefix(name, "0x")
}

// hotspotRemedy names the usual cure for the kind of function that is hot.
func hotspotRemedy(name string) string {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(name, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("runtime.mallocgc", "runtime.gcBgMarkWorker", "runtime.scanobject", "runtime.gcDrain", "runtime.memclr", "runtime.greyobject", "runtime.findObject", "runtime.nextFreeFast", "runtime.(*mcache)", "runtime.(*mspan)", "runtime.heapBits", "runtime.tryDeferToSpanScan", "runtime.newobject", "runtime.makeslice", "runtime.growslice"):
		return "allocation and garbage collection: allocate less on the hot path (reuse buffers, sync.Pool, preallocate slices); find the allocators with /debug/pprof/allocs"
	case has("syscall.", "runtime/internal/syscall", "internal/runtime/syscall", "runtime.write", "runtime.read", "runtime.epollwait"):
		return "system calls: fewer and larger reads and writes (bufio, batching), keep connections alive"
	case has("runtime.futex", "runtime.lock", "runtime.semacquire", "sync.(*Mutex)", "sync.(*RWMutex)", "runtime.procyield", "runtime.osyield"):
		return "lock contention or scheduler churn: shorten critical sections or shard the lock; see /debug/pprof/mutex"
	case has("encoding/json", "reflect."):
		return "serialization: encode less (smaller responses, cached bodies) or use a code-generated encoder"
	case has("crypto/", "golang.org/x/crypto"):
		return "cryptography: cache the result (sessions, verified tokens) or lower the cost parameter where it is safe"
	case has("regexp."):
		return "regular expressions: compile once, or replace with strings functions on the hot path"
	}
	return "make this function cheaper or call it less: cache its result, move the work off the request path, or use a cheaper algorithm; its callers are in the flame graph"
}
