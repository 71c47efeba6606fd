package cost

import (
	"fmt"
	"math"
)

// HeadroomDefault is the share of a server's maximum kept free when it is given as a maximum
// rather than a sweep's recommended rate: 0.3, sweep's default, inside the notes' "maintain
// headroom (20–40 %)".
const HeadroomDefault = 0.3

// Servers are always-on servers: paid every hour, sized for the peak.
type Servers struct {
	// CapacityRPS is the rate one server is run at, headroom already kept: a sweep's
	// recommended_rps ((1 − headroom) × the maximum under the SLO).
	CapacityRPS float64 `json:"capacity_rps"`
	// HourlyUSD is one server's price per hour.
	HourlyUSD float64 `json:"hourly_usd"`
	// Min is the fewest servers kept running, even with no traffic (the command uses 1).
	Min int `json:"min"`
	// Headroom is the share of a server's maximum that CapacityRPS keeps free, for the record:
	// the sweep's headroom, or the one applied to a maximum given by hand.
	Headroom float64 `json:"headroom"`
}

// Validate reports a capacity or price that is not a positive finite number.
func (s Servers) Validate() error {
	if !(s.CapacityRPS > 0) || math.IsInf(s.CapacityRPS, 0) {
		return fmt.Errorf("server capacity %v req/s: want > 0 (a sweep's recommended_rps)", s.CapacityRPS)
	}
	if !(s.HourlyUSD > 0) || math.IsInf(s.HourlyUSD, 0) {
		return fmt.Errorf("server price %v USD/h: want > 0", s.HourlyUSD)
	}
	if s.Min < 0 {
		return fmt.Errorf("minimum servers %d: want ≥ 0", s.Min)
	}
	return nil
}

// Count is the servers needed for a peak rate: ceil(peak / capacity), at least Min.
func (s Servers) Count(peakRPS float64) int {
	return max(s.Min, int(math.Ceil(peakRPS/s.CapacityRPS)))
}

// Monthly is what Count(peakRPS) servers cost over HoursPerMonth.
func (s Servers) Monthly(peakRPS float64) float64 {
	return float64(s.Count(peakRPS)) * s.HourlyUSD * HoursPerMonth
}

// BreakEven is where functions and servers cost the same for a steady rate.
type BreakEven struct {
	// USDPerRPSMonth is what one req/s of steady traffic costs a month as functions.
	USDPerRPSMonth float64 `json:"function_usd_per_rps_month"`
	// RPS is the lowest steady rate at which the functions' monthly bill equals the servers' (Min
	// servers, at least one); 0 when functions are cheaper at every rate (a server's capacity
	// costs more as servers than as functions).
	RPS float64 `json:"rps"`
	// Found is true when there is a break-even rate: RPS is then it.
	Found bool `json:"found"`
	// AlwaysAboveRPS is the rate above which functions cost more at every rate: past RPS, each
	// added server opens a short range where functions are cheaper again. 0 when RPS is, or when
	// one server's capacity costs exactly as much as functions (the ranges never close).
	AlwaysAboveRPS float64 `json:"always_above_rps"`
	// AlwaysAboveFound is true when there is such a rate: AlwaysAboveRPS is then it.
	AlwaysAboveFound bool `json:"always_above_found"`
}

// BreakEvenRate solves for the steady rate where f's monthly bill (free tier left out: it is the
// account's) equals the servers'. Functions cost k per req/s per month; servers cost
// max(Min, ceil(r/C)) × H. The first crossing is at n×H/k for the n = max(Min, 1) servers, if
// that rate fits on them; above n×H/(k − H/C) functions cost more at every rate, since
// max(n, ceil(r/C)) ≤ r/C + n.
func BreakEvenRate(p Prices, f Function, s Servers) BreakEven {
	p.FreeRequests, p.FreeGBSeconds = 0, 0
	k := p.Requests(f, HoursPerMonth*3600).TotalUSD
	h := s.HourlyUSD * HoursPerMonth
	be := BreakEven{USDPerRPSMonth: k}
	n := float64(max(s.Min, 1))
	if r := n * h / k; k > 0 && r <= n*s.CapacityRPS {
		be.RPS, be.Found = r, true
		if per := k - h/s.CapacityRPS; per > 0 {
			be.AlwaysAboveRPS, be.AlwaysAboveFound = math.Max(r, n*h/per), true
		}
	}
	return be
}
