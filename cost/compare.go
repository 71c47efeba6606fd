package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Schema identifies a cost comparison.
const Schema = "headroom.cost/v1"

// Input is everything a comparison reads.
type Input struct {
	Prices   Prices
	Function Function
	Servers  Servers
	Traffic  Traffic
	// Provisioned is a number of instances kept initialized all month (provisioned concurrency)
	// to price beside on-demand; 0 leaves it out.
	Provisioned int
}

// Result is a comparison of one traffic's monthly bill as functions and as always-on servers.
type Result struct {
	Schema      string   `json:"schema"`
	PricesDated string   `json:"prices_dated"`
	Prices      Prices   `json:"prices"`
	Function    Function `json:"function"`
	Traffic     Traffic  `json:"traffic"`
	Servers     Servers  `json:"servers"`
	// Warm and Cold are the bills of one invocation, without and with the init phase.
	Warm Invocation `json:"warm_invocation"`
	Cold Invocation `json:"cold_invocation"`
	// Functions is the month on demand.
	Functions Bill `json:"functions_month"`
	// Provisioned is the month with Input.Provisioned instances kept warm, every invocation
	// served by them; absent when not asked.
	Provisioned *ProvisionedMonth `json:"provisioned_month,omitempty"`
	// ServerCount servers, sized for Traffic.PeakRPS, cost ServersUSD a month.
	ServerCount int       `json:"server_count"`
	ServersUSD  float64   `json:"servers_month_usd"`
	BreakEven   BreakEven `json:"break_even"`
	// Assumptions are the sentences behind the numbers, printed with them.
	Assumptions []string `json:"assumptions"`
}

// ProvisionedMonth is a month of provisioned concurrency.
type ProvisionedMonth struct {
	Instances int `json:"instances"`
	Bill
}

// Compare bills the traffic both ways and finds the break-even rate.
func Compare(in Input) (*Result, error) {
	if err := in.Prices.Validate(); err != nil {
		return nil, err
	}
	if err := in.Function.Validate(); err != nil {
		return nil, err
	}
	if err := in.Servers.Validate(); err != nil {
		return nil, err
	}
	if in.Provisioned < 0 {
		return nil, fmt.Errorf("provisioned instances %d: want ≥ 0", in.Provisioned)
	}
	p, f, s, t := in.Prices, in.Function, in.Servers, in.Traffic
	r := &Result{
		Schema: Schema, PricesDated: PricesDated, Prices: p, Function: f, Traffic: t, Servers: s,
		Warm:        p.Invoke(f, false),
		Cold:        p.Invoke(f, true),
		Functions:   p.Requests(f, t.RequestsPerMonth),
		ServerCount: s.Count(t.PeakRPS),
		ServersUSD:  s.Monthly(t.PeakRPS),
		BreakEven:   BreakEvenRate(p, f, s),
	}
	if in.Provisioned > 0 {
		r.Provisioned = &ProvisionedMonth{Instances: in.Provisioned,
			Bill: p.Provisioned(f, in.Provisioned, time.Duration(HoursPerMonth*float64(time.Hour)), t.RequestsPerMonth)}
	}
	r.Assumptions = []string{
		fmt.Sprintf("a month is %.0f hours; prices are %s", HoursPerMonth, PricesDated),
		fmt.Sprintf("each invocation is billed its duration rounded up to %v (at least one), × %d MB / 1024 → GB-s, plus the request fee", p.Granularity, f.MemoryMB),
		fmt.Sprintf("servers run all month, sized for the peak %.4g req/s at %.4g req/s each (headroom %.0f %% of a server's maximum kept free), never fewer than %d; no autoscaling", t.PeakRPS, s.CapacityRPS, 100*s.Headroom, s.Min),
		"the break-even rate is for steady traffic, with no free tier (it is the account's, shared by its functions)",
	}
	if f.ColdShare > 0 && f.InitDuration > 0 {
		r.Assumptions = append(r.Assumptions, fmt.Sprintf("%.3g %% of invocations start cold and are billed their %v init phase too", 100*f.ColdShare, f.InitDuration))
	} else {
		r.Assumptions = append(r.Assumptions, "no init phase billed: no cold starts were given (an init duration and a cold share)")
	}
	if p.FreeRequests > 0 || p.FreeGBSeconds > 0 {
		r.Assumptions = append(r.Assumptions, fmt.Sprintf("the month's bill subtracts a free tier of %.0f requests and %.0f GB-s", p.FreeRequests, p.FreeGBSeconds))
	}
	if r.Provisioned != nil {
		// Little's law: the mean number of invocations in flight.
		busy := t.MeanRPS * f.Duration.Seconds()
		r.Assumptions = append(r.Assumptions, fmt.Sprintf("provisioned concurrency: %d instances enabled all month serve every invocation (none spill to on-demand; the mean concurrency is %.3g)", in.Provisioned, busy))
	}
	return r, nil
}

// Write writes the result as indented JSON.
func (r *Result) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText prints the comparison for a person: every number with its unit, then the
// assumptions behind them.
func (r *Result) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("traffic: %s — %.4g req/s mean, %.4g req/s peak, %.0f requests a month\n", r.Traffic.Source, r.Traffic.MeanRPS, r.Traffic.PeakRPS, r.Traffic.RequestsPerMonth)
	ew.printf("function: %d MB, %v per invocation (billed %v: %.6g GB-s, $%.10f with the request fee)",
		r.Function.MemoryMB, r.Function.Duration, r.Warm.BilledDuration, r.Warm.GBSeconds, r.Warm.TotalUSD)
	if r.Function.InitDuration > 0 {
		ew.printf("; cold with init %v: billed %v, $%.10f", r.Function.InitDuration, r.Cold.BilledDuration, r.Cold.TotalUSD)
	}
	ew.printf("\n")
	ew.printf("\nmonthly cost\n")
	ew.printf("  functions (on demand)   $%12.2f   %.6g GB-s × $%.10f/GB-s = $%.2f + %.0f requests × $%.2f/M = $%.2f\n",
		Cents(r.Functions.TotalUSD), r.Functions.GBSeconds, r.Prices.GBSecond, Cents(r.Functions.ComputeUSD),
		r.Functions.Requests, r.Prices.PerMillionRequests, Cents(r.Functions.RequestUSD))
	if pm := r.Provisioned; pm != nil {
		ew.printf("  functions (provisioned) $%12.2f   %d instances all month, GB-s enabled and executed $%.2f + requests $%.2f\n",
			Cents(pm.TotalUSD), pm.Instances, Cents(pm.ComputeUSD), Cents(pm.RequestUSD))
	}
	ew.printf("  servers (always on)     $%12.2f   %d × $%.4g/h × %.0f h\n", Cents(r.ServersUSD), r.ServerCount, r.Servers.HourlyUSD, HoursPerMonth)
	be := r.BreakEven
	ew.printf("\nbreak-even: ")
	switch {
	case !be.Found:
		ew.printf("none — functions cost less at every steady rate ($%.4g per req/s a month; a server's %.4g req/s cost $%.2f a month as functions, $%.2f as a server)\n",
			be.USDPerRPSMonth, r.Servers.CapacityRPS, be.USDPerRPSMonth*r.Servers.CapacityRPS, r.Servers.HourlyUSD*HoursPerMonth)
	default:
		ew.printf("%.4g req/s steady ($%.4g per req/s a month as functions)", be.RPS, be.USDPerRPSMonth)
		if be.AlwaysAboveFound {
			ew.printf("; functions cost more at every rate above %.4g req/s", be.AlwaysAboveRPS)
		}
		ew.printf("\n")
	}
	ew.printf("\nassumptions\n")
	for _, a := range r.Assumptions {
		ew.printf("  - %s\n", a)
	}
	return ew.err
}

// errWriter keeps the first write error, so a report is a sequence of printf calls.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
