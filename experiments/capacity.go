package experiments

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/headroom/headroom/internal/loadstep"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/result"
)

// The capacity experiments (the notes' latency against throughput, utilization, bursts and
// headroom) load one request whose cost is CPU alone: a search with the no_index switch scans
// every post's title and body (about 5 ms of CPU for 10,000 posts on the development machine),
// with no database round trip (--db-latency 0). One database connection (--db-max-conns 1)
// runs one scan at a time: the lab is a single server whose capacity is one core's worth of
// scans, the one bottleneck, and the queue in front of it is what the claims are about. The
// machine's other core is left to the load generator: a lab that took both would starve it, and
// its runs at saturation would be invalid.
const searchPath = "/api/search?q=zebra" // a word in no post: the scan reads every one

// searchLabParams are the settings of the lab the capacity experiments share.
var searchLabParams = []Param{
	{Name: "seed-users", Default: "2000", Help: "users to seed, 5 posts each: the search scans every post, so this sets its CPU cost", Valid: whole(1)},
	{Name: "db-conns", Default: "1", Help: "the lab's database connections (--db-max-conns): scans run at once, the cores the lab can use", Valid: whole(1)},
	{Name: "p99", Default: "100ms", Help: "the SLO: the P99 latency a rate must keep to count as served"},
}

func startSearchLab(ctx context.Context, e *Env) error {
	_, err := e.StartLab(ctx, "--seed-users", e.Param("seed-users"), "--db-max-conns", e.Param("db-conns"), "--db-latency", "0", "--antipatterns", "no_index")
	return err
}

// labCores is the cores the lab's scans can use: one per connection, at most the machine's.
func labCores(e *Env) float64 {
	return max(1, min(math.Round(e.Float("db-conns")), float64(runtime.NumCPU())))
}

func searchSLO(e *Env) string { return "p99<" + e.Param("p99") }

// searchSweep is the search for the lab's maximum under the SLO, bounded by budget.
func searchSweep(ctx context.Context, e *Env, budget time.Duration) (*result.Sweep, error) {
	return e.Sweep(ctx, Sweep{Name: "sweep", Setup: "search from " + e.Param("start") + " req/s, doubling, bisecting to 10 %",
		Path: searchPath, SLO: searchSLO(e), Start: e.Float("start"), Precision: 0.1, Budget: budget,
		Step: e.Length(3*time.Second, 2*time.Second), Warmup: time.Second, Poisson: true, Cores: labCores(e)})
}

var startParam = Param{Name: "start", Default: "50", Help: "the sweep's first rate, req/s (it doubles until a step fails)", Valid: positive}

// Seed000's line ranges the capacity experiments quote.
const (
	srcThroughput  = Seed000 + ":91-100 (Latency vs Throughput Relationship), 292 (Key Takeaways)"
	srcUtilization = Seed000 + ":111-153 (Utilization, Utilization vs Latency, Highway Analogy, Key Takeaway on Utilization)"
	srcBursts      = Seed000 + ":154-160 (Traffic Behavior)"
	srcHeadroom    = Seed000 + ":147-153 (Key Takeaway on Utilization), 294 (Key Takeaways)"
)

// kneeRatio is how much P99 must grow from half the maximum to the maximum to call the growth
// non-linear: a latency proportional to the rate doubles when the rate doubles, so growth
// beyond 3× is more than any straight line through the origin gives (and a line with a positive
// intercept gives less than 2×).
const kneeRatio = 3.0

// latencyKnee sweeps the search and compares P99 at the maximum with P99 at half of it.
var latencyKnee = Definition{
	Name:   "latency-knee",
	Title:  "Latency against throughput: non-linear past a threshold",
	Claim:  "At low load: Low throughput → Low latency; As load increases: Throughput ↑ → Latency ↑; After a threshold: Latency increases dramatically (non-linear)",
	Source: srcThroughput,
	Expected: fmt.Sprintf("a sweep of the CPU-bound search finds a knee (Kneedle's elbow of P99 over the rate) and a maximum under the SLO; "+
		"P99 at the maximum ≥ %g × P99 at the step nearest half of it (a step within 35–65 %% of the maximum, and a failing rate above the "+
		"maximum, are needed for a verdict)", kneeRatio),
	Params: append([]Param{startParam}, searchLabParams...),
	Measure: func(ctx context.Context, e *Env) error {
		if err := startSearchLab(ctx, e); err != nil {
			return err
		}
		sw, err := searchSweep(ctx, e, e.Length(35*time.Second, 25*time.Second))
		if err != nil {
			return err
		}
		if at, ok := finalStep(sw, sw.MaxRPSUnderSLO); ok && sw.MaxRPSUnderSLO > 0 {
			e.RecordStep("at-max", "the step at the maximum under the SLO", at)
		}
		if half, ok := stepNear(sw, sw.MaxRPSUnderSLO/2); ok {
			e.RecordStep("at-half", "the valid step nearest half the maximum", half)
		}
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		mx, fail, knee := m.Value("sweep", "max_rps"), m.Value("sweep", "fail_rps"), m.Value("sweep", "knee_rps")
		if mx == 0 || fail == 0 {
			return result.OutcomeInconclusive, fmt.Sprintf("the sweep did not bracket the maximum (max %.0f req/s, lowest failing rate %.0f): no 'near the maximum' to compare", mx, fail)
		}
		at, okAt := m.Get("at-max")
		half, okHalf := m.Get("at-half")
		if !okAt || !okHalf || half.OfferedRPS < 0.35*mx || half.OfferedRPS > 0.65*mx {
			return result.OutcomeInconclusive, fmt.Sprintf("no valid step within 35–65 %% of the maximum %.0f req/s to compare with", mx)
		}
		ratio := at.LatencyMS.P99 / half.LatencyMS.P99
		why := fmt.Sprintf("P99 %.1f ms at %.0f req/s (half the maximum), %.1f ms at the maximum %.0f req/s: %.1f× for %.1f× the rate; knee at %s req/s; the SLO failed from %.0f req/s",
			half.LatencyMS.P99, half.OfferedRPS, at.LatencyMS.P99, at.OfferedRPS, ratio, at.OfferedRPS/half.OfferedRPS, rateText(knee), fail)
		if ratio >= kneeRatio && knee > 0 {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// stepNear is the valid, passing step whose rate is nearest rate (its final word).
func stepNear(sw *result.Sweep, rate float64) (result.SweepStep, bool) {
	var best result.SweepStep
	found := false
	for _, st := range sw.Steps {
		last, _ := finalStep(sw, st.OfferedRPS)
		if !last.Pass || !last.Verdict.Valid {
			continue
		}
		if !found || math.Abs(last.OfferedRPS-rate) < math.Abs(best.OfferedRPS-rate) {
			best, found = last, true
		}
	}
	return best, found
}

func rateText(r float64) string {
	if r == 0 {
		return "none found"
	}
	return fmt.Sprintf("%.0f", r)
}

// The utilization bands: the share of the lab's measured capacity each step offers, and their
// measurement names.
var bands = []struct {
	share float64
	name  string
}{{0.25, "25%"}, {0.5, "50%"}, {0.8, "80%"}, {0.9, "90%"}, {1, "100%"}}

// Thresholds of utilization-latency's check, each a ratio of P99s.
const (
	smoothMax = 3.0 // 50 % vs 25 %: at most this: little queueing yet
	slowerMin = 1.5 // 80 % vs 50 %, and 90 % vs 80 %: at least this
	jamMin    = 5.0 // 100 % vs 50 %: at least this
)

// saturateFor is how far past its cores' worth of the search measureCapacity offers the lab:
// enough to saturate it even though the CPU per request measured at a low rate includes the
// idle lab's own work (timers, GC), which overstates a request's cost.
const saturateFor = 2.0

// measureCapacity measures the lab's throughput on the search when saturated: a load at rate
// (low: no queue) gives the lab's CPU per request; an open load at 1.25× what every core of the
// machine could serve at that cost saturates it, and what it achieves is the capacity. Both
// runs are recorded ("calibrate", "saturate"), and the figures as "capacity".
func measureCapacity(ctx context.Context, e *Env, rate float64) (float64, error) {
	cpu := e.labCPU()
	if cpu == nil {
		return 0, fmt.Errorf("needs the lab's CPU time, from a lab this run starts: %w", ErrSkip)
	}
	d, warm := e.Length(3*time.Second, 2*time.Second), 500*time.Millisecond
	c0, err := cpu.CPUSeconds(ctx)
	if err != nil {
		return 0, fmt.Errorf("the lab's CPU time: %w", err)
	}
	if _, err := e.Load(ctx, Load{Name: "calibrate", Setup: "a low rate: the lab's CPU per request", Path: searchPath,
		Rate: rate, Duration: d, Warmup: warm}); err != nil {
		return 0, err
	}
	c1, err := cpu.CPUSeconds(ctx)
	if err != nil {
		return 0, fmt.Errorf("the lab's CPU time: %w", err)
	}
	perReq := (c1 - c0) / (rate * (d + warm).Seconds())
	if !(perReq > 0) {
		return 0, fmt.Errorf("the lab used no CPU time for %.0f requests: cannot size the saturating load", rate*(d+warm).Seconds())
	}
	over := math.Round(saturateFor * labCores(e) / perReq)
	r, err := e.Load(ctx, Load{Name: "saturate", Setup: fmt.Sprintf("%.3g× what %.0f core(s) serve at that cost: the lab saturated", saturateFor, labCores(e)),
		Path: searchPath, Rate: over, Duration: d, Warmup: warm})
	if err != nil {
		return 0, err
	}
	c := math.Round(r.AchievedRPS)
	e.Record(result.ExperimentMeasurement{Name: "capacity", Setup: "achieved when saturated",
		Values: map[string]float64{"capacity_rps": c, "offered_rps": over, "cpu_ms_per_request": 1000 * perReq, "cores": labCores(e)}})
	if c < 1 {
		return 0, fmt.Errorf("the saturated lab served %.1f req/s: too little to place the bands", r.AchievedRPS)
	}
	return c, nil
}

// saturatedShare is the most of the saturating load the lab may serve for its throughput to
// count as its capacity: serving more of it, it was not saturated.
const saturatedShare = 0.95

// capacityUnknown says why measureCapacity's figure is no capacity, "" when it is one.
func capacityUnknown(m Measured) string {
	c, over := m.Value("capacity", "capacity_rps"), m.Value("capacity", "offered_rps")
	if c <= 0 || over <= 0 {
		return "no capacity was measured"
	}
	if c >= saturatedShare*over {
		return fmt.Sprintf("the saturating load of %.0f req/s was served (%.0f req/s): the lab was not saturated, its capacity is unknown", over, c)
	}
	return ""
}

// utilizationLatency runs steps at shares of the lab's measured capacity.
var utilizationLatency = Definition{
	Name:  "utilization-latency",
	Title: "Latency against utilization: smooth at 50 %, a jam near 100 %",
	Claim: "Reality: Latency grows exponentially near 100% utilization; 50% capacity → Smooth traffic; 80% → Slower, constrained; " +
		"90% → Unpredictable; 100% → Traffic jam; Ideal range: 60–80% utilization; Keep 20% headroom for spikes",
	Source: srcUtilization,
	Expected: fmt.Sprintf("utilization is the share of the lab's capacity (its throughput when saturated) a step offers; steps at 25, 50, 80, 90 and 100 %%: "+
		"P99 at 50 %% ≤ %g × P99 at 25 %% (smooth), at 80 %% ≥ %g × at 50 %% and at 90 %% ≥ %g × at 80 %% (slower, then worse), at 100 %% ≥ %g × at 50 %% (a jam); "+
		"the lab's CPU per step and the M/M/c fit are reported", smoothMax, slowerMin, slowerMin, jamMin),
	Params: append([]Param{{Name: "calibrate-rate", Default: "50", Help: "the low rate that measures the lab's CPU per request", Valid: positive}}, searchLabParams...),
	Measure: func(ctx context.Context, e *Env) error {
		if err := startSearchLab(ctx, e); err != nil {
			return err
		}
		c, err := measureCapacity(ctx, e, e.Float("calibrate-rate"))
		if err != nil {
			return err
		}
		rates := make([]float64, len(bands))
		for i, b := range bands {
			rates[i] = math.Max(1, math.Round(b.share*c))
		}
		sw, err := e.Sweep(ctx, Sweep{Name: "bands", Setup: fmt.Sprintf("25 to 100 %% of %.0f req/s", c), Path: searchPath, SLO: searchSLO(e),
			Steps: rates, Step: e.Length(4*time.Second, 2*time.Second), Warmup: time.Second, Poisson: true, Cores: labCores(e)})
		if err != nil {
			return err
		}
		for i, b := range bands {
			if st, ok := finalStep(sw, rates[i]); ok {
				e.RecordStep(b.name, fmt.Sprintf("%.0f req/s: %s of the capacity", rates[i], b.name), st)
			}
		}
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		if why := capacityUnknown(m); why != "" {
			return result.OutcomeInconclusive, why
		}
		p99 := map[string]float64{}
		why := ""
		for _, b := range bands {
			x, ok := m.Get(b.name)
			if !ok || x.LatencyMS == nil {
				return result.OutcomeInconclusive, fmt.Sprintf("no step at %s of the capacity", b.name)
			}
			p99[b.name] = x.LatencyMS.P99
			cpu := ""
			if s, ok := x.Values["cpu_share"]; ok {
				cpu = fmt.Sprintf(", lab CPU %.0f %%", 100*s)
			}
			why += fmt.Sprintf("%s: P99 %.1f ms (P50 %.1f%s); ", b.name, x.LatencyMS.P99, x.LatencyMS.P50, cpu)
		}
		why += fmt.Sprintf("capacity %.0f req/s", m.Value("capacity", "capacity_rps"))
		if c := m.Value("bands", "mmc_capacity_rps"); c > 0 {
			why += fmt.Sprintf(", M/M/c fit %.0f req/s (R² %.2f)", c, m.Value("bands", "mmc_r2"))
		}
		ok := p99["50%"] <= smoothMax*p99["25%"] && p99["80%"] >= slowerMin*p99["50%"] &&
			p99["90%"] >= slowerMin*p99["80%"] && p99["100%"] >= jamMin*p99["50%"]
		if ok {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// burstRatio is how much worse bursty P99 must be than smooth P99 at the same mean rate.
const burstRatio = 3.0

// burstShape is the bursty arrival: 4× the base rate for 1 s every 5 s.
var burstShape = loadgen.Arrival{Kind: loadgen.ArrivalBursts, Factor: 4, Length: time.Second, Period: 5 * time.Second}

// burstyTraffic compares smooth and bursty arrivals at the same mean rate.
var burstyTraffic = Definition{
	Name:   "bursty-traffic",
	Title:  "Bursts: spikes exceed capacity though the average is low",
	Claim:  "Traffic is bursty, not uniform: Sudden spikes → Overload system; Even if average load is low: Spikes can exceed capacity",
	Source: srcBursts,
	Expected: fmt.Sprintf("at a mean of half the lab's measured capacity, bursts of 4× the base rate for 1 s every 5 s (peaks at 1.25× the capacity): "+
		"bursty P99 ≥ %g × smooth P99", burstRatio),
	Params: append([]Param{{Name: "calibrate-rate", Default: "50", Help: "the low rate that measures the lab's CPU per request", Valid: positive},
		{Name: "load", Default: "0.5", Help: "the mean rate, as a share of the capacity", Valid: share}}, searchLabParams...),
	Quick: true,
	Measure: func(ctx context.Context, e *Env) error {
		if err := startSearchLab(ctx, e); err != nil {
			return err
		}
		c, err := measureCapacity(ctx, e, e.Float("calibrate-rate"))
		if err != nil {
			return err
		}
		mean := math.Round(e.Float("load") * c)
		base := loadstep.BaseRate(burstShape, mean)
		e.Record(result.ExperimentMeasurement{Name: "shape", Setup: "the bursty arrival", Values: map[string]float64{
			"mean_rps": mean, "base_rps": base, "burst_rps": base * burstShape.Factor, "capacity_rps": c}})
		d := e.Length(15*time.Second, 10*time.Second) // whole periods: the same mean in both runs
		if _, err := e.Load(ctx, Load{Name: "smooth", Setup: fmt.Sprintf("constant %.0f req/s", mean), Path: searchPath,
			Rate: mean, Duration: d}); err != nil {
			return err
		}
		_, err = e.Load(ctx, Load{Name: "bursty", Setup: fmt.Sprintf("%.0f req/s, 4× for 1 s every 5 s: a mean of %.0f", base, mean), Path: searchPath,
			Rate: base, Arrival: burstShape, Duration: d})
		return err
	},
	Check: func(m Measured) (result.Outcome, string) {
		if why := capacityUnknown(m); why != "" {
			return result.OutcomeInconclusive, why
		}
		s, b := m.Latency("smooth"), m.Latency("bursty")
		if s.P99 <= 0 {
			return result.OutcomeInconclusive, "no smooth run to compare with"
		}
		c := m.Value("shape", "capacity_rps")
		why := fmt.Sprintf("mean %.0f req/s (%.0f %% of the capacity %.0f); bursts at %.0f req/s (%.2f× the capacity); P99 %.1f ms smooth, %.1f ms bursty (%.1f×); P50 %.1f vs %.1f ms",
			m.Value("shape", "mean_rps"), 100*m.Value("shape", "mean_rps")/c, c, m.Value("shape", "burst_rps"), m.Value("shape", "burst_rps")/c,
			s.P99, b.P99, b.P99/s.P99, s.P50, b.P50)
		if b.P99 >= burstRatio*s.P99 {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// spike is +30 % for 2 s every 5 s over a base rate, arrivals at random as in the sweep.
var spike = loadgen.Arrival{Kind: loadgen.ArrivalBursts, Factor: 1.3, Length: 2 * time.Second, Period: 5 * time.Second, Poisson: true}

// headroomPays spikes the recommended rate and the maximum by 30 %.
var headroomPays = Definition{
	Name:   "headroom-pays",
	Title:  "Headroom pays: a spike of +30 % at the recommended rate stays within the SLO",
	Claim:  "Never run systems at 100% utilization; Ideal range: 60–80% utilization; Keep 20% headroom for spikes; Maintain headroom (20–40%)",
	Source: srcHeadroom,
	Expected: "a sweep finds the maximum under the SLO and recommends 70 % of it (30 % headroom); with spikes of +30 % for 2 s every 5 s, " +
		"P99 stays within the SLO over the recommended rate and exceeds it over the maximum (a failing rate above the maximum is needed for a verdict)",
	Params: append([]Param{startParam}, searchLabParams...),
	Measure: func(ctx context.Context, e *Env) error {
		if err := startSearchLab(ctx, e); err != nil {
			return err
		}
		sw, err := searchSweep(ctx, e, e.Length(35*time.Second, 20*time.Second))
		if err != nil || sw.MaxRPSUnderSLO == 0 {
			return err // no rate met the SLO: nothing to spike, and Check says so
		}
		d := e.Length(10*time.Second, 5*time.Second)
		for _, c := range []struct {
			name string
			rate float64
		}{{"spike-at-recommended", sw.RecommendedRPS}, {"spike-at-max", sw.MaxRPSUnderSLO}} {
			if _, err := e.Load(ctx, Load{Name: c.name, Setup: fmt.Sprintf("%.0f req/s, +30 %% for 2 s every 5 s", c.rate), Path: searchPath,
				Rate: c.rate, Arrival: spike, Duration: d}); err != nil {
				return err
			}
		}
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		mx, fail := m.Value("sweep", "max_rps"), m.Value("sweep", "fail_rps")
		if mx == 0 || fail == 0 {
			return result.OutcomeInconclusive, fmt.Sprintf("the sweep did not bracket the maximum (max %.0f req/s, lowest failing rate %.0f)", mx, fail)
		}
		bound, err := time.ParseDuration(m.Param("p99"))
		if err != nil {
			return result.OutcomeInconclusive, fmt.Sprintf("the SLO's P99 %q: %v", m.Param("p99"), err)
		}
		slo := float64(bound) / float64(time.Millisecond)
		rec, top := m.Latency("spike-at-recommended"), m.Latency("spike-at-max")
		why := fmt.Sprintf("max %.0f req/s under p99<%s (failing from %.0f), recommended %.0f; with +30 %% spikes P99 %.1f ms at the recommended rate, %.1f ms at the maximum",
			mx, m.Param("p99"), fail, m.Value("sweep", "recommended_rps"), rec.P99, top.P99)
		if rec.P99 > 0 && rec.P99 <= slo && top.P99 > slo {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}
