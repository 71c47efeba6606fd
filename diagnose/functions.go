package diagnose

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/result"
)

// The serverless attributes read, from the OpenTelemetry semantic conventions for FaaS
// (opentelemetry.io/docs/specs/semconv/faas/faas-spans/ and the attribute registry's faas page):
// faas.coldstart (bool), faas.invocation_id and faas.trigger on the invocation span; faas.name and
// faas.max_memory (bytes) on the resource, which [Read] copies onto its spans; cloud.provider.
// faas.execution is faas.invocation_id's name before semantic conventions 1.17, still written by
// older instrumentations (and Elastic's ECS).
const (
	attrFaaSColdStart    = "faas.coldstart"
	attrFaaSInvocationID = "faas.invocation_id"
	attrFaaSExecution    = "faas.execution"
	attrFaaSTrigger      = "faas.trigger"
	attrFaaSName         = "faas.name"
	attrFaaSMaxMemory    = "faas.max_memory"
	attrCloudProvider    = "cloud.provider"
	// triggerTimer is faas.trigger's value for a scheduled invocation (a keep-warm ping's).
	triggerTimer = "timer"
)

// The cold_start thresholds.
const (
	// ColdStartMinCount is the least number of cold invocations of a function for a finding:
	// one or two cold starts are the first calls of a run, not a pattern.
	ColdStartMinCount = 3
	// ColdStartMinShareOfP99 is the least share of the slowest invocations' time that cold
	// starts must take.
	ColdStartMinShareOfP99 = 0.25
	// ColdStartMin is the least mean cold-start time per cold invocation.
	ColdStartMin = 10 * time.Millisecond
)

// secondsPerMonth is the 30-day month the monthly prices are for.
const secondsPerMonth = 30 * 24 * 3600

// reInitPhase matches the spans of an init phase. AWS Lambda's X-Ray trace holds an
// "Initialization" subsegment (and "Restore" with SnapStart) beside "Invocation" and "Overhead"
// (docs.aws.amazon.com/lambda/latest/dg/services-xray.html); traces converted to OTel keep the
// names. Other runtimes name a runtime start or an init step; the lab's function platform
// (lab/faas) names its phases faas.start and faas.init.
var reInitPhase = regexp.MustCompile(`(?i)^(initialization|init|restore|runtime[ ._-]?start|cold[ ._-]?start|faas\.start)\b|[ ._-](init|initialization)$`)

// isInvocation reports whether a span is a function invocation's (its own FaaS attributes; the
// resource's faas.name alone is on every span of the function). An invocation is a server,
// consumer or internal span: client and producer spans (most spans) are skipped at once.
func (n *node) isInvocation() bool {
	return n.s.Kind != KindClient && n.s.Kind != KindProducer && n.at.faas
}

// funcInv is one invocation of a function.
type funcInv struct {
	trace, endpoint   string
	trigger, provider string
	cold              bool
	latency           time.Duration
	start, end        int64
	memoryMB          int
	// initSeen says the trace holds init-phase spans; initTime is their union, init per span name.
	initSeen bool
	initTime time.Duration
	init     map[string]phaseTime
}

// phaseTime is one init phase of an invocation: its time, and when it started after the trace.
type phaseTime struct {
	d     time.Duration
	after int64
}

// funcScan records the function invocation of one trace, if any, in d.funcs.
func (d *diagnoser) funcScan(a *analyzed) {
	fi := int32(-1)
	for _, i := range a.order {
		if a.nodes[i].isInvocation() {
			fi = i
			break
		}
	}
	if fi < 0 {
		return
	}
	s := a.nodes[fi].s
	name := cmp.Or(s.Attrs[attrFaaSName], a.endpoint)
	r := a.nodes[a.order[0]].s
	inv := funcInv{trace: a.id, endpoint: a.endpoint, trigger: s.Attrs[attrFaaSTrigger], provider: s.Attrs[attrCloudProvider],
		cold: s.Attrs[attrFaaSColdStart] == "true", latency: a.latency, start: r.Start.UnixNano(), end: r.End.UnixNano(),
		memoryMB: memoryMB(s.Attrs[attrFaaSMaxMemory])}
	if inv.cold {
		var iv []interval
		for _, i := range a.order {
			n := &a.nodes[i]
			if i == fi || !reInitPhase.MatchString(n.s.Name) {
				continue
			}
			if inv.init == nil {
				inv.init = map[string]phaseTime{}
			}
			p, seen := inv.init[n.s.Name]
			if !seen {
				p.after = n.ws - inv.start
			}
			p.d += dur(n)
			inv.init[n.s.Name] = p
			iv = append(iv, interval{n.ws, n.we})
		}
		if len(iv) > 0 {
			inv.initSeen, inv.initTime = true, unionInPlace(iv)
		}
	}
	if d.funcs == nil {
		d.funcs = map[string][]funcInv{}
	}
	d.funcs[name] = append(d.funcs[name], inv)
}

// memoryMB reads faas.max_memory: bytes per the conventions, though some instrumentations wrote
// megabytes (a value under 1 MiB is taken as MB); 0 when absent or unreadable.
func memoryMB(v string) int {
	n, err := strconv.ParseInt(v, 10, 64)
	if v == "" || err != nil || n <= 0 {
		return 0
	}
	if n < 1<<20 {
		return int(n)
	}
	return int(n >> 20)
}

// functions returns the breakdown of each function seen and its cold_start finding when it has
// one, functions by name, and the traces of the cold invocations those findings are about.
func (d *diagnoser) functions() ([]result.FunctionBreakdown, []result.Finding, map[string]bool) {
	coldTraces := map[string]bool{}
	var bs []result.FunctionBreakdown
	var fs []result.Finding
	for _, name := range slices.Sorted(maps.Keys(d.funcs)) {
		b, f, ok := d.function(name, d.funcs[name])
		bs = append(bs, b)
		if ok {
			fs = append(fs, f)
			for _, v := range d.funcs[name] {
				coldTraces[v.trace] = coldTraces[v.trace] || v.cold
			}
		}
	}
	return bs, fs, coldTraces
}

// coldTail reports whether a tail_latency finding is a cold_start's symptom: every request it
// names is a cold invocation (the cold_start says why, and what to do).
func coldTail(f result.Finding, coldTraces map[string]bool) bool {
	if f.Kind != result.KindTailLatency || len(f.Evidence.TraceIDs) == 0 {
		return false
	}
	for _, id := range f.Evidence.TraceIDs {
		if !coldTraces[id] {
			return false
		}
	}
	return true
}

func (d *diagnoser) function(name string, invs []funcInv) (result.FunctionBreakdown, result.Finding, bool) {
	cfg := d.cfg
	// A function that serves other triggers too is measured on those: its timer invocations are
	// keep-warm pings (answered without work, they would pass for fast warm calls) or scheduled
	// jobs, which no user waits on.
	all := len(invs)
	if slices.ContainsFunc(invs, func(v funcInv) bool { return v.trigger != triggerTimer }) {
		invs = slices.DeleteFunc(slices.Clone(invs), func(v funcInv) bool { return v.trigger == triggerTimer })
	}
	timers := all - len(invs)
	slices.SortFunc(invs, func(x, y funcInv) int {
		return cmp.Or(cmp.Compare(x.latency, y.latency), strings.Compare(x.trace, y.trace))
	})
	var cold, warm []time.Duration
	endpoints := map[string]int{}
	b := result.FunctionBreakdown{Function: name, Invocations: len(invs), TimerInvocations: timers, MemoryMB: cfg.FunctionMemoryMB}
	lo, lastStart := int64(math.MaxInt64), int64(math.MinInt64)
	for _, v := range invs {
		if v.cold {
			cold = append(cold, v.latency)
		} else {
			warm = append(warm, v.latency)
		}
		endpoints[v.endpoint]++
		b.Trigger, b.Provider = cmp.Or(b.Trigger, v.trigger), cmp.Or(b.Provider, v.provider)
		if v.memoryMB > 0 {
			b.MemoryMB = v.memoryMB
		}
		lo, lastStart = min(lo, v.start), max(lastStart, v.start)
	}
	for ep, n := range endpoints {
		if n > endpoints[b.Endpoint] || (n == endpoints[b.Endpoint] && ep < b.Endpoint) {
			b.Endpoint = ep
		}
	}
	warmP50 := percentile(warm, 0.5) // sorted: invs are
	b.Cold, b.Warm = tierTime(cold), tierTime(warm)
	b.ColdShare = round3(float64(len(cold)) / float64(len(invs)))
	// Each cold invocation's cold-start time: its init phases, else its time over the warm P50.
	coldTime := make([]time.Duration, len(invs))
	var coldStarts []time.Duration
	phases := map[string][]time.Duration{}
	after := map[string]int64{} // each phase's earliest start after its trace's: phases in order
	for i, v := range invs {
		if !v.cold {
			continue
		}
		switch {
		case v.initSeen:
			coldTime[i] = min(v.initTime, v.latency)
		case len(warm) > 0:
			coldTime[i] = max(v.latency-warmP50, 0)
		}
		coldStarts = append(coldStarts, coldTime[i])
		for p, t := range v.init {
			if _, ok := phases[p]; !ok || t.after < after[p] {
				after[p] = t.after
			}
			phases[p] = append(phases[p], t.d)
		}
	}
	b.ColdStart = tierTime(coldStarts)
	names := slices.Sorted(maps.Keys(phases))
	slices.SortStableFunc(names, func(x, y string) int { return cmp.Compare(after[x], after[y]) })
	for _, p := range names {
		b.Init = append(b.Init, result.InitPhase{Phase: p, Time: tierTime(phases[p])})
	}
	// The tail: the invocations at or over the P99 (nearest rank), slowest last.
	lat := make([]time.Duration, len(invs))
	for i, v := range invs {
		lat[i] = v.latency
	}
	p99 := percentile(lat, 0.99)
	var tailTime, tailCold time.Duration
	first := slices.IndexFunc(invs, func(v funcInv) bool { return v.latency >= p99 })
	for i := first; i < len(invs); i++ {
		tailTime += invs[i].latency
		tailCold += coldTime[i]
	}
	if tailTime > 0 {
		b.ColdShareOfP99 = round3(float64(tailCold) / float64(tailTime))
	}
	// The measured traffic and what keeping it warm would cost.
	// The rate between the first and the last arrival: one invocation has none.
	if span := time.Duration(lastStart - lo); len(invs) > 1 && span > 0 {
		b.RatePerSecond, b.RateKnown = round3(float64(len(invs)-1)/span.Seconds()), true
	}
	b.PeakConcurrency = peakConcurrency(invs)
	gb := float64(b.MemoryMB) / 1024
	k := float64(max(b.PeakConcurrency, 1))
	billed := max(warmP50, time.Millisecond).Seconds() // Lambda bills by the millisecond, 1 ms at least
	pings := secondsPerMonth / cfg.KeepWarmInterval.Seconds() * k
	b.KeepWarmUSDPerMonth = roundUSD(pings * (cfg.LambdaRequestUSD + gb*billed*cfg.LambdaGBSecondUSD))
	executed := b.RatePerSecond * secondsPerMonth * billed * gb // GB-s per month at the measured traffic
	b.ProvisionedUSDPerMonth = roundUSD(k*gb*secondsPerMonth*cfg.ProvisionedGBSecondUSD + executed*(cfg.ProvisionedExecGBSecondUSD-cfg.LambdaGBSecondUSD))

	mean := time.Duration(0)
	if len(coldStarts) > 0 {
		var sum float64
		for _, t := range coldStarts {
			sum += float64(t)
		}
		mean = fromFloat(sum / float64(len(coldStarts)))
	}
	if len(cold) < ColdStartMinCount || b.ColdShareOfP99 < ColdStartMinShareOfP99 || mean < ColdStartMin {
		return b, result.Finding{}, false
	}
	// Evidence: the cold invocations, slowest first.
	var hs []hit
	for i := len(invs) - 1; i >= 0; i-- {
		if invs[i].cold {
			hs = append(hs, hit{trace: invs[i].trace})
		}
	}
	how := "its time over the warm P50"
	if len(b.Init) > 0 {
		how = "its init spans"
	}
	f := result.Finding{Kind: result.KindColdStart, Endpoint: b.Endpoint,
		Summary: fmt.Sprintf("cold starts — %s: %d of %d invocations were cold (%.1f %%), cold p50 %.1f ms vs warm p50 %.1f ms; "+
			"a cold start costs %.1f ms (%s), %.0f %% of the slowest 1 %%'s time",
			name, len(cold), len(invs), b.ColdShare*100, b.Cold.P50MS, b.Warm.P50MS, ms(mean), how, b.ColdShareOfP99*100),
		Evidence:             result.Evidence{TraceIDs: d.evidence(hs), Count: len(cold), TotalMS: ms(mean), Operation: name},
		ShareOfP99:           b.ColdShareOfP99,
		ShareOfP99Known:      true, // at least ColdStartMinShareOfP99 of a tail's time
		EstimatedSavingMS:    ms(min(mean, p99)),
		EstimatedSavingKnown: true,
		Remedy: fmt.Sprintf("keep %d instances warm (a ping every %v: ~$%.4f per month; a burst past them still starts cold) or provision %d instances of concurrency "+
			"(%s per month net at %.2f invocations/s and %d MB; default Lambda x86 prices, set them in the config); "+
			"cut the init itself: a lighter runtime, less work and fewer connections opened at start-up",
			int(k), cfg.KeepWarmInterval, b.KeepWarmUSDPerMonth, int(k), netUSD(b.ProvisionedUSDPerMonth), b.RatePerSecond, b.MemoryMB),
	}
	return b, f, true
}

// peakConcurrency is the most invocations in flight at once.
func peakConcurrency(invs []funcInv) int {
	type ev struct {
		t int64
		d int
	}
	evs := make([]ev, 0, 2*len(invs))
	for _, v := range invs {
		evs = append(evs, ev{v.start, 1}, ev{v.end, -1})
	}
	// Ends before starts at the same instant: back-to-back calls share one instance.
	slices.SortFunc(evs, func(x, y ev) int { return cmp.Or(cmp.Compare(x.t, y.t), cmp.Compare(x.d, y.d)) })
	cur, peak := 0, 0
	for _, e := range evs {
		cur += e.d
		peak = max(peak, cur)
	}
	return peak
}

// netUSD writes a net monthly price: provisioned concurrency busy enough costs less than on demand.
func netUSD(v float64) string {
	if v < 0 {
		return fmt.Sprintf("~$%.2f less than on demand", -v)
	}
	return fmt.Sprintf("~$%.2f", v)
}

// roundUSD rounds a price to a hundredth of a cent: keep-warm pings cost fractions of one.
func roundUSD(f float64) float64 { return math.Round(f*1e4) / 1e4 }
