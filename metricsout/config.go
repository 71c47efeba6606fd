package metricsout

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/internal/fielderr"
)

// ErrConfig is wrapped by the errors of a bad Config or output specification.
var ErrConfig = errors.New("bad metrics configuration")

// Protocol is how an Output is written.
type Protocol string

// The protocols of an Output.
const (
	// PrometheusRW is Prometheus remote write 1.0: a snappy-compressed protobuf WriteRequest.
	PrometheusRW Protocol = "prometheus-rw"
	// OTLP is OTLP/HTTP metrics, binary protobuf.
	OTLP Protocol = "otlp"
)

// Protocols lists the protocols ParseOutput reads.
var Protocols = []Protocol{PrometheusRW, OTLP}

// Valid reports whether p is one of Protocols.
func (p Protocol) Valid() bool { return slices.Contains(Protocols, p) }

// OutputForms says what ParseOutput reads, for messages: "prometheus-rw=URL or otlp=URL".
func OutputForms() string {
	forms := make([]string, len(Protocols))
	for i, p := range Protocols {
		forms[i] = string(p) + "=URL"
	}
	return strings.Join(forms, " or ")
}

// Output is one destination: a protocol and the URL it is posted to.
type Output struct {
	Protocol Protocol
	URL      string
}

// String is the form ParseOutput reads.
func (o Output) String() string { return string(o.Protocol) + "=" + o.URL }

// ParseOutput reads PROTOCOL=URL, as --metrics takes it: prometheus-rw=http://host:9090/api/v1/write
// or otlp=http://host:4318 (an OTLP URL without a path gets the signal's path, /v1/metrics, as
// OTEL_EXPORTER_OTLP_ENDPOINT does).
func ParseOutput(s string) (Output, error) {
	p, raw, ok := strings.Cut(s, "=")
	o := Output{Protocol: Protocol(p), URL: raw}
	if !ok || !o.Protocol.Valid() {
		return Output{}, fielderr.New(ErrConfig, "Output", "%q: want %s", s, OutputForms())
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Output{}, fielderr.New(ErrConfig, "Output", "%q: the URL must be http:// or https:// with a host", s)
	}
	if o.Protocol == OTLP && (u.Path == "" || u.Path == "/") {
		u.Path = "/v1/metrics"
		o.URL = u.String()
	}
	return o, nil
}

// Histograms says which histograms remote write sends (OTLP always sends exponential ones).
type Histograms string

// The kinds of Histograms.
const (
	// Native sends Prometheus native histograms: what Prometheus 2.x stores only with
	// --enable-feature=native-histograms (without it, it refuses the whole request).
	Native Histograms = "native"
	// Classic sends _bucket, _sum and _count series with the boundaries ClassicBounds, which any
	// Prometheus stores.
	Classic Histograms = "classic"
	// Both sends both.
	Both Histograms = "both"
)

// HistogramKinds lists the valid Config.Histograms values.
var HistogramKinds = []Histograms{Native, Classic, Both}

// ClassicBounds are the upper bounds (le) of the classic buckets, in seconds.
var ClassicBounds = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Config configures an Exporter. Zero fields mean their defaults (the …Default constants).
type Config struct {
	// Outputs are where the metrics go; at least one.
	Outputs []Output
	// Interval is how often the metrics are pushed while the run goes on; they are pushed once
	// more at Close. Default IntervalDefault (5s); at least MinInterval.
	Interval time.Duration
	// Timeout bounds one push to one output. Default TimeoutDefault (10s).
	Timeout time.Duration
	// Histograms is the kind of latency histogram remote write sends. Default HistogramsDefault (Native).
	Histograms Histograms
	// RunID is the run_id label of every series, telling runs apart in one Prometheus.
	// Default: 8 random bytes in hex.
	RunID string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Defaults and limits of Config.
const (
	IntervalDefault = 5 * time.Second
	TimeoutDefault  = 10 * time.Second
	// HistogramsDefault is Native: the histograms that add up exactly across machines.
	HistogramsDefault = Native
	// MinInterval keeps a push from overlapping the progress reports it summarizes.
	MinInterval = time.Second
)

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = IntervalDefault
	}
	if c.Timeout == 0 {
		c.Timeout = TimeoutDefault
	}
	if c.RunID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
		c.RunID = hex.EncodeToString(b[:])
	}
	if c.Histograms == "" {
		c.Histograms = HistogramsDefault
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if len(c.Outputs) == 0 {
		errs = append(errs, fielderr.New(ErrConfig, "Outputs", "empty: want at least one %s", OutputForms()))
	}
	if c.Interval < MinInterval {
		errs = append(errs, fielderr.New(ErrConfig, "Interval", "%v: want at least %v", c.Interval, MinInterval))
	}
	if c.Timeout < 0 {
		errs = append(errs, fielderr.New(ErrConfig, "Timeout", "%v: want a positive duration", c.Timeout))
	}
	if !slices.Contains(HistogramKinds, c.Histograms) {
		errs = append(errs, fielderr.New(ErrConfig, "Histograms", "%q: want one of %s", c.Histograms, histogramKindList()))
	}
	return errors.Join(errs...)
}

// histogramKindList is HistogramKinds as a comma-separated list, for messages.
func histogramKindList() string {
	names := make([]string, len(HistogramKinds))
	for i, h := range HistogramKinds {
		names[i] = string(h)
	}
	return strings.Join(names, ", ")
}
