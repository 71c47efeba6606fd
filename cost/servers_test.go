package cost

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestServersCount(t *testing.T) {
	t.Parallel()
	s := Servers{CapacityRPS: 700, HourlyUSD: 0.1, Min: 1}
	for _, c := range []struct {
		peak float64
		want int
	}{{0, 1}, {1, 1}, {700, 1}, {700.1, 2}, {2100, 3}} {
		if got := s.Count(c.peak); got != c.want {
			t.Errorf("Count(%v) = %d, want %d", c.peak, got, c.want)
		}
	}
	// 3 × $0.1 × 730 h = $219.
	if got := s.Monthly(2100); math.Abs(got-219) > 1e-9 {
		t.Errorf("Monthly(2100) = %v, want 219", got)
	}
}

// TestBreakEven checks that the two bills are equal at the break-even rate, that functions are
// cheaper below it, and that they cost more at every rate above AlwaysAboveRPS (checked on a grid
// of rates; tolerance 1e-9 relative for the equality).
func TestBreakEven(t *testing.T) {
	t.Parallel()
	p := DefaultPrices()
	for _, c := range []struct {
		f Function
		s Servers
	}{
		{Function{MemoryMB: 1024, Duration: 50 * time.Millisecond}, Servers{CapacityRPS: 700, HourlyUSD: 0.0416, Min: 1}},
		{Function{MemoryMB: 128, Duration: 3 * time.Millisecond, InitDuration: 45 * time.Millisecond, ColdShare: 0.01}, Servers{CapacityRPS: 5000, HourlyUSD: 0.0832, Min: 2}},
		{Function{MemoryMB: 10240, Duration: 900 * time.Second}, Servers{CapacityRPS: 1, HourlyUSD: 1, Min: 1}},
	} {
		be := BreakEvenRate(p, c.f, c.s)
		if be.RPS == 0 || !be.Found || be.AlwaysAboveFound != (be.AlwaysAboveRPS > 0) {
			t.Fatalf("%+v: break-even %+v, want one found (and always-above found when set)", c, be)
		}
		fn := func(r float64) float64 { return p.Requests(c.f, Steady(r, "").RequestsPerMonth).TotalUSD }
		if got, want := fn(be.RPS), c.s.Monthly(be.RPS); math.Abs(got-want) > 1e-9*want {
			t.Errorf("%+v: at %v req/s functions $%v, servers $%v: want equal", c, be.RPS, got, want)
		}
		if fn(be.RPS*0.99) >= c.s.Monthly(be.RPS*0.99) {
			t.Errorf("%+v: functions not cheaper just below the break-even", c)
		}
		for i := 0; i <= 1000; i++ {
			r := be.AlwaysAboveRPS * (1 + float64(i)/100)
			if fn(r) < c.s.Monthly(r) {
				t.Errorf("%+v: functions cheaper at %v req/s, above %v", c, r, be.AlwaysAboveRPS)
				break
			}
		}
	}
	// A server whose capacity costs less as functions: no break-even.
	be := BreakEvenRate(p, Function{MemoryMB: 128, Duration: time.Millisecond}, Servers{CapacityRPS: 1, HourlyUSD: 10, Min: 1})
	if be.RPS != 0 || be.AlwaysAboveRPS != 0 || be.Found || be.AlwaysAboveFound {
		t.Errorf("want no break-even, found false, got %+v", be)
	}
}

func TestCompareText(t *testing.T) {
	t.Parallel()
	r, err := Compare(Input{
		Prices:      DefaultPrices(),
		Function:    Function{MemoryMB: 512, Duration: 20 * time.Millisecond},
		Servers:     Servers{CapacityRPS: 700, HourlyUSD: 0.0416, Min: 1, Headroom: 0.3},
		Traffic:     Steady(100, "steady 100 req/s"),
		Provisioned: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	// 100 req/s × 2,628,000 s = 262.8M requests × 0.02 s × 0.5 GB = 2,628,000 GB-s ×
	// $0.0000166667 = $43.80; requests $52.56; total $96.36. One server: $30.37.
	if Cents(r.Functions.TotalUSD) != 96.36 || Cents(r.ServersUSD) != 30.37 || r.ServerCount != 1 {
		t.Errorf("functions $%v, servers %d $%v", r.Functions.TotalUSD, r.ServerCount, r.ServersUSD)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"$       96.36", "$       30.37", "break-even:", "req/s", "assumptions", "provisioned"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	if _, err := Compare(Input{Prices: DefaultPrices(), Function: Function{MemoryMB: 64}, Servers: Servers{CapacityRPS: 1, HourlyUSD: 1}}); err == nil || !strings.Contains(err.Error(), "128–10240") {
		t.Errorf("64 MB: %v, want an error naming the valid range", err)
	}
}
