package cost

import (
	"fmt"
	"math"
	"time"
)

// The reference platform's public prices: AWS Lambda, US East (N. Virginia), as listed on
// aws.amazon.com/lambda/pricing and recorded with their date in the project's tier anchors
// (../shared/reference/tier-anchors.md, 2026). First duration tier only (up to 6 billion GB-s a
// month); no free tier (it is an account-wide allowance, not a function's).
const (
	// PricesDated is when the default prices were read.
	PricesDated = "2026 (AWS Lambda pricing, us-east-1)"
	// GBSecondX86Default is the on-demand duration price on x86, USD per GB-s.
	GBSecondX86Default = 0.0000166667
	// GBSecondArm64Default is the on-demand duration price on arm64 (Graviton), USD per GB-s.
	GBSecondArm64Default = 0.0000133334
	// PerMillionRequestsDefault is the request fee, USD per million requests.
	PerMillionRequestsDefault = 0.20
	// GranularityDefault is the billing granularity: duration is rounded up to it (1 ms since
	// December 2020).
	GranularityDefault = time.Millisecond
	// ProvisionedGBSecondDefault is provisioned concurrency's price while enabled (x86), USD per
	// GB-s.
	ProvisionedGBSecondDefault = 0.0000041667
	// ProvisionedExecGBSecondDefault is the duration price of invocations served by provisioned
	// concurrency (x86), USD per GB-s.
	ProvisionedExecGBSecondDefault = 0.0000097222
	// ProvisionedBlock is provisioned concurrency's billing block: enabled time is rounded up to it.
	ProvisionedBlock = 5 * time.Minute

	// MinMemoryMB and MaxMemoryMB bound a function's memory (Lambda: 128–10,240 MB in 1 MB steps).
	MinMemoryMB = 128
	MaxMemoryMB = 10240
	// HoursPerMonth is the month the bills are for: 730 hours (365 × 24 / 12), the convention of
	// AWS's own calculator.
	HoursPerMonth = 730.0
)

// Prices are what a function platform charges. The zero value is not useful; start from
// DefaultPrices.
type Prices struct {
	// GBSecond is the duration price, USD per GB-s (default GBSecondX86Default).
	GBSecond float64 `json:"gb_second_usd"`
	// PerMillionRequests is the request fee, USD per million requests (default
	// PerMillionRequestsDefault).
	PerMillionRequests float64 `json:"per_million_requests_usd"`
	// Granularity is the billing granularity (default GranularityDefault).
	Granularity time.Duration `json:"granularity_ns"`
	// FreeRequests and FreeGBSeconds are a monthly free tier subtracted from the month's totals
	// (default 0: the free tier is shared by every function of an account).
	FreeRequests  float64 `json:"free_requests"`
	FreeGBSeconds float64 `json:"free_gb_seconds"`
	// ProvisionedGBSecond and ProvisionedExecGBSecond are provisioned concurrency's prices, USD
	// per GB-s enabled and per GB-s executed (defaults ProvisionedGBSecondDefault and
	// ProvisionedExecGBSecondDefault).
	ProvisionedGBSecond     float64 `json:"provisioned_gb_second_usd"`
	ProvisionedExecGBSecond float64 `json:"provisioned_exec_gb_second_usd"`
}

// DefaultPrices are the reference platform's x86 prices (see PricesDated).
func DefaultPrices() Prices {
	return Prices{
		GBSecond:                GBSecondX86Default,
		PerMillionRequests:      PerMillionRequestsDefault,
		Granularity:             GranularityDefault,
		ProvisionedGBSecond:     ProvisionedGBSecondDefault,
		ProvisionedExecGBSecond: ProvisionedExecGBSecondDefault,
	}
}

// Validate reports the first price that is negative or not a number, or a granularity that is not
// positive.
func (p Prices) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"gb-second price", p.GBSecond},
		{"price per million requests", p.PerMillionRequests},
		{"free requests", p.FreeRequests},
		{"free GB-s", p.FreeGBSeconds},
		{"provisioned GB-second price", p.ProvisionedGBSecond},
		{"provisioned executed GB-second price", p.ProvisionedExecGBSecond},
	} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s %v: want a finite number ≥ 0", f.name, f.v)
		}
	}
	if p.Granularity <= 0 {
		return fmt.Errorf("billing granularity %v: want > 0 (the reference platform bills per 1ms)", p.Granularity)
	}
	return nil
}

// Function is what a function's invocations cost depends on.
type Function struct {
	// MemoryMB is the configured memory, MinMemoryMB–MaxMemoryMB.
	MemoryMB int `json:"memory_mb"`
	// Duration is one invocation's run time (the handler's), before rounding.
	Duration time.Duration `json:"duration_ns"`
	// InitDuration is the init phase of a cold start, billed since 2025-08-01; 0 to leave it out.
	InitDuration time.Duration `json:"init_duration_ns"`
	// ColdShare is the share of invocations that start cold, 0–1 (AWS: under 1 % in production).
	ColdShare float64 `json:"cold_share"`
}

// Validate reports a memory size out of the platform's range, a negative duration or a cold share
// outside 0–1.
func (f Function) Validate() error {
	switch {
	case f.MemoryMB < MinMemoryMB || f.MemoryMB > MaxMemoryMB:
		return fmt.Errorf("memory %d MB: want %d–%d MB", f.MemoryMB, MinMemoryMB, MaxMemoryMB)
	case f.Duration < 0:
		return fmt.Errorf("duration %v: want ≥ 0", f.Duration)
	case f.InitDuration < 0:
		return fmt.Errorf("init duration %v: want ≥ 0", f.InitDuration)
	case !(f.ColdShare >= 0 && f.ColdShare <= 1):
		return fmt.Errorf("cold share %v: want 0–1", f.ColdShare)
	}
	return nil
}

// Billed rounds a duration up to the billing granularity. An invocation is billed at least one
// granule: the platform reports "Billed Duration: 1 ms" for handlers that return at once.
func (p Prices) Billed(d time.Duration) time.Duration {
	if d <= 0 {
		return p.Granularity
	}
	return (d + p.Granularity - 1) / p.Granularity * p.Granularity
}

// GBSeconds is the memory-time of one run of d at memoryMB: billed seconds × MB / 1024.
func (p Prices) GBSeconds(d time.Duration, memoryMB int) float64 {
	return p.Billed(d).Seconds() * float64(memoryMB) / 1024
}

// Invocation is the bill of one invocation.
type Invocation struct {
	BilledDuration time.Duration `json:"billed_duration_ns"`
	GBSeconds      float64       `json:"gb_seconds"`
	// ComputeUSD is GBSeconds × the duration price; RequestUSD the request fee; TotalUSD the sum.
	ComputeUSD float64 `json:"compute_usd"`
	RequestUSD float64 `json:"request_usd"`
	TotalUSD   float64 `json:"total_usd"`
}

// Invoke bills one invocation of f; cold adds the init phase to the billed duration (rounded
// together, as the platform reports one billed duration).
func (p Prices) Invoke(f Function, cold bool) Invocation {
	d := f.Duration
	if cold {
		d += f.InitDuration
	}
	gbs := p.GBSeconds(d, f.MemoryMB)
	inv := Invocation{
		BilledDuration: p.Billed(d),
		GBSeconds:      gbs,
		ComputeUSD:     gbs * p.GBSecond,
		RequestUSD:     p.PerMillionRequests / 1e6,
	}
	inv.TotalUSD = inv.ComputeUSD + inv.RequestUSD
	return inv
}

// Bill is a month (or any period) of invocations.
type Bill struct {
	Requests   float64 `json:"requests"`
	GBSeconds  float64 `json:"gb_seconds"`
	ComputeUSD float64 `json:"compute_usd"`
	RequestUSD float64 `json:"request_usd"`
	TotalUSD   float64 `json:"total_usd"`
}

// Requests bills n invocations of f, a ColdShare of them cold, less the free tier.
func (p Prices) Requests(f Function, n float64) Bill {
	warm := p.GBSeconds(f.Duration, f.MemoryMB)
	cold := p.GBSeconds(f.Duration+f.InitDuration, f.MemoryMB)
	gbs := n * ((1-f.ColdShare)*warm + f.ColdShare*cold)
	b := Bill{Requests: n, GBSeconds: gbs}
	b.ComputeUSD = math.Max(0, gbs-p.FreeGBSeconds) * p.GBSecond
	b.RequestUSD = math.Max(0, n-p.FreeRequests) * p.PerMillionRequests / 1e6
	b.TotalUSD = b.ComputeUSD + b.RequestUSD
	return b
}

// Provisioned is the bill of keeping instances of f initialized for enabled (rounded up to
// ProvisionedBlock) while they serve n invocations, all within the provisioned concurrency. It
// adds the enabled charge to the executed duration (at the provisioned price) and the request
// fee; the free tier does not apply.
func (p Prices) Provisioned(f Function, instances int, enabled time.Duration, n float64) Bill {
	blocks := (enabled + ProvisionedBlock - 1) / ProvisionedBlock
	enabledGBs := float64(instances) * float64(f.MemoryMB) / 1024 * (blocks * ProvisionedBlock).Seconds()
	execGBs := n * p.GBSeconds(f.Duration, f.MemoryMB)
	b := Bill{Requests: n, GBSeconds: enabledGBs + execGBs}
	b.ComputeUSD = enabledGBs*p.ProvisionedGBSecond + execGBs*p.ProvisionedExecGBSecond
	b.RequestUSD = n * p.PerMillionRequests / 1e6
	b.TotalUSD = b.ComputeUSD + b.RequestUSD
	return b
}

// Cents rounds a USD amount to the cent, as a bill shows it.
func Cents(usd float64) float64 { return math.Round(usd*100) / 100 }
