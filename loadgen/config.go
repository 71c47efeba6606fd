package loadgen

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/result"
)

// Config says what load to generate. It is echoed into every result, with its defaults applied,
// so a result says exactly what ran. The zero value of a field with a default means that
// default: WithDefaults applies them, and Run calls it before it validates.
type Config struct {
	// Targets are the requests to send; each request picks one at random by weight. Required.
	Targets []Target `json:"targets"`
	// Model is ModelOpen (default, ModelDefault): requests arrive on the schedule of Arrival
	// whatever the answers; or ModelClosed: Users each send, wait for the answer, wait Think,
	// and repeat.
	Model   Model   `json:"model"`
	Arrival Arrival `json:"arrival"`
	// Duration is the measured period, after Warmup. Required: with Requests, the longest the
	// measured period may last.
	Duration time.Duration `json:"duration"`
	// Requests, when positive, ends the measured period after this many requests (hey's and
	// ab's -n) instead of at Duration: in the open model once that many have fallen due, been
	// sent and answered (the period ends when the next would have been due, so rates hold), in
	// the closed model once that many are answered. Default 0: Duration ends the run.
	Requests int64 `json:"requests,omitempty"`
	// Warmup is sent first and excluded from every statistic. Default 0.
	Warmup time.Duration `json:"warmup"`
	// Connections bounds the open model's connection pool: a due request waits for a free
	// connection and the wait counts in its latency. Default ConnectionsDefault; at most
	// MaxConnections. In the closed model it is Users.
	Connections int `json:"connections"`
	// Users is the closed model's number of concurrent users (one connection each). Default
	// UsersDefault; at most MaxConnections.
	Users int `json:"users,omitempty"`
	// Think is how long a closed-model user waits between an answer and its next request.
	// Default 0.
	Think time.Duration `json:"think,omitempty"`
	// Timeout bounds each request, connecting included. Default TimeoutDefault.
	Timeout time.Duration `json:"timeout"`
	// HTTP2 sends over HTTP/2 (h2c for http:// URLs). https:// URLs go through net/http and
	// negotiate HTTP/2 when the server offers it; http:// URLs take the fast HTTP/1.1 path.
	HTTP2 bool `json:"http2"`
	// Insecure skips TLS certificate verification.
	Insecure bool `json:"insecure"`
	// MaxBody caps a response body; a larger one is an error of kind "body_too_large".
	// Default MaxBodyDefault.
	MaxBody int64 `json:"max_body"`
	// KeepSecrets writes credentials into the result as they were sent: URL user information,
	// the values of headers such as Authorization, Cookie or X-Api-Key, and of query parameters
	// such as api_key or token. By default a result holds Redacted in their place (see
	// Config.Redacted), so that results can be shared.
	KeepSecrets bool `json:"keep_secrets,omitempty"`

	// Shard, when its Count is above 1, makes this run shard Index of Count runs (on as many
	// machines) that together send the load this Config describes: each sends every Count-th
	// arrival of the schedule from the Index-th (Poisson: an independent process of 1/Count of
	// the rate), to the same targets. Open model only, without Requests. Default: the whole load.
	Shard Shard `json:"shard,omitzero"`
	// StartAt, when set, is the wall-clock instant the run starts at: Run waits for it (the
	// shards of one load share it), or starts at once if it has passed; the result says how far
	// from it the run started. Default: at once.
	StartAt time.Time `json:"start_at,omitzero"`

	// Samples, when set, receives every request of the measured period as it completes, in
	// SamplesFormat (see SamplesHeader), from a goroutine of its own that takes the recorded
	// requests every 100 ms: a slow Samples never slows the requests, it loses samples instead
	// (result.Generator.SamplesDropped, and a verdict note). Run flushes it before it returns.
	Samples io.Writer `json:"-"`
	// SamplesFormat is SamplesCSV (default) or SamplesJSONL.
	SamplesFormat SamplesFormat `json:"samples_format,omitempty"`
	// SamplesFields are written after SamplesHeader's fields in every sample, each with the
	// same value throughout the run: a run that is one part of a larger one (a sweep's step)
	// says which, so that one stream can be split. Names are lower case ([a-z0-9_]), distinct,
	// and not SamplesHeader's; values finite. Default none.
	SamplesFields []SamplesField `json:"-"`
	// SamplesContinue says that Samples already holds an earlier run's samples, in the same
	// SamplesFormat and SamplesFields: the CSV header line is not written again.
	SamplesContinue bool `json:"-"`

	// path narrows how the fast path moves bytes, so that tests cover each way; the zero value
	// takes the fastest the platform offers.
	path fastPath
}

// Model is how requests come about: ModelOpen or ModelClosed. It is result.Model, so that a
// result's model compares with a Config's.
type Model = result.Model

// The models.
const (
	ModelOpen   = result.ModelOpen
	ModelClosed = result.ModelClosed
)

// Models lists the valid Config.Model values.
var Models = []Model{ModelOpen, ModelClosed}

// Shard says which part of a sharded load a run is. It is result.Shard, so that a result's shard
// compares with a Config's.
type Shard = result.Shard

// Defaults of Config and Arrival, applied by WithDefaults to zero fields.
const (
	ModelDefault       = ModelOpen
	ConnectionsDefault = 64
	UsersDefault       = 10
	TimeoutDefault     = 10 * time.Second
	MaxBodyDefault     = 64 << 20
	ArrivalKindDefault = ArrivalConstant
	SeedDefault        = 1
	BurstFactorDefault = 5
	BurstLengthDefault = time.Second
	PeriodDefault      = 10 * time.Second // of bursts and of sine
)

// Limits of Config and Arrival.
const (
	// MaxConnections bounds Connections and Users.
	MaxConnections = 100000
	// MaxRate bounds every rate of an Arrival, in requests per second.
	MaxRate = 1e7
	// MaxShards bounds Shard.Count.
	MaxShards = 10000
)

// maxRunTime bounds Warmup + Duration and Timeout alike, so that their sum cannot overflow a
// time.Duration: 100 years each, far beyond any run.
const maxRunTime = 100 * 365 * 24 * time.Hour

type fastPath uint8

const (
	pathAuto       fastPath = iota // event loops on io_uring where the kernel has it, else on epoll where there is epoll; else goroutines
	pathEpoll                      // event loops on epoll, never io_uring
	pathGoroutines                 // a goroutine per connection
)

// ArrivalKind names an arrival process.
type ArrivalKind string

// The arrival processes.
const (
	ArrivalConstant ArrivalKind = "constant"
	ArrivalPoisson  ArrivalKind = "poisson"
	ArrivalRamp     ArrivalKind = "ramp"
	ArrivalSteps    ArrivalKind = "steps"
	ArrivalBursts   ArrivalKind = "bursts"
	ArrivalSine     ArrivalKind = "sine"
)

// ArrivalKinds lists the valid Arrival.Kind values.
var ArrivalKinds = []ArrivalKind{ArrivalConstant, ArrivalPoisson, ArrivalRamp, ArrivalSteps, ArrivalBursts, ArrivalSine}

// ArrivalKindList returns ArrivalKinds as a comma-separated list, for messages.
func ArrivalKindList() string { return list(ArrivalKinds) }

// list joins the names of a kind's values with commas, for messages and flag help.
func list[T ~string](values []T) string {
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = string(v)
	}
	return strings.Join(names, ", ")
}

// Arrival configures the open model's arrival process. Fields that do not belong to Kind are
// left as they are and not used.
type Arrival struct {
	// Kind is the arrival process. Default ArrivalKindDefault.
	Kind ArrivalKind `json:"kind"`
	// Rate is the rate in requests per second of constant and poisson, the base rate of bursts
	// and the mean of sine; required by those. At most MaxRate.
	Rate float64 `json:"rate,omitempty"`
	// From and To are a ramp's start and end rates (not both 0); it takes Over (default: the
	// whole run, warm-up included).
	From float64       `json:"from,omitempty"`
	To   float64       `json:"to,omitempty"`
	Over time.Duration `json:"over,omitempty"`
	// Steps are the rates of steps (at least one), each held for Every (default: the run,
	// warm-up included, divided evenly).
	Steps []float64     `json:"steps,omitempty"`
	Every time.Duration `json:"every,omitempty"`
	// Factor, Length and Period shape bursts: Factor × Rate for Length at the start of every
	// Period (defaults BurstFactorDefault, BurstLengthDefault, PeriodDefault).
	Factor float64       `json:"factor,omitempty"`
	Length time.Duration `json:"length,omitempty"`
	// Period is also the period of sine (default PeriodDefault); Amplitude its swing
	// (default Rate/2, at most Rate).
	Period    time.Duration `json:"period,omitempty"`
	Amplitude float64       `json:"amplitude,omitempty"`
	// Poisson spaces arrivals with exponential gaps around the shape; WithDefaults sets it for
	// kind poisson.
	Poisson bool `json:"poisson,omitempty"`
	// Seed makes a Poisson schedule reproducible. Default SeedDefault.
	Seed uint64 `json:"seed,omitempty"`
}

// ErrConfig is wrapped by every error about a bad Config, Target or targets file.
var ErrConfig = errors.New("bad load configuration")

// fieldErr is a bad value of one Config field: a *fielderr.Error wrapping ErrConfig, whose
// Field is the field's path in Config, such as "Duration" or "Arrival.Rate".
func fieldErr(field, format string, args ...any) error {
	return fielderr.New(ErrConfig, field, format, args...)
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// WithDefaults returns c with the defaults of its zero fields applied, as Run does: those of the
// model's fields (Arrival for the open model; Users for the closed model, which also sets
// Connections to Users) and of the targets (a copy of Targets: c's are left as they are).
func (c Config) WithDefaults() Config {
	c.Targets = slices.Clone(c.Targets)
	for i := range c.Targets {
		c.Targets[i] = c.Targets[i].withDefaults()
	}
	if c.Model == "" {
		c.Model = ModelDefault
	}
	if c.Timeout == 0 {
		c.Timeout = TimeoutDefault
	}
	if c.MaxBody == 0 {
		c.MaxBody = MaxBodyDefault
	}
	switch c.Model {
	case ModelOpen:
		if c.Connections == 0 {
			c.Connections = ConnectionsDefault
		}
		c.Arrival = c.Arrival.withDefaults(c.Warmup + c.Duration)
	case ModelClosed:
		if c.Users == 0 {
			c.Users = UsersDefault
		}
		c.Connections = c.Users
	}
	return c
}

// Validate reports whether Run would accept c: it checks c with its defaults applied, without
// changing c. Its errors wrap ErrConfig; an error about one field is a *fielderr.Error naming it.
func (c Config) Validate() error {
	d := c.WithDefaults()
	return d.validate()
}

// validate checks a Config whose defaults are applied.
func (c *Config) validate() error {
	if len(c.Targets) == 0 {
		return fieldErr("Targets", "empty: want at least one target (a URL or a targets file)")
	}
	for i := range c.Targets {
		if err := c.Targets[i].validate(); err != nil {
			return err
		}
	}
	if c.Duration <= 0 {
		return fieldErr("Duration", "%v: want a positive duration such as 30s", c.Duration)
	}
	if !validSamplesFormat(c.SamplesFormat) {
		return fieldErr("SamplesFormat", "%q: want one of %s", c.SamplesFormat, SamplesFormatList())
	}
	if err := validSamplesFields(c.SamplesFields); err != nil {
		return fieldErr("SamplesFields", "%v", err)
	}
	if c.Requests < 0 {
		return fieldErr("Requests", "%d: want a positive number of requests, or 0 for a run of Duration", c.Requests)
	}
	if c.Warmup < 0 {
		return fieldErr("Warmup", "%v: want zero or a positive duration", c.Warmup)
	}
	if c.Timeout < 0 {
		return fieldErr("Timeout", "%v: want a positive duration", c.Timeout)
	}
	// The run's clock counts Warmup + Duration, and a request's deadline adds Timeout to its send:
	// a sum past time.Duration's ~292 years would wrap around to a negative time.
	if c.Duration > maxRunTime-c.Warmup {
		return fieldErr("Duration", "%v with a warm-up of %v: want warm-up + duration at most %v", c.Duration, c.Warmup, maxRunTime)
	}
	if c.Timeout > maxRunTime {
		return fieldErr("Timeout", "%v: want at most %v", c.Timeout, maxRunTime)
	}
	if c.MaxBody < 0 {
		return fieldErr("MaxBody", "%d: want a positive number of bytes", c.MaxBody)
	}
	if err := c.validateShard(); err != nil {
		return err
	}
	switch c.Model {
	case ModelOpen:
		if c.Connections < 1 || c.Connections > MaxConnections {
			return fieldErr("Connections", "%d: want 1 to %d", c.Connections, MaxConnections)
		}
		return c.Arrival.validate()
	case ModelClosed:
		if c.Users < 1 || c.Users > MaxConnections {
			return fieldErr("Users", "%d: want 1 to %d", c.Users, MaxConnections)
		}
		if c.Think < 0 {
			return fieldErr("Think", "%v: want zero or a positive duration", c.Think)
		}
		return nil
	default:
		return fieldErr("Model", "%q: want one of %s", c.Model, list(Models))
	}
}

// validateShard checks Shard: a shard of the open model's schedule, of a run of Duration.
func (c *Config) validateShard() error {
	s := c.Shard
	if s == (Shard{}) {
		return nil
	}
	switch {
	case s.Count < 1 || s.Count > MaxShards:
		return fieldErr("Shard", "%d/%d: want a count of shards from 1 to %d", s.Index, s.Count, MaxShards)
	case s.Index < 0 || s.Index >= s.Count:
		return fieldErr("Shard", "%d/%d: want an index from 0 to %d", s.Index, s.Count, s.Count-1)
	case c.Model != ModelOpen:
		return fieldErr("Shard", "%d/%d with the %s model: only the open model's schedule is split; give each machine its own users", s.Index, s.Count, c.Model)
	case c.Requests > 0:
		return fieldErr("Shard", "%d/%d with Requests: a sharded run ends at its Duration, so that every shard ends at once", s.Index, s.Count)
	}
	return nil
}

func validRate(field string, r float64) error {
	if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) || r > MaxRate {
		return fieldErr(field, "%v: want a rate between 0 and %d requests per second", r, int(MaxRate))
	}
	return nil
}

// withDefaults returns a with the defaults of its kind applied; total is the run's length,
// warm-up included.
func (a Arrival) withDefaults(total time.Duration) Arrival {
	if a.Kind == "" {
		a.Kind = ArrivalKindDefault
	}
	if a.Seed == 0 {
		a.Seed = SeedDefault
	}
	switch a.Kind {
	case ArrivalPoisson:
		a.Poisson = true
	case ArrivalRamp:
		if a.Over == 0 {
			a.Over = total
		}
	case ArrivalSteps:
		if a.Every == 0 && len(a.Steps) > 0 {
			a.Every = total / time.Duration(len(a.Steps))
		}
	case ArrivalBursts:
		if a.Factor == 0 {
			a.Factor = BurstFactorDefault
		}
		if a.Length == 0 {
			a.Length = BurstLengthDefault
		}
		if a.Period == 0 {
			a.Period = PeriodDefault
		}
	case ArrivalSine:
		if a.Period == 0 {
			a.Period = PeriodDefault
		}
		if a.Amplitude == 0 {
			a.Amplitude = a.Rate / 2
		}
	}
	return a
}

// validate checks an Arrival whose defaults are applied.
func (a *Arrival) validate() error {
	switch a.Kind {
	case ArrivalConstant, ArrivalPoisson, ArrivalBursts, ArrivalSine:
		if err := validRate("Arrival.Rate", a.Rate); err != nil {
			return err
		}
		if a.Rate == 0 {
			return fieldErr("Arrival.Rate", "0: the %s arrival needs a rate, in requests per second", a.Kind)
		}
	case ArrivalRamp:
		if err := validRate("Arrival.From", a.From); err != nil {
			return err
		}
		if err := validRate("Arrival.To", a.To); err != nil {
			return err
		}
		if a.From == 0 && a.To == 0 {
			return fieldErr("Arrival.To", "0: a ramp from 0 to 0 sends nothing: want a start or end rate above 0")
		}
	case ArrivalSteps:
		if len(a.Steps) == 0 {
			return fieldErr("Arrival.Steps", "empty: want the rates to step through, such as 100,200,400")
		}
		for _, r := range a.Steps {
			if err := validRate("Arrival.Steps", r); err != nil {
				return err
			}
		}
		if a.Every <= 0 {
			return fieldErr("Arrival.Every", "%v: want a positive duration", a.Every)
		}
	default:
		return fieldErr("Arrival.Kind", "%q: want one of %s", a.Kind, ArrivalKindList())
	}
	switch a.Kind {
	case ArrivalBursts:
		if a.Factor < 1 || math.IsInf(a.Factor, 0) || a.Factor*a.Rate > MaxRate {
			return fieldErr("Arrival.Factor", "%v: want 1 or more (and factor × rate ≤ %d)", a.Factor, int(MaxRate))
		}
		if a.Period <= 0 {
			return fieldErr("Arrival.Period", "%v: want a positive duration", a.Period)
		}
		if a.Length <= 0 || a.Length > a.Period {
			return fieldErr("Arrival.Length", "%v: want a positive duration, at most the period between bursts (%v)", a.Length, a.Period)
		}
	case ArrivalSine:
		if a.Period <= 0 {
			return fieldErr("Arrival.Period", "%v: want a positive duration", a.Period)
		}
		if a.Amplitude < 0 || a.Amplitude > a.Rate {
			return fieldErr("Arrival.Amplitude", "%v: want between 0 and the mean rate %v", a.Amplitude, a.Rate)
		}
	}
	return nil
}

// Shape returns the arrival rate over time that a validated Arrival describes.
func (a Arrival) Shape() Shape {
	switch a.Kind {
	case ArrivalRamp:
		return Ramp{From: a.From, To: a.To, Over: a.Over}
	case ArrivalSteps:
		return Steps{Rates: a.Steps, Every: a.Every}
	case ArrivalBursts:
		return Bursts{Base: a.Rate, Factor: a.Factor, Length: a.Length, Period: a.Period}
	case ArrivalSine:
		return Sine{Mean: a.Rate, Amplitude: a.Amplitude, Period: a.Period}
	default:
		return Constant{RPS: a.Rate}
	}
}

// ValidateURL checks that raw is an absolute http or https URL with a host.
func ValidateURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, configErr("URL %q: %v", raw, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, configErr("URL %q: want an http:// or https:// URL", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, configErr("URL %q: no host", raw)
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 {
			return nil, configErr("URL %q: port %q: want 1 to 65535", raw, p)
		}
	}
	return u, nil
}
