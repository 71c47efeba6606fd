package main

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/cost"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

func newCostCmd() *cobra.Command {
	var (
		in                                     cost.Input
		arch, loadPath, sweepPath, profilePath string
		out, html                              string
		rate, serverMax                        float64
	)
	in.Prices = cost.DefaultPrices()
	cmd := &cobra.Command{
		Use:   "cost (--rate RPS | --load FILE | --profile FILE) (--sweep FILE | --server-rps MAX) --server-hourly USD",
		Short: "What a traffic costs a month as functions (per invocation) and as always-on servers, and the break-even rate",
		Long: `cost bills a traffic both ways. As functions, on the reference platform's model (AWS Lambda):
each invocation's duration rounded up to the billing granularity × memory → GB-s, plus a fee per
request, the init phase billed on cold starts; prices are flags whose defaults are the
platform's public x86 prices (us-east-1, ` + cost.PricesDated + `). As always-on servers: enough to carry
the peak rate at a sweep's recommended rate per server (which keeps the sweep's headroom free),
paid 730 hours a month. Then the steady rate at which the two bills are equal; --html draws
both bills over the rate.

The traffic is a steady --rate, a load result (--load: its achieved rate, its peak second and,
unless --duration is given, its mean service time as the invocation's duration) or a daily
profile (--profile: 24 lines HOUR,REQUESTS[,PEAK_RPS], hours 0–23 in order; PEAK_RPS is a burst's
rate within the hour; # comments).

Exit codes: 0 success; 2 bad usage or input.`,
		Example: `  headroom cost --rate 50 --duration 20ms --memory 512 --sweep sweep.json --server-hourly 0.0416
  headroom cost --load run.json --memory 1024 --server-rps 900 --server-hourly 0.0832 --out cost.json
  headroom cost --profile day.csv --duration 120ms --memory 1536 --arch arm64 --sweep sweep.json --server-hourly 0.0336`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sio := stdioOf(cmd)
			if err := sio.reserve("--load", loadPath, "--profile", profilePath, "--sweep", sweepPath); err != nil {
				return err
			}
			fl := cmd.Flags()
			i := slices.IndexFunc(costArchs, func(a costArch) bool { return a.name == arch })
			if i < 0 {
				return cliexit.Usagef("--arch %q: want one of %s", arch, kindList(costArchNames()))
			}
			if !fl.Changed("gb-second") {
				in.Prices.GBSecond = costArchs[i].gbSecond
			}
			if n := countSet(fl.Changed("rate"), loadPath != "", profilePath != ""); n != 1 {
				return cliexit.Usagef("give one traffic: --rate, --load or --profile (%d given)", n)
			}
			switch {
			case loadPath != "":
				l, err := readLoadFile(sio, "--load", loadPath)
				if err != nil {
					return err
				}
				t, d := cost.FromLoad(l, "load result "+displayName(loadPath))
				in.Traffic = t
				if !fl.Changed("duration") {
					in.Function.Duration = d
				}
			case profilePath != "":
				p, err := readProfile(sio, profilePath)
				if err != nil {
					return err
				}
				in.Traffic = p.Traffic("profile " + displayName(profilePath))
			default:
				if !(rate >= 0) || math.IsInf(rate, 0) {
					return cliexit.Usagef("--rate %v: want a number of requests per second ≥ 0", rate)
				}
				in.Traffic = cost.Steady(rate, fmt.Sprintf("steady %g req/s", rate))
			}
			if loadPath == "" && !fl.Changed("duration") {
				return cliexit.Usagef("--duration is required with --rate or --profile: one invocation's measured run time, e.g. 20ms")
			}
			if n := countSet(sweepPath != "", fl.Changed("server-rps")); n != 1 {
				return cliexit.Usagef("give one server capacity: --sweep FILE (its recommended_rps) or --server-rps MAX (%d given)", n)
			}
			if sweepPath != "" {
				if fl.Changed("headroom") {
					return cliexit.Usagef("--headroom applies to --server-rps: a sweep's recommended_rps already keeps its own headroom")
				}
				sw, err := readSweepFile(sio, "--sweep", sweepPath)
				if err != nil {
					return err
				}
				s, err := cost.FromSweep(sw)
				if err != nil {
					return cliexit.Usagef("%s: %w", displayName(sweepPath), err)
				}
				in.Servers.CapacityRPS, in.Servers.Headroom = s.CapacityRPS, s.Headroom
			} else {
				if !(in.Servers.Headroom >= 0 && in.Servers.Headroom < 1) {
					return cliexit.Usagef("--headroom %v: want a share from 0 to below 1 (the notes keep 0.2–0.4)", in.Servers.Headroom)
				}
				if !(serverMax > 0) || math.IsInf(serverMax, 0) {
					return cliexit.Usagef("--server-rps %v: want one server's maximum rate under the SLO, > 0 req/s", serverMax)
				}
				in.Servers.CapacityRPS = serverMax * (1 - in.Servers.Headroom)
			}
			if !fl.Changed("server-hourly") {
				return cliexit.Usagef("--server-hourly is required: one server's on-demand price in USD per hour (no default: servers vary too much)")
			}
			res, err := cost.Compare(in)
			if err != nil {
				return cliexit.Usagef("%w", err)
			}
			o, err := sio.createOut(out)
			if err != nil {
				return err
			}
			defer o.abort()
			h, err := sio.create("--html", html)
			if err != nil {
				return err
			}
			defer h.abort()
			if err := o.commit(res.Write); err != nil {
				return err
			}
			if err := h.commit(func(w io.Writer) error { return report.WriteCostHTML(w, res) }); err != nil {
				return err
			}
			if err := res.WriteText(sio.text()); err != nil {
				return cliexit.RunFailed(err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Float64Var(&rate, "rate", 0, "steady traffic, requests per second")
	fl.StringVar(&loadPath, "load", "", "a load result (headroom.load/v1): its achieved rate is the traffic, its peak second the peak, its mean service time the duration")
	fl.StringVar(&profilePath, "profile", "", "a daily traffic profile: 24 lines HOUR,REQUESTS[,PEAK_RPS]")
	fl.StringVar(&sweepPath, "sweep", "", "a sweep result (headroom.sweep/v1): its recommended_rps is one server's capacity")
	fl.Float64Var(&serverMax, "server-rps", 0, "one server's maximum rate under the SLO, when there is no --sweep; --headroom is kept free")
	fl.Float64Var(&in.Servers.Headroom, "headroom", cost.HeadroomDefault, "share of --server-rps kept free (sweep's default; the notes keep 20–40 %)")
	fl.Float64Var(&in.Servers.HourlyUSD, "server-hourly", 0, "one server's price, USD per hour (required)")
	fl.IntVar(&in.Servers.Min, "min-servers", 1, "servers kept running even with no traffic")
	fl.IntVar(&in.Function.MemoryMB, "memory", cost.MinMemoryMB, "the function's memory, MB (128–10240)")
	fl.DurationVar(&in.Function.Duration, "duration", 0, "one invocation's run time, before rounding (required unless --load)")
	fl.DurationVar(&in.Function.InitDuration, "init", 0, "init phase of a cold start, billed with it (Go on Lambda: 41–49 ms)")
	fl.Float64Var(&in.Function.ColdShare, "cold-share", 0, "share of invocations that start cold, 0–1")
	fl.StringVar(&arch, "arch", costArchs[0].name, kindList(costArchNames())+": picks the default --gb-second")
	fl.Float64Var(&in.Prices.GBSecond, "gb-second", cost.GBSecondX86Default, "duration price, USD per GB-s (the default is x86's; --arch arm64 makes it 0.0000133334)")
	fl.Float64Var(&in.Prices.PerMillionRequests, "per-million", cost.PerMillionRequestsDefault, "request fee, USD per million requests")
	fl.DurationVar(&in.Prices.Granularity, "granularity", cost.GranularityDefault, "billing granularity: durations are rounded up to it")
	fl.Float64Var(&in.Prices.FreeRequests, "free-requests", 0, "monthly free requests to subtract (the account's free tier: 1M)")
	fl.Float64Var(&in.Prices.FreeGBSeconds, "free-gb-seconds", 0, "monthly free GB-s to subtract (the account's free tier: 400,000)")
	fl.IntVar(&in.Provisioned, "provisioned", 0, "also price this many instances of provisioned concurrency kept all month")
	fl.Float64Var(&in.Prices.ProvisionedGBSecond, "provisioned-gb-second", cost.ProvisionedGBSecondDefault, "provisioned concurrency, USD per GB-s enabled")
	fl.Float64Var(&in.Prices.ProvisionedExecGBSecond, "provisioned-exec-gb-second", cost.ProvisionedExecGBSecondDefault, "provisioned concurrency, USD per GB-s executed")
	fl.StringVarP(&out, "out", "o", "", "also write the comparison as JSON (headroom.cost/v1) to this file (- for standard output)")
	fl.StringVar(&html, "html", "", "also write a self-contained page with the cost-over-rate chart to this file (- for standard output)")
	complete.Flags(cmd, complete.Values(costArchNames(), nil), "arch")
	complete.Flags(cmd, complete.Files("json"), "load", "sweep", "out")
	complete.Flags(cmd, complete.AnyFile, "profile")
	complete.Flags(cmd, complete.Files("html"), "html")
	return cmd
}

// costArch is a value of cost --arch and the default --gb-second it picks.
type costArch struct {
	name     string
	gbSecond float64
}

// costArchs are the values of --arch, the default first.
var costArchs = []costArch{{"x86_64", cost.GBSecondX86Default}, {"arm64", cost.GBSecondArm64Default}}

func costArchNames() []string {
	names := make([]string, len(costArchs))
	for i, a := range costArchs {
		names[i] = a.name
	}
	return names
}

func countSet(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}

// readSweepFile reads the sweep result flag names, "-" standard input, as a usage error when it
// cannot.
func readSweepFile(sio *stdio, flag, path string) (*result.Sweep, error) {
	f, err := sio.open(flag, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := result.ReadSweep(f)
	if err != nil {
		return nil, cliexit.Usagef("%s: %w", displayName(path), err)
	}
	return s, nil
}

// readProfile reads the --profile daily traffic profile, "-" standard input, as a usage error
// when it cannot.
func readProfile(sio *stdio, path string) (*cost.Profile, error) {
	f, err := sio.open("--profile", path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := cost.ParseProfile(f)
	if err != nil {
		return nil, cliexit.Usagef("%s: %w", displayName(path), err)
	}
	return p, nil
}
