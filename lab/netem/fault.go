package netem

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// FaultKind is a failure a [Link] injects on top of its delays.
type FaultKind string

// The faults. Each names what the caller on the link's client side sees.
const (
	// FaultNone: the link relays as configured.
	FaultNone FaultKind = "none"
	// FaultSlow: every answer takes Extra longer (a peer in a GC storm, a saturated host).
	FaultSlow FaultKind = "slow"
	// FaultDown: the link refuses connections and closes the open ones (a crashed host whose
	// kernel answers with RST).
	FaultDown FaultKind = "down"
	// FaultHang: connections stay open but nothing crosses them (a host that stopped answering
	// without closing: the failure a missing timeout turns into a hung caller).
	FaultHang FaultKind = "hang"
	// FaultFlap: down for Period, up for Period, and so on.
	FaultFlap FaultKind = "flap"
)

// FaultKinds lists the faults, for help texts and errors.
var FaultKinds = []FaultKind{FaultNone, FaultSlow, FaultDown, FaultHang, FaultFlap}

// Fault is a failure to inject on a link.
type Fault struct {
	Kind FaultKind `json:"kind"`
	// Extra is what FaultSlow adds to every answer.
	Extra time.Duration `json:"extra_ns,omitempty"`
	// Period is how long FaultFlap stays down, then up.
	Period time.Duration `json:"period_ns,omitempty"`
}

// Validate checks f and names what is wrong.
func (f Fault) Validate() error {
	switch f.Kind {
	case FaultNone, FaultDown, FaultHang:
	case FaultSlow:
		if f.Extra <= 0 || f.Extra > time.Hour {
			return fmt.Errorf("netem: slow fault's extra latency %v: want more than 0 and at most 1h", f.Extra)
		}
	case FaultFlap:
		if f.Period < 10*time.Millisecond || f.Period > time.Hour {
			return fmt.Errorf("netem: flap fault's period %v: want 10ms to 1h", f.Period)
		}
	default:
		names := make([]string, len(FaultKinds))
		for i, k := range FaultKinds {
			names[i] = string(k)
		}
		return fmt.Errorf("netem: fault %q: want one of %s", f.Kind, strings.Join(names, ", "))
	}
	return nil
}

// faults is a link's injected failure and the flapping loop, if any.
type faults struct {
	mu      sync.Mutex // guards current, stop and done
	current Fault
	stop    chan struct{} // closes the flapping loop
	done    chan struct{}

	downMu sync.Mutex // guards down and the proxy's stop and start (the flapping loop takes it)
	down   bool
}

// The names of the toxics a fault adds.
const (
	toxicSlow = "fault_slow"
	toxicHang = "fault_hang"
)

// Inject replaces the link's fault with f (FaultNone removes it). Safe for concurrent use.
func (l *Link) Inject(f Fault) error {
	if f.Kind == "" {
		f.Kind = FaultNone
	}
	if err := f.Validate(); err != nil {
		return err
	}
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	if l.f.stop != nil {
		close(l.f.stop)
		<-l.f.done
		l.f.stop, l.f.done = nil, nil
	}
	if err := l.clear(); err != nil {
		return err
	}
	l.f.current = f
	switch f.Kind {
	case FaultSlow:
		spec := fmt.Sprintf(`{"name":%q,"type":%q,"stream":"downstream","toxicity":1,"attributes":{"latency_ns":%d}}`, toxicSlow, delayToxicType, f.Extra.Nanoseconds())
		_, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(spec))
		return err
	case FaultHang:
		// toxiproxy's timeout toxic with timeout 0 drops every byte and never closes.
		_, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(fmt.Sprintf(`{"name":%q,"type":"timeout","stream":"upstream","toxicity":1,"attributes":{"timeout":0}}`, toxicHang)))
		return err
	case FaultDown:
		return l.setDown(true)
	case FaultFlap:
		l.f.stop, l.f.done = make(chan struct{}), make(chan struct{})
		go l.flap(f.Period, l.f.stop, l.f.done)
	}
	return nil
}

// Fault returns the link's current fault.
func (l *Link) Fault() Fault {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	return l.f.current
}

// clear removes what the current fault added; l.f.mu is held.
func (l *Link) clear() error {
	for _, name := range []string{toxicSlow, toxicHang} {
		if l.proxy.Toxics.GetToxic(name) != nil {
			if err := l.proxy.Toxics.RemoveToxic(context.Background(), name); err != nil {
				return err
			}
		}
	}
	return l.setDown(false)
}

// setDown stops or restarts the proxy; restarting listens on the same address again.
func (l *Link) setDown(down bool) error {
	l.f.downMu.Lock()
	defer l.f.downMu.Unlock()
	if down == l.f.down {
		return nil
	}
	l.f.down = down
	if down {
		l.proxy.Stop()
		return nil
	}
	if err := l.proxy.Start(); err != nil {
		return fmt.Errorf("netem: bring link %s up again: %w", l.addr, err)
	}
	return nil
}

// flap alternates down and up every period, starting down, until stop closes; Inject then
// brings the link up.
func (l *Link) flap(period time.Duration, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(period)
	defer t.Stop()
	down := true
	for {
		// An error here (the port taken while down) leaves the link down until the next turn.
		_ = l.setDown(down)
		select {
		case <-stop:
			return
		case <-t.C:
			down = !down
		}
	}
}
