package diagnose

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

// shift moves spans by base ms (invocations one after another in time).
func shift(base float64, spans ...sp) []sp {
	for i := range spans {
		spans[i].start += base
		spans[i].end += base
	}
	return spans
}

// lambdaInvocations is n invocations of checkout-fn as the AWS OTel Lambda layer and X-Ray show
// them: the function's span is the root, with faas.* attributes (faas.max_memory in bytes), and a
// cold one holds an "Initialization" span of initMS before the handler's work. The invocations in
// cold are cold; those in slow take slowMS of work instead of 20 to 24 ms. One starts every 100 ms.
func lambdaInvocations(n int, cold []int, initMS float64, slow []int, slowMS float64) []*Trace {
	var trs []*Trace
	for i := range n {
		work := 20 + float64(i%5)
		if slices.Contains(slow, i) {
			work = slowMS
		}
		isCold := slices.Contains(cold, i)
		begin := 0.0
		if isCold {
			begin = initMS
		}
		spans := []sp{{id: "f", name: "checkout-fn", kind: KindServer, start: 0, end: begin + work + 1,
			attrs: []string{"faas.name", "checkout-fn", "faas.trigger", "http", "faas.coldstart", fmt.Sprint(isCold),
				"faas.invocation_id", fmt.Sprintf("inv-%d", i), "faas.max_memory", "536870912", "cloud.provider", "aws"}},
			{id: "w", parent: "f", name: "Invocation", kind: KindInternal, start: begin, end: begin + work}}
		if isCold {
			spans = append(spans, sp{id: "i", parent: "f", name: "Initialization", kind: KindInternal, start: 0, end: initMS})
		}
		trs = append(trs, mk(fmt.Sprintf("lm%03d", i), shift(float64(i)*100, spans...)...))
	}
	return trs
}

// labInvocations is n requests to GET /api/posts through an API gateway to the lab's api
// function: the gateway's server span, its call, the instance's invocation span (faas.*) and
// under it, when cold, the runtime's start and the handler's init (startMS and initMS), then the
// handler's query.
func labInvocations(n int, cold []int, startMS, initMS float64) []*Trace {
	var trs []*Trace
	for i := range n {
		q := 5 + float64(i%3)
		isCold := slices.Contains(cold, i)
		begin := 2.0
		var extra []sp
		if isCold {
			extra = []sp{{id: "rs", parent: "fn", name: "runtime start", kind: KindInternal, start: 2, end: 2 + startMS},
				{id: "hi", parent: "fn", name: "handler init", kind: KindInternal, start: 2 + startMS, end: 2 + startMS + initMS}}
			begin += startMS + initMS
		}
		end := begin + q + 1
		spans := append([]sp{{id: "r", name: "GET /api/posts", kind: KindServer, start: 0, end: end + 1,
			attrs: []string{"http.route", "/api/posts", "http.request.method", "GET"}},
			{id: "c", parent: "r", name: "invoke api", kind: KindClient, start: 1, end: end},
			{id: "fn", parent: "c", name: "api", kind: KindServer, start: 1.5, end: end - 0.5,
				attrs: []string{"faas.name", "api", "faas.trigger", "http", "faas.coldstart", fmt.Sprint(isCold)}},
			{id: "q", parent: "fn", name: "SELECT", kind: KindClient, start: begin, end: begin + q,
				attrs: []string{"db.system.name", "postgresql", "db.query.text", "SELECT * FROM posts LIMIT 20"}}}, extra...)
		trs = append(trs, mk(fmt.Sprintf("lab%03d", i), shift(float64(i)*50, spans...)...))
	}
	return trs
}

func TestColdStartGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		want bool
		tr   []*Trace
	}{
		{"cold_start_lambda", true, lambdaInvocations(100, []int{0, 31, 64, 97}, 300, nil, 0)},
		{"cold_start_lab", true, labInvocations(100, []int{0, 40, 80}, 30, 45)},
		// No init span: the cold-start time is the cold invocations' time over the warm P50.
		{"cold_start_without_init_spans", true, func() []*Trace {
			trs := labInvocations(100, nil, 0, 0)
			for _, i := range []int{0, 40, 80} {
				for _, s := range trs[i].Spans {
					if s.SpanID == "fn" {
						s.Attrs["faas.coldstart"] = "true"
						s.End = s.End.Add(60e6)
					}
					if s.SpanID == "r" || s.SpanID == "c" {
						s.End = s.End.Add(60e6)
					}
				}
			}
			return trs
		}()},
		{"cold_start_near_miss_2_cold", false, lambdaInvocations(100, []int{0, 50}, 300, nil, 0)},
		{"cold_start_near_miss_not_in_tail", false, lambdaInvocations(100, []int{0, 31, 64, 97}, 15, []int{10, 20}, 400)},
		{"cold_start_near_miss_warm", false, lambdaInvocations(50, nil, 0, nil, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := Diagnose(tc.tr, Config{})
			var cs []result.Finding
			for _, x := range f.Findings {
				if x.Kind == result.KindColdStart {
					cs = append(cs, x)
				}
			}
			if len(f.Functions) != 1 {
				t.Fatalf("functions: %+v; want one", f.Functions)
			}
			if !tc.want && len(cs) != 0 {
				t.Errorf("near miss: want no cold_start, got %+v", cs)
			}
			if tc.want {
				// Only the cold_start: a tail_latency naming the same cold requests is its symptom.
				if len(cs) != 1 || len(f.Findings) != 1 {
					t.Fatalf("want one cold_start and nothing else, got %+v", f.Findings)
				}
				x := cs[0]
				if x.EstimatedSavingMS <= 0 || x.ShareOfP99 < ColdStartMinShareOfP99 || x.Remedy == "" || len(x.Evidence.TraceIDs) == 0 {
					t.Errorf("finding lacks saving, share, remedy or evidence: %+v", x)
				}
				if b := f.Functions[0]; b.KeepWarmUSDPerMonth <= 0 || b.ProvisionedUSDPerMonth <= 0 {
					t.Errorf("remedy prices: %+v; want both > 0", b)
				}
			}
			golden(t, tc.name, f)
		})
	}
}

// TestColdStartPrices checks the remedies' prices against a hand computation.
func TestColdStartPrices(t *testing.T) {
	t.Parallel()
	f := Diagnose(lambdaInvocations(100, []int{0, 31, 64, 97}, 300, nil, 0), Config{})
	b := f.Functions[0]
	if b.MemoryMB != 512 || b.PeakConcurrency != 2 || len(b.Init) != 1 || b.Init[0].Phase != "Initialization" {
		t.Fatalf("breakdown: %+v; want 512 MB (faas.max_memory in bytes), 2 in flight (a cold one overlaps the next), the Initialization phase", b)
	}
	// Two instances pinged every 5 min: 2 × 8640 pings a month, each $0.0000002 plus the warm
	// P50's GB-s (0.5 GB × 0.023 s × $0.0000166667): 17280 × $0.00000039 ≈ $0.0068.
	if b.KeepWarmUSDPerMonth < 0.0066 || b.KeepWarmUSDPerMonth > 0.0070 {
		t.Errorf("keep-warm: $%v a month; want ~$0.0068", b.KeepWarmUSDPerMonth)
	}
	// Two provisioned instances of 0.5 GB: 2 × 0.5 × 2,592,000 s × $0.0000041667 = $10.80, less
	// the cheaper execution of the measured traffic: 9.98/s × 2,592,000 s × 0.023 s × 0.5 GB ×
	// ($0.0000166667 − $0.0000097222) ≈ $2.07, so ≈ $8.73.
	if b.ProvisionedUSDPerMonth < 8.6 || b.ProvisionedUSDPerMonth > 8.9 {
		t.Errorf("provisioned: $%v a month; want ~$8.73", b.ProvisionedUSDPerMonth)
	}
	if got := netUSD(-3); got != "~$3.00 less than on demand" {
		t.Errorf("netUSD(-3) = %q; want provisioned concurrency cheaper than on demand said so", got)
	}
	if err := (Config{LambdaGBSecondUSD: -1}).Validate(); err == nil {
		t.Error("a negative price validated")
	}
}

func TestMemoryMB(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]int{"": 0, "x": 0, "-5": 0, "128": 128, "134217728": 128, "10737418240": 10240} {
		if got := memoryMB(v); got != want {
			t.Errorf("memoryMB(%q) = %d; want %d", v, got, want)
		}
	}
}

// TestColdStartFromOTLP reads invocations as the AWS OTel Lambda layer exports them: faas.name
// and faas.max_memory (an int, bytes) on the resource, faas.coldstart a bool on the span, here
// with the older faas.execution for the invocation id and no trigger.
func TestColdStartFromOTLP(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	const base = int64(1_700_000_000_000_000_000)
	for i := range 40 {
		cold := i%10 == 0
		d := int64(20e6)
		if cold {
			d = 250e6
		}
		start := base + int64(i)*int64(time.Second)
		fmt.Fprintf(&b, `{"resourceSpans":[{"resource":{"attributes":[{"key":"faas.name","value":{"stringValue":"thumbnail"}},`+
			`{"key":"faas.max_memory","value":{"intValue":"1073741824"}},{"key":"cloud.provider","value":{"stringValue":"aws"}}]},`+
			`"scopeSpans":[{"spans":[{"traceId":"%032x","spanId":"%016x","name":"thumbnail","kind":5,"startTimeUnixNano":"%d","endTimeUnixNano":"%d",`+
			`"attributes":[{"key":"faas.coldstart","value":{"boolValue":%t}},{"key":"faas.execution","value":{"stringValue":"e%d"}}]}]}]}]}`+"\n",
			i+1, i+1, start, start+d, cold, i)
	}
	in, err := Read(strings.NewReader(b.String()), ReadConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f := Analyze(in, Config{})
	if len(f.Functions) != 1 {
		t.Fatalf("functions: %+v; want thumbnail", f.Functions)
	}
	fn := f.Functions[0]
	if fn.Function != "thumbnail" || fn.MemoryMB != 1024 || fn.Cold.Requests != 4 || fn.Warm.Requests != 36 || fn.Provider != "aws" {
		t.Errorf("breakdown: %+v; want thumbnail, 1024 MB, 4 cold and 36 warm, aws", fn)
	}
	if len(f.Findings) != 1 || f.Findings[0].Kind != result.KindColdStart {
		t.Errorf("findings: %+v; want one cold_start", f.Findings)
	}
}

// TestInitPhaseNames: the init-phase span names of Lambda (X-Ray), of common runtimes and of the
// lab's function platform are recognised; an ordinary operation is not.
func TestInitPhaseNames(t *testing.T) {
	for name, want := range map[string]bool{
		"Initialization": true, "Restore": true, "runtime start": true, "handler init": true,
		"faas.start": true, "faas.init": true, "cold-start": true,
		"GET /api/posts": false, "SELECT 1": false, "upload.start": false, "initial load": false,
	} {
		if got := reInitPhase.MatchString(name); got != want {
			t.Errorf("%q: init phase %v, want %v", name, got, want)
		}
	}
}

// TestKeepWarmPingsLeftOut: a function's keep-warm pings (faas.trigger=timer, answered at once)
// are counted apart, not as the warm invocations its users wait for; a function invoked only by
// a timer keeps them.
func TestKeepWarmPingsLeftOut(t *testing.T) {
	t.Parallel()
	trs := lambdaInvocations(40, []int{0, 13, 26, 39}, 200, nil, 0)
	for i := range 30 {
		trs = append(trs, mk(fmt.Sprintf("ping%03d", i), shift(float64(i)*100+50, sp{id: "p", name: "checkout-fn", kind: KindServer, start: 0, end: 0.05,
			attrs: []string{"faas.name", "checkout-fn", "faas.trigger", "timer", "faas.coldstart", "false", "faas.invocation_id", fmt.Sprintf("ping-%d", i)}})...))
	}
	f := Diagnose(trs, Config{})
	if len(f.Functions) != 1 {
		t.Fatalf("%d functions, want 1: %+v", len(f.Functions), f.Functions)
	}
	fn := f.Functions[0]
	if fn.Invocations != 40 || fn.TimerInvocations != 30 || fn.Warm.Requests != 36 || fn.Warm.P50MS < 20 {
		t.Errorf("invocations %d, timer %d, warm %+v: want 40, 30 left out, 36 warm of 20 ms or more", fn.Invocations, fn.TimerInvocations, fn.Warm)
	}
	cron := Diagnose(trs[40:], Config{})
	if len(cron.Functions) != 1 || cron.Functions[0].Invocations != 30 || cron.Functions[0].TimerInvocations != 0 {
		t.Errorf("a timer-only function: %+v, want its 30 invocations counted", cron.Functions)
	}
}
