package loadgen

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
)

// Config says what load to generate. It is echoed into every result, so a result says exactly
// what ran. Validate fills the defaults and checks it; Run calls Validate.
type Config struct {
	// Targets are the requests to send; each request picks one at random by weight. Required.
	Targets []Target `json:"targets"`
	// Model is "open" (default): requests arrive on the schedule of Arrival whatever the answers;
	// or "closed": Users each send, wait for the answer, wait Think, and repeat.
	Model   string  `json:"model"`
	Arrival Arrival `json:"arrival"`
	// Duration is the measured period, after Warmup. Required.
	Duration time.Duration `json:"duration"`
	// Warmup is sent first and excluded from every statistic. Default 0.
	Warmup time.Duration `json:"warmup"`
	// Connections bounds the open model's connection pool: a due request waits for a free
	// connection and the wait counts in its latency. Default 64.
	Connections int `json:"connections"`
	// Users is the closed model's number of concurrent users (one connection each). Default 10.
	Users int `json:"users,omitempty"`
	// Think is how long a closed-model user waits between an answer and its next request.
	Think time.Duration `json:"think,omitempty"`
	// Timeout bounds each request, connecting included. Default 10s.
	Timeout time.Duration `json:"timeout"`
	// HTTP2 sends over HTTP/2 (h2c for http:// URLs). https:// URLs go through net/http and
	// negotiate HTTP/2 when the server offers it; http:// URLs take the fast HTTP/1.1 path.
	HTTP2 bool `json:"http2"`
	// Insecure skips TLS certificate verification.
	Insecure bool `json:"insecure"`
	// MaxBody caps a response body; a larger one is an error of kind "body_too_large". Default 64 MiB.
	MaxBody int64 `json:"max_body"`

	// path narrows how the fast path moves bytes, so that tests cover each way; the zero value
	// takes the fastest the platform offers.
	path fastPath
}

type fastPath uint8

const (
	pathAuto       fastPath = iota // event loops on io_uring where the kernel has it, else on epoll where there is epoll; else goroutines
	pathEpoll                      // event loops on epoll, never io_uring
	pathGoroutines                 // a goroutine per connection
)

// Arrival configures the open model's arrival process.
type Arrival struct {
	// Kind is constant (default), poisson, ramp, steps, bursts or sine.
	Kind string `json:"kind"`
	// Rate is the rate in requests per second of constant and poisson, the base rate of bursts
	// and the mean of sine.
	Rate float64 `json:"rate,omitempty"`
	// From and To are a ramp's start and end rates; it takes Over (default: the whole run).
	From float64       `json:"from,omitempty"`
	To   float64       `json:"to,omitempty"`
	Over time.Duration `json:"over,omitempty"`
	// Steps are the rates of steps, each held for Every (default: the run divided evenly).
	Steps []float64     `json:"steps,omitempty"`
	Every time.Duration `json:"every,omitempty"`
	// Factor, Length and Period shape bursts: Factor × Rate for Length at the start of every
	// Period (defaults 5, 1s, 10s).
	Factor float64       `json:"factor,omitempty"`
	Length time.Duration `json:"length,omitempty"`
	// Period is also the period of sine (default 10s); Amplitude its swing (default Rate/2).
	Period    time.Duration `json:"period,omitempty"`
	Amplitude float64       `json:"amplitude,omitempty"`
	// Poisson spaces arrivals with exponential gaps around the shape; always true for kind poisson.
	Poisson bool `json:"poisson,omitempty"`
	// Seed makes a Poisson schedule reproducible. Default 1.
	Seed uint64 `json:"seed,omitempty"`
}

// ArrivalKinds lists the valid Arrival.Kind values.
var ArrivalKinds = []string{"constant", "poisson", "ramp", "steps", "bursts", "sine"}

// ErrConfig is returned (wrapped) by Validate.
var ErrConfig = errors.New("bad load configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Validate fills defaults and checks c, returning an error that names the bad value.
func (c *Config) Validate() error {
	if len(c.Targets) == 0 {
		return configErr("no target: give a URL or a targets file")
	}
	for i := range c.Targets {
		if err := c.Targets[i].validate(); err != nil {
			return err
		}
	}
	if c.Model == "" {
		c.Model = "open"
	}
	if c.Duration <= 0 {
		return configErr("duration %v: want a positive duration such as 30s", c.Duration)
	}
	if c.Warmup < 0 {
		return configErr("warmup %v: want zero or a positive duration", c.Warmup)
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Timeout < 0 {
		return configErr("timeout %v: want a positive duration", c.Timeout)
	}
	if c.MaxBody == 0 {
		c.MaxBody = 64 << 20
	}
	if c.MaxBody < 0 {
		return configErr("max body %d: want a positive number of bytes", c.MaxBody)
	}
	switch c.Model {
	case "open":
		if c.Connections == 0 {
			c.Connections = 64
		}
		if c.Connections < 0 || c.Connections > 100000 {
			return configErr("connections %d: want 1 to 100000", c.Connections)
		}
		return c.Arrival.validate(c.Warmup + c.Duration)
	case "closed":
		if c.Users == 0 {
			c.Users = 10
		}
		if c.Users < 0 || c.Users > 100000 {
			return configErr("users %d: want 1 to 100000", c.Users)
		}
		if c.Think < 0 {
			return configErr("think %v: want zero or a positive duration", c.Think)
		}
		c.Connections = c.Users
		return nil
	default:
		return configErr("model %q: want open or closed", c.Model)
	}
}

func validRate(name string, r float64) error {
	if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) || r > 1e7 {
		return configErr("%s %v: want a rate between 0 and 10000000 requests per second", name, r)
	}
	return nil
}

func (a *Arrival) validate(total time.Duration) error {
	if a.Kind == "" {
		a.Kind = "constant"
	}
	if a.Seed == 0 {
		a.Seed = 1
	}
	switch a.Kind {
	case "constant", "poisson", "bursts", "sine":
		if err := validRate("rate", a.Rate); err != nil {
			return err
		}
		if a.Rate == 0 {
			return configErr("rate 0: the %s arrival needs --rate, in requests per second", a.Kind)
		}
	case "ramp":
		if err := validRate("ramp start", a.From); err != nil {
			return err
		}
		if err := validRate("ramp end", a.To); err != nil {
			return err
		}
		if a.From == 0 && a.To == 0 {
			return configErr("ramp from 0 to 0: give --from and --to rates")
		}
		if a.Over == 0 {
			a.Over = total
		}
	case "steps":
		if len(a.Steps) == 0 {
			return configErr("steps: give the rates, such as --steps 100,200,400")
		}
		for _, r := range a.Steps {
			if err := validRate("step", r); err != nil {
				return err
			}
		}
		if a.Every == 0 {
			a.Every = total / time.Duration(len(a.Steps))
		}
		if a.Every <= 0 {
			return configErr("step length %v: want a positive duration", a.Every)
		}
	default:
		return configErr("arrival %q: want one of %s", a.Kind, strings.Join(ArrivalKinds, ", "))
	}
	switch a.Kind {
	case "poisson":
		a.Poisson = true
	case "bursts":
		if a.Factor == 0 {
			a.Factor = 5
		}
		if a.Length == 0 {
			a.Length = time.Second
		}
		if a.Period == 0 {
			a.Period = 10 * time.Second
		}
		if a.Factor < 1 || math.IsInf(a.Factor, 0) || a.Factor*a.Rate > 1e7 {
			return configErr("burst factor %v: want 1 or more (and factor × rate ≤ 10000000)", a.Factor)
		}
		if a.Length <= 0 || a.Period <= 0 || a.Length > a.Period {
			return configErr("bursts of %v every %v: want 0 < length ≤ period", a.Length, a.Period)
		}
	case "sine":
		if a.Period == 0 {
			a.Period = 10 * time.Second
		}
		if a.Amplitude == 0 {
			a.Amplitude = a.Rate / 2
		}
		if a.Period <= 0 {
			return configErr("sine period %v: want a positive duration", a.Period)
		}
		if a.Amplitude < 0 || a.Amplitude > a.Rate {
			return configErr("sine amplitude %v: want between 0 and the mean rate %v", a.Amplitude, a.Rate)
		}
	}
	return nil
}

// Shape returns the arrival rate over time that a validated Arrival describes.
func (a Arrival) Shape() Shape {
	switch a.Kind {
	case "ramp":
		return Ramp{From: a.From, To: a.To, Over: a.Over}
	case "steps":
		return Steps{Rates: a.Steps, Every: a.Every}
	case "bursts":
		return Bursts{Base: a.Rate, Factor: a.Factor, Length: a.Length, Period: a.Period}
	case "sine":
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
