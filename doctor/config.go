package doctor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/headroom/headroom/collect"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/slo"
)

// Config says what doctor measures. Validate fills the defaults.
type Config struct {
	// URL is the target's base URL. Empty: start the lab (headroom-lab, found as labbin.Find
	// says) on a free loopback port, with SQLite and its embedded services.
	URL string
	// Endpoints are requests relative to URL, as "PATH" or "METHOD PATH [JSON-BODY]".
	// Default for the lab: LabEndpoints; required with a URL.
	Endpoints []string
	// Antipatterns are the lab's switches at start: "all", "none" or a list (see lab.Antipatterns).
	// Default "all". With any on, doctor measures again with all off. Ignored with a URL.
	Antipatterns string
	// SLO is the objective of the sweeps. Default "p99<1s,errors<1%": the lab's synchronous
	// logging alone costs 500 ms a request.
	SLO string
	// Rate, when positive, replaces the sweeps: every endpoint runs steadily at Rate requests per
	// second. Default 0 (sweep).
	Rate float64
	// Duration is the steady run's measured length; Warmup comes before each run. Defaults 10s
	// and 2s, or 3s and 1s when Quick.
	Duration, Warmup time.Duration
	// Step is each sweep step's measured length, after a warm-up of a third of it. Default 3s,
	// or 1s when Quick.
	Step time.Duration
	// MaxSteps bounds each sweep. Default 8, or 2 when Quick.
	MaxSteps int
	// Start is each sweep's first rate, in requests per second. Default 10.
	Start float64
	// Quick shortens everything: about 30 s on the lab.
	Quick bool
	// Connections per load run. Default 64.
	Connections int
	// NoProfiles skips the CPU and wall-clock profiles of the steady run (their sampling costs
	// the target some CPU).
	NoProfiles bool
	// Metrics, with a URL, is the target's Prometheus endpoint: each sweep step's CPU utilization
	// comes from its process_cpu_seconds_total, over Cores cores (default this machine's).
	// The lab's utilization is always known (doctor reads its process's CPU time).
	Metrics string
	Cores   float64
	// OTLP is where the embedded collector listens for the target's traces (OTLP/HTTP).
	// Default 127.0.0.1:4318 for a URL, so the service's exporter can be pointed at a known
	// address; a free port for the lab, whose exporter doctor points at it. "off": no traces.
	OTLP string
	// TraceWait is how long doctor waits, after the load, for an outside service's last traces
	// (its exporter batches them). Default 6s, or 3s when Quick. The lab is flushed instead.
	TraceWait time.Duration
	// OutDir receives report.json, report.html and the load and sweep results.
	// Default ./headroom-report.
	OutDir string
	// Watch, when set, is called before each load run with its name and total length; it returns
	// the run's loadgen progress callback and a func called after it (a progress bar).
	Watch func(name string, total time.Duration) (update func(loadgen.Progress), done func())

	objective   slo.Objective
	otlpDefault bool // OTLP was not given: a busy default port falls back to a free one
}

// LabEndpoints are the lab requests doctor measures by default: the N+1 query, the unindexed
// search, the uncached feed (all slowed further by synchronous logging), and the checkout behind
// a heavy-tailed payment provider, where the average hides the P99.
var LabEndpoints = []string{
	"GET /api/posts?limit=20",
	"GET /api/search?q=" + seed.RareWord,
	"GET /api/feed",
	`POST /api/checkout {"user_id":1,"amount_cents":1999}`,
}

// Validate fills defaults and checks c.
func (c *Config) Validate() error {
	if c.OTLP != "" && c.OTLP != collect.Off {
		if _, _, err := net.SplitHostPort(c.OTLP); err != nil {
			return fmt.Errorf("otlp %q: want host:port, such as 127.0.0.1:4318, or off", c.OTLP)
		}
	}
	if c.Rate < 0 {
		return fmt.Errorf("rate %v: want a positive number of requests per second, or 0 to sweep", c.Rate)
	}
	pick := func(d *time.Duration, normal, quick time.Duration) {
		if *d == 0 {
			*d = normal
			if c.Quick {
				*d = quick
			}
		}
	}
	pick(&c.Duration, 10*time.Second, 3*time.Second)
	pick(&c.Warmup, 2*time.Second, time.Second)
	pick(&c.Step, 3*time.Second, time.Second)
	for name, d := range map[string]time.Duration{"duration": c.Duration, "warmup": c.Warmup, "step": c.Step} {
		if d < 0 {
			return fmt.Errorf("%s %v: want a positive duration", name, d)
		}
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = 8
		if c.Quick {
			c.MaxSteps = 2
		}
	}
	if c.MaxSteps < 1 {
		return fmt.Errorf("max steps %d: want at least 1", c.MaxSteps)
	}
	if c.Start == 0 {
		c.Start = 10
	}
	if c.Start < 0 {
		return fmt.Errorf("start rate %v: want a positive number of requests per second", c.Start)
	}
	if c.Connections == 0 {
		c.Connections = 64
	}
	pick(&c.TraceWait, 6*time.Second, 3*time.Second)
	if c.Cores == 0 {
		c.Cores = float64(runtime.NumCPU())
	}
	if !(c.Cores > 0) {
		return fmt.Errorf("cores %v: want a positive number of cores", c.Cores)
	}
	if c.Metrics != "" {
		if _, err := loadgen.ValidateURL(c.Metrics); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	if c.TraceWait < 0 {
		return fmt.Errorf("trace wait %v: want a positive duration", c.TraceWait)
	}
	if c.OTLP == "" {
		c.otlpDefault = true
		c.OTLP = collect.DefaultHTTPAddr
		if c.URL == "" {
			c.OTLP = "127.0.0.1:0"
		}
	}
	if c.OutDir == "" {
		c.OutDir = "headroom-report"
	}
	if c.SLO == "" {
		c.SLO = "p99<1s,errors<1%"
	}
	o, err := slo.Parse(c.SLO)
	if err != nil {
		return fmt.Errorf("slo: %w", err)
	}
	c.objective = o
	if c.URL != "" {
		if _, err := loadgen.ValidateURL(c.URL); err != nil {
			return err
		}
		if len(c.Endpoints) == 0 {
			return errors.New("no endpoints: give the paths to measure, such as --endpoints /api/a,/api/b")
		}
	} else {
		if len(c.Endpoints) == 0 {
			c.Endpoints = LabEndpoints
		}
		if c.Antipatterns == "" {
			c.Antipatterns = "all"
		}
		if _, err := lab.ParseAntipatterns(c.Antipatterns); err != nil {
			return err
		}
	}
	for _, e := range c.Endpoints {
		if _, err := parseEndpoint("http://127.0.0.1", e); err != nil {
			return err
		}
	}
	return nil
}

// parseEndpoint turns "METHOD PATH [BODY]" or "PATH" into a target on base.
func parseEndpoint(base, e string) (loadgen.Target, error) {
	t := loadgen.Target{Method: http.MethodGet}
	fields := strings.SplitN(strings.TrimSpace(e), " ", 3)
	path := fields[0]
	if len(fields) > 1 {
		t.Method, path = strings.ToUpper(fields[0]), fields[1]
	}
	if len(fields) == 3 {
		t.Body = fields[2]
		if !json.Valid([]byte(t.Body)) {
			return t, fmt.Errorf("endpoint %q: body %q is not JSON", e, t.Body)
		}
		t.Headers = map[string]string{"Content-Type": "application/json"}
	}
	if !strings.HasPrefix(path, "/") {
		return t, fmt.Errorf("endpoint %q: want a path starting with /, optionally after a method, such as /api/posts or \"POST /api/x {}\"", e)
	}
	t.URL = strings.TrimRight(base, "/") + path
	return t, nil
}
