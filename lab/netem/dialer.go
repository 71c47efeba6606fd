package netem

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/headroom/headroom/lab/internal/pause"
)

// ErrClosed is returned by [Dialer.DialContext] after [Dialer.Close].
var ErrClosed = errors.New("netem: dialer closed")

// Dialer dials every address through a [Link] to it, started on the first dial and reused after,
// all with the same delays. Its DialContext fits a client's dial hook (pgx's DialFunc,
// net/http's Transport.DialContext), so the client keeps its own view of the server's name (TLS
// verification, cancel requests) while its bytes cross the link. The zero value dials with no
// delay; set Up and Down before the first dial. It is safe for concurrent use.
type Dialer struct {
	// Up and Down are the links' delays; see [Config].
	Up, Down Delay
	// Handshake makes each new connection cost one round trip (Up.Latency + Down.Latency) before
	// DialContext returns, as TCP's SYN / SYN-ACK does across a real network. A link accepts on
	// loopback at once, so without it a new connection is free and keeping connections alive
	// would show no gain. The wait is emulated: the handshake's packets do not cross the link.
	Handshake bool

	mu     sync.Mutex
	links  map[string]*Link
	closed bool
	dialer net.Dialer
}

// DialContext connects to addr through its link; ctx bounds the dial, not the connection. Only
// TCP is relayed: another network (e.g. a Unix socket) is an error that names it.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("netem: dial %s %s: a link relays TCP only; give the server's host:port", network, addr)
	}
	l, err := d.link(addr)
	if err != nil {
		return nil, err
	}
	c, err := d.dialer.DialContext(ctx, "tcp", l.Addr())
	if err != nil || !d.Handshake {
		return c, err
	}
	if err := pause.For(ctx, d.Up.Latency+d.Down.Latency); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Link returns the link to addr, started now if no dial has started it yet, so that a fault can
// be injected on it ([Link.Inject]).
func (d *Dialer) Link(addr string) (*Link, error) { return d.link(addr) }

func (d *Dialer) link(addr string) (*Link, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if l, ok := d.links[addr]; ok {
		return l, nil
	}
	l, err := Start(Config{Upstream: addr, Up: d.Up, Down: d.Down})
	if err != nil {
		return nil, err
	}
	if d.links == nil {
		d.links = map[string]*Link{}
	}
	d.links[addr] = l
	return l, nil
}

// Close closes every link it started, and with them the connections dialed through them; later
// dials fail with [ErrClosed].
func (d *Dialer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	var errs []error
	for _, l := range d.links {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}
