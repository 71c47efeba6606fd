package collect

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Off as a listen address disables that listener.
const Off = "off"

// Config configures a Receiver. The zero value of each field means its documented default;
// New validates the whole struct in one place.
type Config struct {
	// HTTPAddr is where OTLP/HTTP is served (POST /v1/traces). Default "127.0.0.1:4318";
	// port 0 picks a free port (see Receiver.HTTPAddr); Off disables it.
	HTTPAddr string
	// GRPCAddr is where OTLP/gRPC TraceService is served. Default "127.0.0.1:4317"; port 0
	// picks a free port; Off disables it.
	GRPCAddr string

	// MaxRequestBytes caps one export request after decompression; a larger one is refused
	// with 413 (gRPC RESOURCE_EXHAUSTED) without being read further. Default 16 MiB.
	MaxRequestBytes int64
	// HeaderTimeout is how long an OTLP/HTTP request's headers may take to arrive. Default
	// HeaderTimeoutDefault (5s).
	HeaderTimeout time.Duration
	// BodyTimeout is how long an OTLP/HTTP request's body may take to arrive after its headers.
	// The request holds a place in the ingest queue meanwhile, so a slower one is refused (408,
	// counted as ReasonSlowUpload): slow clients cannot keep the places from real exports for
	// longer than this. Default BodyTimeoutDefault (5s: a full MaxRequestBytes at 3.4 MB/s).
	BodyTimeout time.Duration
	// QueueSize is how many decoded requests may wait for assembly. When it is full, requests
	// are refused as overloaded (HTTP 429 with Retry-After, gRPC RESOURCE_EXHAUSTED with
	// RetryInfo) so that exporters back off and retry. Default 64.
	QueueSize int
	// RetryAfter is the delay suggested to clients refused as overloaded. Default 1s.
	RetryAfter time.Duration

	// CompleteAfter is how long after its root span arrives a trace is considered complete
	// (late children still arrive within it). A span whose parent is remote (a server span
	// under a caller's traceparent) counts as a root here. Default 2s.
	CompleteAfter time.Duration
	// MaxIdle is how long a trace whose root never arrives may go without a new span before
	// it is written anyway, counted as an orphan. Default 30s; at least CompleteAfter.
	MaxIdle time.Duration
	// MaxOpenTraces caps the traces being assembled; beyond it the oldest is written early,
	// counted as evicted. Default 10000.
	MaxOpenTraces int
	// MaxBufferedSpans caps the spans held across all open traces; beyond it the oldest
	// traces are written early, counted as evicted. Default 1000000.
	MaxBufferedSpans int
	// MaxSpansPerTrace caps one trace; further spans of it are dropped and counted.
	// Default 10000.
	MaxSpansPerTrace int
	// MaxAttrValueLen caps string and bytes attribute values (of spans, events, links and
	// resources), in bytes; longer values are truncated (at a UTF-8 boundary) and counted.
	// Default 4096.
	MaxAttrValueLen int

	// OnTrace receives each completed trace, from one goroutine, in completion order. A slow
	// OnTrace slows assembly and so, through the bounded queue, pushes back on exporters.
	// Nil discards traces (Stats still counts them).
	OnTrace func(*Trace)

	// Now is the clock; default time.Now. Tests inject their own.
	Now func() time.Time
}

// Defaults of Config, applied by New to zero fields.
const (
	DefaultHTTPAddr         = "127.0.0.1:4318"
	DefaultGRPCAddr         = "127.0.0.1:4317"
	DefaultMaxRequestBytes  = 16 << 20
	DefaultQueueSize        = 64
	DefaultRetryAfter       = time.Second
	DefaultCompleteAfter    = 2 * time.Second
	DefaultMaxIdle          = 30 * time.Second
	DefaultMaxOpenTraces    = 10000
	DefaultMaxBufferedSpans = 1000000
	DefaultMaxSpansPerTrace = 10000
	DefaultMaxAttrValueLen  = 4096
)

// Defaults of the Config fields that name them.
const (
	HeaderTimeoutDefault = 5 * time.Second
	BodyTimeoutDefault   = 5 * time.Second
)

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("bad collect config")

// CheckAddr reports whether addr is a listen address, host:port with a port from 0 to 65535
// (0: any free port), or Off. Its error says what is wrong and what would be valid.
func CheckAddr(addr string) error {
	if addr == Off {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port such as 127.0.0.1:4318, or %q", Off)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %s: want 0 to 65535", port)
	}
	return nil
}

// withDefaults returns cfg with defaults filled in, or an error naming the bad field.
func (cfg Config) withDefaults() (Config, error) {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&cfg.HTTPAddr, DefaultHTTPAddr)
	def(&cfg.GRPCAddr, DefaultGRPCAddr)
	if cfg.HTTPAddr == Off && cfg.GRPCAddr == Off {
		return cfg, fmt.Errorf("%w: both HTTP and gRPC are off, nothing to listen on", ErrConfig)
	}
	for _, a := range []struct{ name, addr string }{{"HTTP", cfg.HTTPAddr}, {"gRPC", cfg.GRPCAddr}} {
		if a.addr == Off {
			continue
		}
		if err := CheckAddr(a.addr); err != nil {
			return cfg, fmt.Errorf("%w: %s address %q: %w", ErrConfig, a.name, a.addr, err)
		}
	}
	ints := []struct {
		name string
		p    *int
		d    int
	}{
		{"QueueSize", &cfg.QueueSize, DefaultQueueSize},
		{"MaxOpenTraces", &cfg.MaxOpenTraces, DefaultMaxOpenTraces},
		{"MaxBufferedSpans", &cfg.MaxBufferedSpans, DefaultMaxBufferedSpans},
		{"MaxSpansPerTrace", &cfg.MaxSpansPerTrace, DefaultMaxSpansPerTrace},
		{"MaxAttrValueLen", &cfg.MaxAttrValueLen, DefaultMaxAttrValueLen},
	}
	for _, f := range ints {
		switch {
		case *f.p == 0:
			*f.p = f.d
		case *f.p < 0:
			return cfg, fmt.Errorf("%w: %s %d: want a positive number (0 means the default %d)", ErrConfig, f.name, *f.p, f.d)
		}
	}
	switch {
	case cfg.MaxRequestBytes == 0:
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	case cfg.MaxRequestBytes < 0:
		return cfg, fmt.Errorf("%w: MaxRequestBytes %d: want a positive size", ErrConfig, cfg.MaxRequestBytes)
	}
	durs := []struct {
		name string
		p    *time.Duration
		d    time.Duration
	}{
		{"RetryAfter", &cfg.RetryAfter, DefaultRetryAfter},
		{"CompleteAfter", &cfg.CompleteAfter, DefaultCompleteAfter},
		{"MaxIdle", &cfg.MaxIdle, DefaultMaxIdle},
		{"HeaderTimeout", &cfg.HeaderTimeout, HeaderTimeoutDefault},
		{"BodyTimeout", &cfg.BodyTimeout, BodyTimeoutDefault},
	}
	for _, f := range durs {
		switch {
		case *f.p == 0:
			*f.p = f.d
		case *f.p < 0:
			return cfg, fmt.Errorf("%w: %s %s: want a positive duration (0 means the default %s)", ErrConfig, f.name, *f.p, f.d)
		}
	}
	if cfg.MaxIdle < cfg.CompleteAfter {
		return cfg, fmt.Errorf("%w: MaxIdle %s is shorter than CompleteAfter %s: want MaxIdle ≥ CompleteAfter", ErrConfig, cfg.MaxIdle, cfg.CompleteAfter)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}
