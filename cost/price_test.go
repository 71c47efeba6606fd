package cost

import (
	"math"
	"testing"
	"time"
)

// TestPublishedExamples reproduces AWS Lambda's published pricing examples to the cent.
func TestPublishedExamples(t *testing.T) {
	t.Parallel()
	// The pricing page's examples before the 1 ms change (aws.amazon.com/lambda/pricing, c. 2019,
	// found in the search corpus): $0.00001667 per GB-s and the free tier of 1M requests and
	// 400,000 GB-s subtracted from the month.
	old := DefaultPrices()
	old.GBSecond = 0.00001667
	old.FreeRequests, old.FreeGBSeconds = 1e6, 400000
	// The current page's arm64 example (a mobile backend, 3M requests a month at 120 ms with
	// 1,536 MB, no free tier). The search corpus holds the example's opening, not its figures:
	// the figures below were computed by hand from its inputs — 360,000 s × 1.5 GB = 540,000 GB-s
	// × $0.0000133334 = $7.20; 3M × $0.20/M = $0.60; $7.80.
	arm := DefaultPrices()
	arm.GBSecond = GBSecondArm64Default
	for _, c := range []struct {
		name                  string
		p                     Prices
		memoryMB              int
		d                     time.Duration
		n                     float64
		gbs                   float64
		compute, requests, us float64
	}{
		// Example 1: 512 MB, 3M invocations of 1 s: 1,500,000 GB-s − 400,000 free = 1,100,000 ×
		// $0.00001667 = $18.34; 3M − 1M free = 2M × $0.2/M = $0.40; total $18.74.
		{"example 1 (x86, free tier)", old, 512, time.Second, 3e6, 1.5e6, 18.34, 0.40, 18.74},
		// Example 2: 128 MB, 30M invocations of 200 ms: 750,000 GB-s − 400,000 = 350,000 ×
		// $0.00001667 = $5.83; 29M × $0.2/M = $5.80; total $11.63.
		{"example 2 (x86, free tier)", old, 128, 200 * time.Millisecond, 30e6, 750000, 5.83, 5.80, 11.63},
		{"arm64 mobile backend", arm, 1536, 120 * time.Millisecond, 3e6, 540000, 7.20, 0.60, 7.80},
		// Hand case at today's x86 price, no free tier: 1M × 0.1 s × 1 GB = 100,000 GB-s ×
		// $0.0000166667 = $1.67; $0.20; $1.87.
		{"x86 today, hand", DefaultPrices(), 1024, 100 * time.Millisecond, 1e6, 100000, 1.67, 0.20, 1.87},
	} {
		b := c.p.Requests(Function{MemoryMB: c.memoryMB, Duration: c.d}, c.n)
		if math.Abs(b.GBSeconds-c.gbs) > 1e-6 {
			t.Errorf("%s: %v GB-s, want %v", c.name, b.GBSeconds, c.gbs)
		}
		if Cents(b.ComputeUSD) != c.compute || Cents(b.RequestUSD) != c.requests || Cents(b.TotalUSD) != c.us {
			t.Errorf("%s: compute $%.2f requests $%.2f total $%.2f, want $%.2f $%.2f $%.2f",
				c.name, b.ComputeUSD, b.RequestUSD, b.TotalUSD, c.compute, c.requests, c.us)
		}
	}
}

// TestPricePerMillisecond checks the pricing page's table of the price of 1 ms at the smallest
// and largest memory sizes (x86 $0.0000000021 and $0.0000001667, arm64 $0.0000000017 and
// $0.0000001333), to the table's ten decimals.
func TestPricePerMillisecond(t *testing.T) {
	t.Parallel()
	arm := DefaultPrices()
	arm.GBSecond = GBSecondArm64Default
	for _, c := range []struct {
		p        Prices
		memoryMB int
		want     float64
	}{
		{DefaultPrices(), MinMemoryMB, 0.0000000021},
		{DefaultPrices(), MaxMemoryMB, 0.0000001667},
		{arm, MinMemoryMB, 0.0000000017},
		{arm, MaxMemoryMB, 0.0000001333},
	} {
		inv := c.p.Invoke(Function{MemoryMB: c.memoryMB, Duration: time.Millisecond}, false)
		if got := math.Round(inv.ComputeUSD*1e10) / 1e10; got != c.want {
			t.Errorf("%d MB at $%v/GB-s: 1 ms costs $%.10f, want $%.10f", c.memoryMB, c.p.GBSecond, inv.ComputeUSD, c.want)
		}
		if math.Abs(inv.RequestUSD-0.0000002) > 1e-18 {
			t.Errorf("request fee $%v, want $0.0000002", inv.RequestUSD)
		}
	}
}

func TestBilledRounding(t *testing.T) {
	t.Parallel()
	p := DefaultPrices()
	for _, c := range []struct{ d, want time.Duration }{
		{0, time.Millisecond}, // nothing ran: still one granule, as the platform reports
		{-time.Millisecond, time.Millisecond},
		{time.Nanosecond, time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{time.Millisecond + time.Nanosecond, 2 * time.Millisecond},
		{1000100 * time.Nanosecond, 2 * time.Millisecond}, // 1.0001 ms is billed 2 ms
		{120 * time.Millisecond, 120 * time.Millisecond},
		{899999999999 * time.Nanosecond, 900 * time.Second}, // the 900 s limit
	} {
		if got := p.Billed(c.d); got != c.want {
			t.Errorf("Billed(%v) = %v, want %v", c.d, got, c.want)
		}
	}
	p.Granularity = 100 * time.Millisecond // the pre-2020 granularity
	if got := p.Billed(101 * time.Millisecond); got != 200*time.Millisecond {
		t.Errorf("Billed(101ms) at 100 ms granularity = %v, want 200ms", got)
	}
}

func TestColdStartBillsInit(t *testing.T) {
	t.Parallel()
	p := DefaultPrices()
	// Go's init on Lambda, 41–49 ms (tier anchors): 10.4 ms + 45.2 ms = 55.6 ms, billed 56 ms
	// together (one billed duration), not 11 + 46.
	f := Function{MemoryMB: 1024, Duration: 10400 * time.Microsecond, InitDuration: 45200 * time.Microsecond, ColdShare: 0.01}
	if got := p.Invoke(f, true).BilledDuration; got != 56*time.Millisecond {
		t.Errorf("cold billed %v, want 56ms", got)
	}
	if got := p.Invoke(f, false).BilledDuration; got != 11*time.Millisecond {
		t.Errorf("warm billed %v, want 11ms", got)
	}
	// 1M invocations, 1 % cold: (990,000 × 0.011 + 10,000 × 0.056) × 1 GB = 11,450 GB-s.
	if b := p.Requests(f, 1e6); math.Abs(b.GBSeconds-11450) > 1e-6 {
		t.Errorf("%v GB-s, want 11450", b.GBSeconds)
	}
}

func TestProvisioned(t *testing.T) {
	t.Parallel()
	p := DefaultPrices()
	f := Function{MemoryMB: 512, Duration: 100 * time.Millisecond}
	// Hand case: 10 × 0.5 GB × 2,628,000 s = 13,140,000 GB-s × $0.0000041667 = $54.750438;
	// 1M × 0.1 s × 0.5 GB = 50,000 GB-s × $0.0000097222 = $0.48611; 1M × $0.2/M = $0.20; total
	// $55.436548 → $55.44.
	b := p.Provisioned(f, 10, 730*time.Hour, 1e6)
	if Cents(b.TotalUSD) != 55.44 || Cents(b.RequestUSD) != 0.20 {
		t.Errorf("provisioned month $%v (requests $%v), want $55.44 ($0.20)", b.TotalUSD, b.RequestUSD)
	}
	// Enabled time is billed in 5-minute blocks: 301 s is two blocks, 600 s × 0.5 GB = 300 GB-s.
	if b := p.Provisioned(f, 1, 301*time.Second, 0); math.Abs(b.GBSeconds-300) > 1e-9 {
		t.Errorf("301 s enabled: %v GB-s, want 300", b.GBSeconds)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, f := range []Function{{MemoryMB: 127}, {MemoryMB: 10241}, {MemoryMB: 128, Duration: -1}, {MemoryMB: 128, ColdShare: 1.5}, {MemoryMB: 128, ColdShare: math.NaN()}} {
		if f.Validate() == nil {
			t.Errorf("%+v: valid, want an error", f)
		}
	}
	for _, f := range []Function{{MemoryMB: MinMemoryMB}, {MemoryMB: MaxMemoryMB, ColdShare: 1}} {
		if err := f.Validate(); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
	p := DefaultPrices()
	p.GBSecond = -1
	if p.Validate() == nil {
		t.Error("negative price: valid")
	}
	p = DefaultPrices()
	p.Granularity = 0
	if p.Validate() == nil {
		t.Error("zero granularity: valid")
	}
}
