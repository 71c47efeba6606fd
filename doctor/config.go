package doctor

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/headroom/headroom/collect"
	"github.com/headroom/headroom/flame"
	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/jaegersrc"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/slo"
)

// Config says what doctor measures. The zero value of each field means its documented default
// (the …Default constants; with Quick the …Quick ones); Run validates the whole struct in one
// place and fills the defaults into its own copy.
type Config struct {
	// URL is the target's base URL. Empty: start the lab (headroom-lab, found as labbin.Find
	// says) on a free loopback port, with SQLite and its embedded services.
	URL string
	// Endpoints are requests relative to URL, as "PATH" or "METHOD PATH [JSON-BODY]".
	// Default for the lab: LabEndpoints; required with a URL.
	Endpoints []string
	// Edge measures the lab through its edge tier (headroom lab --edge: an edge node with a
	// user ↔ edge link and a long edge ↔ origin link, and a direct user → origin link with both
	// distances): every phase goes through the edge, and a phase "direct" after the steady run
	// measures the same endpoints at the same rates straight to the origin, so every endpoint
	// is reported per path. With the default endpoints it adds the lab's edge showcase routes
	// that the lab serves (EdgeEndpoints). Only with the lab: an error with a URL.
	Edge bool
	// LabArgs are more arguments for the lab doctor starts, after its own (for example
	// "--edge-origin-rtt=150ms" or "--db-latency=2ms"); the lab rejects a bad one and doctor
	// says so. Only with the lab: an error with a URL.
	LabArgs []string
	// Antipatterns are the lab's switches at start: "all", "none" or a list (see lab.Antipatterns).
	// Default AntipatternsDefault ("all"). With any on, doctor measures again with all off.
	// Ignored with a URL.
	Antipatterns string
	// SLO is the objective of the sweeps. Default SLODefault ("p99<1s,errors<1%"): the lab's
	// synchronous logging alone costs 500 ms a request.
	SLO string
	// Rate, when positive, replaces the sweeps: every endpoint runs steadily at Rate requests per
	// second. Default 0 (sweep).
	Rate float64
	// Duration is the steady run's measured length; Warmup comes before each run. Defaults
	// DurationDefault (10s) and WarmupDefault (2s), or DurationQuick (3s) and WarmupQuick (1s)
	// when Quick.
	Duration, Warmup time.Duration
	// Step is each sweep step's measured length, after a warm-up of a third of it; a step at a
	// rate that gives 1,000 requests sooner measures less, down to 1 s (capacity.StepLength).
	// Default StepDefault (3s), or StepQuick (2s) when Quick.
	Step time.Duration
	// MaxSteps bounds each sweep. Default MaxStepsDefault (8), or MaxStepsQuick (20) when Quick,
	// where SweepBudget bounds it first.
	MaxSteps int
	// SweepBudget bounds the time all sweeps take together: each endpoint's sweep gets an even
	// share of what remains, starts no step that would not fit in it, and reports a maximum it
	// had no time to confirm as a lower bound. Default 0 (MaxSteps alone bounds the sweeps), or
	// SweepBudgetQuick (36s) when Quick, so that --quick stays within a minute for 4 endpoints.
	SweepBudget time.Duration
	// Start is each sweep's first rate, in requests per second. Default StartDefault (10).
	Start float64
	// Quick shortens everything: within a minute for 4 endpoints (see SweepBudget).
	Quick bool
	// Connections per load run. Default ConnectionsDefault (64).
	Connections int
	// NoProfiles skips the CPU and wall-clock profiles of the steady run (their sampling costs
	// the target some CPU).
	NoProfiles bool
	// Headers are sent with every request to the target: each load run (sweeps, steady run,
	// comparisons) and the profile fetches, for APIs that want a token or a cookie. They replace
	// an endpoint's own header of the same name (the Content-Type of a JSON body). Results carry
	// the values of credential headers (Authorization, Cookie, X-Api-Key, ...) redacted unless
	// KeepSecrets, as loadgen.Config.Redacted says. Default none.
	Headers map[string]string
	// KeepSecrets writes credentials in the target's URL (user:password@, api_key=…) into the
	// results as given; by default they are redacted, as loadgen.Config.KeepSecrets says.
	KeepSecrets bool
	// MaxProfileBytes bounds each profile fetched from the target, as read and once inflated;
	// a larger one is a note, not a failure. Default flame.MaxBytesDefault (128 MiB).
	MaxProfileBytes int64
	// TraceURL links the trace ids of report.html to a trace viewer; zero for none.
	TraceURL report.TraceURL
	// Metrics, with a URL, is the target's Prometheus endpoint: each sweep step's CPU utilization
	// comes from its process_cpu_seconds_total, over Cores cores (default this machine's).
	// The lab's utilization is always known (doctor reads its process's CPU time).
	Metrics string
	Cores   float64
	// OTLP is where the embedded collector listens for the target's traces (OTLP/HTTP).
	// Default collect.HTTPAddrDefault (127.0.0.1:4318) for a URL, so the service's exporter can
	// be pointed at a known address, falling back to a free port when it is busy; a free port
	// for the lab, whose exporter doctor points at it. collect.Off ("off"): no traces.
	OTLP string
	// OTLPGRPC is where the embedded collector listens for OTLP/gRPC, the default protocol of
	// most SDKs' exporters. Default collect.GRPCAddrDefault (127.0.0.1:4317) for a URL, falling
	// back to a free port when it is busy; a free port for the lab. collect.Off: OTLP/HTTP only.
	// Unused when OTLP is collect.Off.
	OTLPGRPC string
	// Jaeger, with its URL set, is where doctor reads the steady run's traces instead of its
	// embedded collector, which it then does not start: for a service (a URL) that exports its
	// spans to that Jaeger. The steady loads' exemplar trace ids are fetched first, then
	// Jaeger.Service is searched over the steady runs' window (End and Lookback are doctor's, and
	// so are TraceIDs). The lab exports to doctor's own receiver, so this needs a URL.
	Jaeger jaegersrc.Config
	// TraceWait is how long doctor waits, after the load, for an outside service's last traces
	// (its exporter batches them). Default TraceWaitDefault (6s), or TraceWaitQuick (3s) when
	// Quick. The lab is flushed instead.
	TraceWait time.Duration
	// OutDir receives report.json, report.html and the load and sweep results.
	// Default OutDirDefault (./headroom-report).
	OutDir string
	// Watch, when set, is called before each load run with its name and total length; it returns
	// the run's loadgen progress callback and a func called after it (a progress bar).
	Watch func(name string, total time.Duration) (update func(loadgen.Progress), done func())
	// Observe, when set, is called before every load run (each endpoint of the runs made at
	// once, each sweep step, unlike Watch) with the run's phase and configuration; the callback
	// it returns receives the run's progress once a second (metricsout.Exporter.Watch fits).
	Observe func(phase string, run loadgen.Config) func(loadgen.Progress)

	objective slo.Objective
	// endpointsDefault says Endpoints were not given: with Edge, the lab's showcase routes join.
	endpointsDefault bool
	// otlpDefault and grpcDefault say OTLP or OTLPGRPC was not given: a busy default port falls
	// back to a free one.
	otlpDefault, grpcDefault bool
}

// Defaults of Config, which zero fields stand for; the …Quick ones when Config.Quick.
const (
	AntipatternsDefault = "all"
	SLODefault          = "p99<1s,errors<1%"
	DurationDefault     = 10 * time.Second
	DurationQuick       = 3 * time.Second
	WarmupDefault       = 2 * time.Second
	WarmupQuick         = time.Second
	StepDefault         = 3 * time.Second
	StepQuick           = 2 * time.Second
	MaxStepsDefault     = 8
	MaxStepsQuick       = 20
	SweepBudgetQuick    = 36 * time.Second
	// FactorQuick and PrecisionQuick are the quick sweep's growth factor and bisection
	// precision (capacity.Config): it reaches 40,960 req/s from 10 in 6 steps.
	FactorQuick        = 4.0
	PrecisionQuick     = 0.1
	StartDefault       = 10.0
	ConnectionsDefault = 64
	TraceWaitDefault   = 6 * time.Second
	TraceWaitQuick     = 3 * time.Second
	OutDirDefault      = "headroom-report"
)

// ErrConfig is wrapped by every error Run returns for a bad Config; those that concern one
// field are a *fielderr.Error naming it.
var ErrConfig = errors.New("bad doctor config")

// LabEndpoints are the lab requests doctor measures by default: the N+1 query, the unindexed
// search, the uncached feed (all slowed further by synchronous logging), and the checkout behind
// a heavy-tailed payment provider, where the average hides the P99.
var LabEndpoints = []string{
	"GET /api/posts?limit=20",
	"GET /api/search?q=" + seed.RareWord,
	"GET /api/feed",
	`POST /api/checkout {"user_id":1,"amount_cents":1999}`,
}

// configErr marks an error whose message names the bad value already as an ErrConfig.
type configErr struct{ error }

func (e configErr) Unwrap() error { return ErrConfig }

// validate checks c as given, zero fields standing for their defaults; it fills nothing in.
func (c *Config) validate() error {
	bad := func(field, format string, args ...any) error { return fielderr.New(ErrConfig, field, format, args...) }
	for _, f := range []struct{ name, addr string }{{"OTLP", c.OTLP}, {"OTLPGRPC", c.OTLPGRPC}} {
		if f.addr == "" {
			continue
		}
		if err := collect.CheckAddr(f.addr); err != nil {
			return bad(f.name, "%q: %v", f.addr, err)
		}
	}
	if err := checkOutDir(c.OutDir); err != nil {
		return bad("OutDir", "%q: %v", c.OutDir, err)
	}
	if c.Rate < 0 {
		return bad("Rate", "%v: want a positive number of requests per second, or 0 to sweep", c.Rate)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Duration", c.Duration}, {"Warmup", c.Warmup}, {"Step", c.Step}, {"TraceWait", c.TraceWait}, {"SweepBudget", c.SweepBudget}} {
		if f.d < 0 {
			return bad(f.name, "%v: want a positive duration", f.d)
		}
	}
	if c.MaxSteps < 0 {
		return bad("MaxSteps", "%d: want at least 1", c.MaxSteps)
	}
	if c.Start < 0 {
		return bad("Start", "%v: want a positive number of requests per second", c.Start)
	}
	if c.Connections < 0 {
		return bad("Connections", "%d: want at least 1", c.Connections)
	}
	if c.MaxProfileBytes < 0 {
		return bad("MaxProfileBytes", "%d: want a positive size (0 means the default %d)", c.MaxProfileBytes, flame.MaxBytesDefault)
	}
	if c.Cores < 0 || math.IsNaN(c.Cores) {
		return bad("Cores", "%v: want a positive number of cores", c.Cores)
	}
	if c.Metrics != "" {
		if _, err := loadgen.ValidateURL(c.Metrics); err != nil {
			return bad("Metrics", "%v", err)
		}
	}
	if c.SLO != "" {
		if _, err := slo.Parse(c.SLO); err != nil {
			return bad("SLO", "%v", err)
		}
	}
	if c.Jaeger.URL != "" {
		if c.URL == "" {
			return bad("Jaeger.URL", "%q with the lab: the lab exports its traces to doctor's own receiver; give the URL of a service that exports to this Jaeger", c.Jaeger.URL)
		}
		if err := c.Jaeger.Validate(); err != nil {
			var fe *fielderr.Error
			if errors.As(err, &fe) {
				return bad("Jaeger."+fe.Field, "%s", fe.Problem)
			}
			return err
		}
	}
	if c.URL != "" {
		if len(c.LabArgs) > 0 {
			return bad("LabArgs", "%q with the URL %s: they are the lab's arguments; drop the URL to have doctor start the lab", c.LabArgs, c.shownURL(c.URL))
		}
		if c.Edge {
			return bad("Edge", "with the URL %s: the edge tier is the lab's (headroom lab --edge); drop the URL to measure the lab through its edge, or measure your own edge's URL as any target", c.shownURL(c.URL))
		}
		if _, err := loadgen.ValidateURL(c.URL); err != nil {
			return configErr{err} // it names the URL already
		}
		if len(c.Endpoints) == 0 {
			return bad("Endpoints", "empty: no endpoints to measure; give their paths, such as /api/a,/api/b")
		}
	} else if c.Antipatterns != "" {
		if _, err := lab.ParseAntipatterns(c.Antipatterns); err != nil {
			return bad("Antipatterns", "%v", err)
		}
	}
	for _, e := range c.Endpoints {
		if _, err := parseEndpoint("http://127.0.0.1", e); err != nil {
			return bad("Endpoints", "%v", err)
		}
	}
	if len(c.Headers) > 0 {
		// loadgen checks headers as it checks a target's.
		probe := loadgen.Config{Targets: []loadgen.Target{{URL: "http://127.0.0.1/", Headers: c.Headers}}, Arrival: loadgen.Arrival{Rate: 1}, Duration: time.Second}
		if err := probe.Validate(); err != nil {
			return bad("Headers", "%s", strings.TrimPrefix(err.Error(), loadgen.ErrConfig.Error()+": "))
		}
	}
	return nil
}

// checkOutDir reports whether dir can be the report directory: it, or the nearest of its parents
// that exists, is a directory. Whether it is writable shows when the first file is written.
func checkOutDir(dir string) error {
	if dir == "" {
		return nil
	}
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			if fi.IsDir() {
				return nil
			}
			if p == filepath.Clean(dir) {
				return errors.New("is a file: want a directory")
			}
			return fmt.Errorf("%s is a file: want a directory", p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// withDefaults returns c with every default filled in; c has passed validate.
func (c Config) withDefaults() Config {
	pick := func(d *time.Duration, normal, quick time.Duration) {
		if *d == 0 {
			*d = normal
			if c.Quick {
				*d = quick
			}
		}
	}
	pick(&c.Duration, DurationDefault, DurationQuick)
	pick(&c.Warmup, WarmupDefault, WarmupQuick)
	pick(&c.Step, StepDefault, StepQuick)
	pick(&c.TraceWait, TraceWaitDefault, TraceWaitQuick)
	if c.SweepBudget == 0 && c.Quick {
		c.SweepBudget = SweepBudgetQuick
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = MaxStepsDefault
		if c.Quick {
			c.MaxSteps = MaxStepsQuick
		}
	}
	if c.Start == 0 {
		c.Start = StartDefault
	}
	if c.Connections == 0 {
		c.Connections = ConnectionsDefault
	}
	if c.MaxProfileBytes == 0 {
		c.MaxProfileBytes = flame.MaxBytesDefault
	}
	if c.Cores == 0 {
		c.Cores = float64(runtime.NumCPU())
	}
	listen := func(addr *string, isDefault *bool, wellKnown string) {
		if *addr == "" {
			*isDefault = true
			*addr = wellKnown
			if c.URL == "" {
				*addr = "127.0.0.1:0"
			}
		}
	}
	listen(&c.OTLP, &c.otlpDefault, collect.HTTPAddrDefault)
	listen(&c.OTLPGRPC, &c.grpcDefault, collect.GRPCAddrDefault)
	if c.OutDir == "" {
		c.OutDir = OutDirDefault
	}
	if c.SLO == "" {
		c.SLO = SLODefault
	}
	c.objective, _ = slo.Parse(c.SLO) // validate parsed it
	if c.URL == "" {
		if len(c.Endpoints) == 0 {
			c.Endpoints, c.endpointsDefault = LabEndpoints, true
		}
		if c.Antipatterns == "" {
			c.Antipatterns = AntipatternsDefault
		}
	}
	return c
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
			return t, fmt.Errorf("%q: body %q is not JSON", e, t.Body)
		}
		t.Headers = map[string]string{"Content-Type": "application/json"}
	}
	if !strings.HasPrefix(path, "/") {
		return t, fmt.Errorf("%q: want a path starting with /, optionally after a method, such as /api/posts or \"POST /api/x {}\"", e)
	}
	t.URL = strings.TrimRight(base, "/") + path
	return t, nil
}

// shownURL is a URL as results show it: its credentials redacted unless KeepSecrets.
func (c Config) shownURL(u string) string {
	if c.KeepSecrets {
		return u
	}
	return loadgen.RedactURL(u)
}
