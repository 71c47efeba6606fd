package collect

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/headroom/headroom/internal/fielderr"
)

// Off as a listen address disables that listener.
const Off = "off"

// Config configures a Receiver. The zero value of each field means its default (the …Default
// constants); New fills them in one place and then validates the whole struct.
type Config struct {
	// HTTPAddr is where OTLP/HTTP is served (POST /v1/traces). Default HTTPAddrDefault ("127.0.0.1:4318");
	// port 0 picks a free port (see Receiver.HTTPAddr); Off disables it.
	HTTPAddr string
	// GRPCAddr is where OTLP/gRPC TraceService is served. Default GRPCAddrDefault ("127.0.0.1:4317"); port 0
	// picks a free port; Off disables it.
	GRPCAddr string

	// MaxRequestBytes caps one export request after decompression; a larger one is refused
	// with 413 (gRPC RESOURCE_EXHAUSTED) without being read further. Default MaxRequestBytesDefault (16 MiB).
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
	// RetryInfo) so that exporters back off and retry. Default QueueSizeDefault (64).
	QueueSize int
	// RetryAfter is the delay suggested to clients refused as overloaded. Default RetryAfterDefault (1s).
	RetryAfter time.Duration

	// CompleteAfter is how long after its root span arrives a trace is considered complete
	// (late children still arrive within it). A span whose parent is remote (a server span
	// under a caller's traceparent) counts as a root here. Default CompleteAfterDefault (2s).
	CompleteAfter time.Duration
	// MaxIdle is how long a trace whose root never arrives may go without a new span before
	// it is written anyway, counted as an orphan. Default MaxIdleDefault (30s); at least CompleteAfter.
	MaxIdle time.Duration
	// MaxOpenTraces caps the traces being assembled; beyond it the oldest is written early,
	// counted as evicted. Default MaxOpenTracesDefault (10000).
	MaxOpenTraces int
	// MaxBufferedSpans caps the spans held across all open traces; beyond it the oldest
	// traces are written early, counted as evicted. Default MaxBufferedSpansDefault (1000000).
	MaxBufferedSpans int
	// MaxBufferedBytes caps the spans held across all open traces by their size encoded as
	// OTLP protobuf (decoded, in memory, they take about 3.3× that; see "Memory" in
	// docs/commands/collect.md); beyond it the oldest traces are written early, counted as
	// evicted. Completed traces waiting for OnTrace are held to a quarter of it: while they
	// fill that, assembly waits, the ingest queue fills and exports are refused as overloaded
	// until OnTrace catches up. Default MaxBufferedBytesDefault (256 MiB).
	MaxBufferedBytes int64
	// MaxSpansPerTrace caps one trace; further spans of it are dropped and counted.
	// Default MaxSpansPerTraceDefault (10000).
	MaxSpansPerTrace int
	// MaxAttrValueLen caps string and bytes attribute values (of spans, events, links and
	// resources), in bytes; longer values are truncated (at a UTF-8 boundary) and counted.
	// Default MaxAttrValueLenDefault (4096).
	MaxAttrValueLen int

	// Forward is the base URL of another OTLP/HTTP receiver (a team's collector, Jaeger) that
	// every request received is sent on to, as OTEL_EXPORTER_OTLP_ENDPOINT names one
	// (http://collector:4318; a trailing /v1/traces is allowed): traces to /v1/traces, metrics
	// and logs to /v1/metrics and /v1/logs. OTLP/HTTP bodies go as received (decompressed, in
	// their content type); OTLP/gRPC requests are re-encoded as OTLP/HTTP protobuf. Empty: none.
	Forward string
	// ForwardQueue is how many requests may wait to be forwarded; more are dropped and
	// counted (Stats.ForwardDropped), never slowing the receiver. Default ForwardQueueDefault (256).
	ForwardQueue int
	// ForwardQueueBytes bounds the bytes of the requests waiting to be forwarded, as
	// ForwardQueue their number. Default ForwardQueueBytesDefault (64 MiB).
	ForwardQueueBytes int64
	// ForwardTimeout bounds each attempt to forward a request. Default ForwardTimeoutDefault (10s).
	ForwardTimeout time.Duration

	// OnTrace receives each completed trace, from one goroutine, in completion order. A slow
	// OnTrace slows assembly and so, through the bounded queue, pushes back on exporters.
	// Nil discards traces (Stats still counts them).
	OnTrace func(*Trace)

	// Now is the clock; default time.Now. Tests inject their own.
	Now func() time.Time
}

// maxWaitingBytes is how many bytes of completed traces may wait for OnTrace.
func (cfg *Config) maxWaitingBytes() int64 { return max(1, cfg.MaxBufferedBytes/4) }

// Defaults of Config, which zero fields stand for.
const (
	HTTPAddrDefault          = "127.0.0.1:4318"
	GRPCAddrDefault          = "127.0.0.1:4317"
	MaxRequestBytesDefault   = 16 << 20
	HeaderTimeoutDefault     = 5 * time.Second
	BodyTimeoutDefault       = 5 * time.Second
	QueueSizeDefault         = 64
	RetryAfterDefault        = time.Second
	CompleteAfterDefault     = 2 * time.Second
	MaxIdleDefault           = 30 * time.Second
	MaxOpenTracesDefault     = 10000
	MaxBufferedSpansDefault  = 1000000
	MaxBufferedBytesDefault  = 256 << 20
	MaxSpansPerTraceDefault  = 10000
	MaxAttrValueLenDefault   = 4096
	ForwardQueueDefault      = 256
	ForwardQueueBytesDefault = 64 << 20
	ForwardTimeoutDefault    = 10 * time.Second
)

// ErrConfig is wrapped by every error New returns for a bad Config; an error about one field
// is a *fielderr.Error naming it.
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

// withDefaults returns cfg with the defaults of its zero fields filled in; it checks nothing.
func (cfg Config) withDefaults() Config {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&cfg.HTTPAddr, HTTPAddrDefault)
	def(&cfg.GRPCAddr, GRPCAddrDefault)
	for _, f := range cfg.ints() {
		if *f.p == 0 {
			*f.p = f.d
		}
	}
	for _, f := range cfg.sizes() {
		if *f.p == 0 {
			*f.p = f.d
		}
	}
	for _, f := range cfg.durations() {
		if *f.p == 0 {
			*f.p = f.d
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// validate checks a Config whose defaults are filled in; it changes nothing.
func (cfg *Config) validate() error {
	bad := func(field, format string, args ...any) error { return fielderr.New(ErrConfig, field, format, args...) }
	if cfg.HTTPAddr == Off && cfg.GRPCAddr == Off {
		return fmt.Errorf("%w: both HTTP and gRPC are off (HTTPAddr and GRPCAddr), nothing to listen on", ErrConfig)
	}
	for _, a := range []struct{ field, addr string }{{"HTTPAddr", cfg.HTTPAddr}, {"GRPCAddr", cfg.GRPCAddr}} {
		if a.addr == Off {
			continue
		}
		if err := CheckAddr(a.addr); err != nil {
			return bad(a.field, "%q: %v", a.addr, err)
		}
	}
	for _, f := range cfg.ints() {
		if *f.p < 0 {
			return bad(f.field, "%d: want a positive number (0 means the default %d)", *f.p, f.d)
		}
	}
	for _, f := range cfg.sizes() {
		if *f.p < 0 {
			return bad(f.field, "%d: want a positive size in bytes (0 means the default %d)", *f.p, f.d)
		}
	}
	if cfg.Forward != "" {
		if _, err := forwardBase(cfg.Forward); err != nil {
			return bad("Forward", "%v", err)
		}
	}
	for _, f := range cfg.durations() {
		if *f.p < 0 {
			return bad(f.field, "%s: want a positive duration (0 means the default %s)", *f.p, f.d)
		}
	}
	if cfg.MaxIdle < cfg.CompleteAfter {
		return bad("MaxIdle", "%s is shorter than CompleteAfter %s: want at least CompleteAfter", cfg.MaxIdle, cfg.CompleteAfter)
	}
	return nil
}

type intField struct {
	field string
	p     *int
	d     int
}

func (cfg *Config) ints() []intField {
	return []intField{
		{"QueueSize", &cfg.QueueSize, QueueSizeDefault},
		{"MaxOpenTraces", &cfg.MaxOpenTraces, MaxOpenTracesDefault},
		{"MaxBufferedSpans", &cfg.MaxBufferedSpans, MaxBufferedSpansDefault},
		{"MaxSpansPerTrace", &cfg.MaxSpansPerTrace, MaxSpansPerTraceDefault},
		{"MaxAttrValueLen", &cfg.MaxAttrValueLen, MaxAttrValueLenDefault},
		{"ForwardQueue", &cfg.ForwardQueue, ForwardQueueDefault},
	}
}

type sizeField struct {
	field string
	p     *int64
	d     int64
}

func (cfg *Config) sizes() []sizeField {
	return []sizeField{
		{"MaxRequestBytes", &cfg.MaxRequestBytes, MaxRequestBytesDefault},
		{"MaxBufferedBytes", &cfg.MaxBufferedBytes, MaxBufferedBytesDefault},
		{"ForwardQueueBytes", &cfg.ForwardQueueBytes, ForwardQueueBytesDefault},
	}
}

type durationField struct {
	field string
	p     *time.Duration
	d     time.Duration
}

func (cfg *Config) durations() []durationField {
	return []durationField{
		{"RetryAfter", &cfg.RetryAfter, RetryAfterDefault},
		{"CompleteAfter", &cfg.CompleteAfter, CompleteAfterDefault},
		{"MaxIdle", &cfg.MaxIdle, MaxIdleDefault},
		{"HeaderTimeout", &cfg.HeaderTimeout, HeaderTimeoutDefault},
		{"BodyTimeout", &cfg.BodyTimeout, BodyTimeoutDefault},
		{"ForwardTimeout", &cfg.ForwardTimeout, ForwardTimeoutDefault},
	}
}
