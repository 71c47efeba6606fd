package netem

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"

	"github.com/headroom/headroom/lab/internal/pause"
)

// ListenDefault is [Config.Listen]'s default: a free port on loopback.
const ListenDefault = "127.0.0.1:0"

// Delay is what one direction of a [Link] adds to every chunk of bytes it relays: Latency, plus
// or minus up to Jitter (uniformly distributed). Chunks keep their order, and a chunk's delay
// counts from the moment the link read it, so a stream pays the latency once, not once per chunk.
type Delay struct {
	Latency time.Duration
	Jitter  time.Duration
}

func (d Delay) validate(name string) error {
	if d.Latency < 0 || d.Jitter < 0 {
		return fmt.Errorf("netem: %s latency %v ~ jitter %v: both must be 0 or more", name, d.Latency, d.Jitter)
	}
	if d.Jitter > d.Latency {
		return fmt.Errorf("netem: %s jitter %v exceeds its latency %v: a chunk cannot arrive before it was sent", name, d.Jitter, d.Latency)
	}
	return nil
}

// Config configures [Start].
type Config struct {
	// Listen is the address the link accepts connections on. Default [ListenDefault].
	Listen string
	// Upstream is the host:port every accepted connection is relayed to. Required.
	Upstream string
	// Up delays the bytes from the client to Upstream. Default: no delay.
	Up Delay
	// Down delays the bytes from Upstream back to the client. Default: no delay. A request and
	// its answer cross the link once each way, so a round trip costs Up.Latency + Down.Latency.
	Down Delay
}

func (c *Config) validate() error {
	if _, _, err := net.SplitHostPort(c.Upstream); err != nil {
		return fmt.Errorf("netem: upstream %q: want host:port: %w", c.Upstream, err)
	}
	return errors.Join(c.Up.validate("upstream"), c.Down.validate("downstream"))
}

// Link is a running TCP proxy with delays. It is safe for concurrent use.
type Link struct {
	proxy *toxiproxy.Proxy
	addr  string // proxy.Listen once bound: toxiproxy rewrites that field when a fault restarts it
	f     faults
}

// delayToxicType names [delayToxic] in toxiproxy's registry.
const delayToxicType = "headroom_delay"

func init() { toxics.Register(delayToxicType, new(delayToxic)) }

// Start listens on cfg.Listen and relays every connection it accepts to cfg.Upstream, dialed
// then, through the configured delays. It returns once the link accepts connections.
func Start(cfg Config) (*Link, error) {
	if cfg.Listen == "" {
		cfg.Listen = ListenDefault
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// toxiproxy logs each connection at info level; the lab's own logs say what matters.
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "link-"+cfg.Upstream, cfg.Listen, cfg.Upstream)
	for _, d := range []struct {
		stream string
		delay  Delay
	}{{"upstream", cfg.Up}, {"downstream", cfg.Down}} {
		if d.delay == (Delay{}) {
			continue
		}
		// Toxics are added through toxiproxy's JSON form, the only one its API takes.
		spec := fmt.Sprintf(`{"name":"delay_%s","type":%q,"stream":%q,"toxicity":1,"attributes":{"latency_ns":%d,"jitter_ns":%d}}`,
			d.stream, delayToxicType, d.stream, d.delay.Latency.Nanoseconds(), d.delay.Jitter.Nanoseconds())
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
			return nil, fmt.Errorf("netem: %s delay: %w", d.stream, err)
		}
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("netem: listen %s: %w", cfg.Listen, err)
	}
	return &Link{proxy: p, addr: p.Listen, f: faults{current: Fault{Kind: FaultNone}}}, nil
}

// Addr is the address the link listens on, e.g. 127.0.0.1:41234.
func (l *Link) Addr() string { return l.addr }

// Close stops accepting connections and closes the open ones, both sides. Bytes still held in a
// delay are dropped, as a cut cable would drop them. Close is idempotent and always returns nil.
func (l *Link) Close() error {
	_ = l.Inject(Fault{}) // stops a flapping loop
	l.proxy.Stop()
	return nil
}

// delayToxic is toxiproxy's latency toxic made fine-grained: the stock one counts in whole
// milliseconds and waits on Go timers (about 1.1 ms at best, see package pause), and a database in
// the same region is a fraction of a millisecond away.
type delayToxic struct {
	Latency int64 `json:"latency_ns"`
	Jitter  int64 `json:"jitter_ns"`
}

// GetBufferSize lets up to 1024 chunks wait in the delay at once, as toxiproxy's latency toxic
// does, so the link delays a stream without throttling it.
func (t *delayToxic) GetBufferSize() int { return 1024 }

func (t *delayToxic) delay() time.Duration {
	d := t.Latency
	if t.Jitter > 0 {
		d += rand.Int64N(2*t.Jitter+1) - t.Jitter
	}
	return time.Duration(d)
}

// Pipe holds each chunk until its delay after the moment it was read has passed, then passes it on.
func (t *delayToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if !pause.Until(stub.Interrupt, c.Timestamp.Add(t.delay())) {
				// toxiproxy is replacing this toxic: hand the chunk on rather than drop it.
				stub.Output <- c
				return
			}
			stub.Output <- c
		}
	}
}
