package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/headroom/headroom/cost"
	"github.com/headroom/headroom/result"
)

// The serverless claims (seeds/004, "Serverless Computing") on the lab's function platform:
// `headroom lab --functions` serves the lab's API as the function `api` under /fn/api/, on AWS
// Lambda's model (an instance per concurrent invocation, started cold when none is idle, idle
// ones reclaimed, a time limit per invocation).

// coldStarts is the api function's cold starts so far.
func coldStarts(ctx context.Context, e *Env) (float64, error) {
	return e.Metric(ctx, "", "headroom_faas_cold_starts_total", map[string]string{"function": "api"})
}

var serverlessColdStart = Definition{
	Name:   "serverless-cold-start",
	Title:  "Serverless: a cold start delays the request that meets it",
	Claim:  "Problems: Cold Start - Delay when spinning up new instance",
	Source: Seed004 + ":233-235 (Serverless Computing, Problems)",
	Expected: "GET /api/posts/1 as the api function, every invocation cold (instances reclaimed after 20 ms idle, " +
		"at least 90 % of invocations cold starts, else inconclusive), has a P50 at least twice the warm one's " +
		"(instances kept); the API itself, without the function, is reported beside them",
	Tier: TierFunctions,
	Params: []Param{
		{Name: "warm-rate", Default: "10", Help: "invocations per second, warm", Valid: positive},
		{Name: "cold-rate", Default: "4", Help: "invocations per second, cold (far apart: each after the idle reclaim)", Valid: positive},
	},
	Measure: func(ctx context.Context, e *Env) error {
		d := e.Length(10*time.Second, 6*time.Second)
		if _, err := e.StartLab(ctx, "--functions"); err != nil {
			return err
		}
		if _, err := e.Load(ctx, Load{Name: "api", Setup: "the API itself, no function", Path: "/api/posts/1",
			Rate: e.Float("warm-rate"), Duration: d, Warmup: time.Second}); err != nil {
			return err
		}
		if _, err := e.Load(ctx, Load{Name: "warm", Setup: "the api function, instances kept (idle reclaim after 1 min)", Path: "/fn/api/api/posts/1",
			Rate: e.Float("warm-rate"), Duration: d, Warmup: time.Second}); err != nil {
			return err
		}
		if _, err := e.StartLab(ctx, "--functions", "--function-idle", "20ms"); err != nil {
			return err
		}
		c0, err := coldStarts(ctx, e)
		if err != nil {
			return err
		}
		r, err := e.Load(ctx, Load{Name: "cold", Setup: "the api function, instances reclaimed after 20 ms idle", Path: "/fn/api/api/posts/1",
			Rate: e.Float("cold-rate"), Duration: d})
		if err != nil {
			return err
		}
		c1, err := coldStarts(ctx, e)
		if err != nil {
			return err
		}
		start, err := meanSeconds(ctx, e, "headroom_faas_cold_start_seconds", map[string]string{"function": "api", "phase": "start"})
		if err != nil {
			return err
		}
		init, err := meanSeconds(ctx, e, "headroom_faas_cold_start_seconds", map[string]string{"function": "api", "phase": "init"})
		if err != nil {
			return err
		}
		e.Record(result.ExperimentMeasurement{Name: "cold-starts", Setup: "the cold run's instances",
			Values: map[string]float64{"cold_starts": c1 - c0, "invocations": float64(r.Requests),
				"cold_share": (c1 - c0) / float64(max(r.Requests, 1)), "start_ms": 1e3 * start, "init_ms": 1e3 * init}})
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		api, warm, cold := m.Latency("api"), m.Latency("warm"), m.Latency("cold")
		share := m.Value("cold-starts", "cold_share")
		why := fmt.Sprintf("P50 %.2f ms the API itself, %.2f ms the function warm, %.2f ms cold (%.1f×; P99 %.1f / %.1f / %.1f ms); "+
			"%.0f %% of the cold run's invocations were cold starts (start %.1f ms + init %.1f ms on average)",
			api.P50, warm.P50, cold.P50, cold.P50/warm.P50, api.P99, warm.P99, cold.P99, 100*share,
			m.Value("cold-starts", "start_ms"), m.Value("cold-starts", "init_ms"))
		if share < 0.9 {
			return result.OutcomeInconclusive, why + ": too few cold starts to call the run cold"
		}
		if cold.P50 >= 2*warm.P50 {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// meanSeconds is a histogram's mean (its _sum over its _count), 0 without observations.
func meanSeconds(ctx context.Context, e *Env, name string, match map[string]string) (float64, error) {
	sum, err := e.Metric(ctx, "", name+"_sum", match)
	if err != nil {
		return 0, err
	}
	n, err := e.Metric(ctx, "", name+"_count", match)
	if err != nil || n == 0 {
		return 0, err
	}
	return sum / n, nil
}

var serverlessKeepWarm = Definition{
	Name:   "serverless-keep-warm",
	Title:  "Serverless: keeping instances warm removes the cold starts of a burst",
	Claim:  "Solutions to Cold Start: Keep instances warm (pinging)",
	Source: Seed004 + ":249-251 (Solutions to Cold Start)",
	Expected: "a burst from zero (`rate` req/s at once on the api function's search; concurrency 50, idle reclaim 4 s) " +
		"meets at least 3 cold starts without a remedy (else inconclusive: the burst needed too few instances), " +
		"and with `keep-warm` instances pinged every 2 s at most half as many, with a P99 no higher",
	Tier: TierFunctions,
	Params: []Param{
		{Name: "rate", Default: "200", Help: "the burst's invocations per second", Valid: positive},
		{Name: "keep-warm", Default: "10", Help: "instances the pinger keeps warm (the lab's --function-keep-warm)", Valid: whole(1)},
	},
	Measure: func(ctx context.Context, e *Env) error {
		d := e.Length(5*time.Second, 3*time.Second)
		for _, c := range []struct {
			name, setup string
			extra       []string
		}{
			{"none", "no remedy", nil},
			{"keep-warm", e.Param("keep-warm") + " instances pinged every 2 s", []string{"--function-keep-warm", e.Param("keep-warm")}},
		} {
			args := append([]string{"--functions", "--function-concurrency", "50", "--function-idle", "4s"}, c.extra...)
			if _, err := e.StartLab(ctx, args...); err != nil {
				return err
			}
			// Past the pinger's first round (every half the idle time), before any reclaim.
			if err := e.Wait(ctx, 3*time.Second); err != nil {
				return err
			}
			c0, err := coldStarts(ctx, e)
			if err != nil {
				return err
			}
			if _, err := e.Load(ctx, Load{Name: c.name, Setup: "a burst from zero, " + c.setup, Path: "/fn/api/api/search?q=flamegraph",
				Rate: e.Float("rate"), Duration: d}); err != nil {
				return err
			}
			c1, err := coldStarts(ctx, e)
			if err != nil {
				return err
			}
			pings, err := e.Metric(ctx, "", "headroom_faas_invocations_total", map[string]string{"function": "api", "trigger": "timer"})
			if err != nil {
				return err
			}
			e.Record(result.ExperimentMeasurement{Name: c.name + "-instances", Setup: "the burst's cold starts; the pings since the start",
				Values: map[string]float64{"cold_starts": c1 - c0, "pings": pings}})
		}
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		none, warm := m.Latency("none"), m.Latency("keep-warm")
		cn, cw := m.Value("none-instances", "cold_starts"), m.Value("keep-warm-instances", "cold_starts")
		why := fmt.Sprintf("cold starts in the burst: %.0f without a remedy, %.0f kept warm (%.0f pings); P99 %.1f vs %.1f ms, P50 %.2f vs %.2f ms",
			cn, cw, m.Value("keep-warm-instances", "pings"), none.P99, warm.P99, none.P50, warm.P50)
		if cn < 3 {
			return result.OutcomeInconclusive, why + ": the burst needed too few new instances to judge"
		}
		if cw <= cn/2 && warm.P99 <= none.P99 {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

var serverlessTimeLimit = Definition{
	Name:   "serverless-time-limit",
	Title:  "Serverless: the execution limit stops long work; a queued job finishes it",
	Claim:  "Execution Limits - Example: AWS Lambda → ~15 minutes max; Bad Use Cases: Long-running processes",
	Source: Seed004 + ":236-239,260-262 (Execution Limits, Bad Use Cases)",
	Expected: "a long upload processed inside the api function (`size` bytes) under a `limit` execution limit is " +
		"stopped: 504 within the limit + 1 s; the same upload to the lab answers 202 (queued) and the video is ready " +
		"within 60 s",
	Tier: TierFunctions,
	Params: []Param{
		{Name: "size", Default: "67108864", Help: "bytes of the uploaded video", Valid: whole(1)},
		{Name: "limit", Default: "100ms", Help: "the functions' execution limit (the lab's --function-timeout; Lambda's is 15 min)"},
	},
	Measure: func(ctx context.Context, e *Env) error {
		if _, err := e.StartLab(ctx, "--functions", "--function-timeout", e.Param("limit")); err != nil {
			return err
		}
		body := fmt.Sprintf(`{"owner_id":1,"title":"long","size_bytes":%s}`, e.Param("size"))
		r, err := e.Call(ctx, http.MethodPost, "/fn/api/api/videos", body)
		if err != nil {
			return err
		}
		e.Record(result.ExperimentMeasurement{Name: "function", Setup: "processed inside the api function, limit " + e.Param("limit"),
			Target: "POST /fn/api/api/videos", Values: map[string]float64{"status": float64(r.Status), "answer_ms": ms(r.Elapsed)}})
		r, err = e.Call(ctx, http.MethodPost, "/api/videos", body)
		if err != nil {
			return err
		}
		var v struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(r.Body, &v); r.Status != http.StatusAccepted || err != nil {
			return fmt.Errorf("POST /api/videos: status %d, want 202 with the video: %.200s", r.Status, r.Body)
		}
		queued := result.ExperimentMeasurement{Name: "queued", Setup: "the same upload to the lab: queued jobs",
			Target: "POST /api/videos", Values: map[string]float64{"status": float64(r.Status), "answer_ms": ms(r.Elapsed)}}
		took, err := e.Poll(ctx, "the queued video", 200*time.Millisecond, time.Minute, func(ctx context.Context) (bool, error) {
			var got struct{ Status string }
			err := e.GetJSON(ctx, fmt.Sprintf("/api/videos/%d", v.ID), &got)
			return got.Status == "ready", err
		})
		switch {
		case err == nil:
			queued.Values["ready"], queued.Values["ready_s"] = 1, took.Seconds()
		case !errors.Is(err, errPollTimeout):
			return err
		}
		e.Record(queued)
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		limit, _ := time.ParseDuration(m.Param("limit"))
		fs, fms := m.Value("function", "status"), m.Value("function", "answer_ms")
		why := fmt.Sprintf("as a function: %.0f after %.0f ms (limit %v); queued: %.0f after %.1f ms",
			fs, fms, limit, m.Value("queued", "status"), m.Value("queued", "answer_ms"))
		if m.Value("queued", "ready") != 1 {
			return result.OutcomeDidNotHold, why + ", the video not ready within 60 s"
		}
		why += fmt.Sprintf(", the video ready %.1f s later", m.Value("queued", "ready_s"))
		if fs == http.StatusGatewayTimeout && fms <= ms(limit+time.Second) {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

var serverlessBill = Definition{
	Name:   "serverless-bill",
	Title:  "Serverless: pay per execution against servers paid 24/7, for a bursty and a steady day",
	Claim:  "Cost: Pay 24/7 regardless of usage; Key Differences: Pay per execution (not uptime); Benefits: Cost-efficient",
	Source: Seed004 + ":198-199,226-230 (Traditional Model, Key Differences, Benefits)",
	Expected: "priced at the reference platform's rates (package cost) with the api function's measured duration (warm " +
		"P50 through the gateway, an upper bound), init and cold share, against always-on servers sized by a sweep of " +
		"the same request (p99 < 50 ms, 30 % headroom) at `server-hourly`: a bursty day (`quiet-rps`, one hour at " +
		"`burst-rps`) costs less as functions than as servers; the steady day (`steady-rps` all day) and the " +
		"break-even steady rate are reported",
	Tier: TierFunctions,
	Params: []Param{
		{Name: "rate", Default: "20", Help: "invocations per second of the measured run", Valid: positive},
		{Name: "memory-mb", Default: "128", Help: "the function's memory size, as billed", Valid: between(128, 10240)},
		{Name: "server-hourly", Default: "0.0416", Help: "one server's price per hour, USD (2 vCPU, 4 GB on demand)", Valid: positive},
		{Name: "steady-rps", Default: "100", Help: "the steady day's rate, all day", Valid: positive},
		{Name: "quiet-rps", Default: "2", Help: "the bursty day's rate, but for one hour"},
		{Name: "burst-rps", Default: "200", Help: "the bursty day's rate for one hour", Valid: positive},
	},
	Measure: func(ctx context.Context, e *Env) error {
		if _, err := e.StartLab(ctx, "--functions"); err != nil {
			return err
		}
		inv := func(ctx context.Context) (float64, error) {
			return e.Metric(ctx, "", "headroom_faas_invocations_total", map[string]string{"function": "api"})
		}
		c0, err := coldStarts(ctx, e)
		if err != nil {
			return err
		}
		i0, err := inv(ctx)
		if err != nil {
			return err
		}
		r, err := e.Load(ctx, Load{Name: "function", Setup: "the api function, warm but for its first instances", Path: "/fn/api/api/posts/1",
			Rate: e.Float("rate"), Duration: e.Length(10*time.Second, 5*time.Second), Warmup: time.Second})
		if err != nil {
			return err
		}
		c1, err := coldStarts(ctx, e)
		if err != nil {
			return err
		}
		i1, err := inv(ctx)
		if err != nil {
			return err
		}
		init, err := meanSeconds(ctx, e, "headroom_faas_cold_start_seconds", map[string]string{"function": "api", "phase": "init"})
		if err != nil {
			return err
		}
		sw, err := e.Sweep(ctx, Sweep{Name: "server", Setup: "the same request served by the lab itself, as a server", Path: "/api/posts/1",
			SLO: "p99<50ms", Start: 100, Precision: 0.25,
			Step: e.Length(3*time.Second, 2*time.Second), Warmup: time.Second, Budget: e.Length(30*time.Second, 15*time.Second)})
		if err != nil {
			return err
		}
		if !(sw.RecommendedRPS > 0) {
			e.Record(result.ExperimentMeasurement{Name: "server capacity", InvalidReasons: []string{"the sweep found no rate under p99<50ms"}})
			return nil
		}
		fn := cost.Function{MemoryMB: int(e.Float("memory-mb")), Duration: time.Duration(r.LatencyMS.P50 * float64(time.Millisecond)),
			InitDuration: time.Duration(init * float64(time.Second)), ColdShare: min(1, (c1-c0)/max(i1-i0, 1))}
		servers := cost.Servers{CapacityRPS: sw.RecommendedRPS, HourlyUSD: e.Float("server-hourly"), Min: 1, Headroom: sw.Headroom}
		var bursty cost.Profile
		for h := range bursty {
			rps := e.Float("quiet-rps")
			if h == 12 {
				rps = e.Float("burst-rps")
			}
			bursty[h] = cost.Hour{Requests: rps * 3600, PeakRPS: rps}
		}
		values := map[string]float64{"duration_ms": ms(fn.Duration), "init_ms": ms(fn.InitDuration), "cold_share": fn.ColdShare,
			"server_rps": servers.CapacityRPS, "server_rps_is_lower_bound": boolValue(sw.MaxIsLowerBound)}
		for _, day := range []struct {
			name    string
			traffic cost.Traffic
		}{
			{"steady", cost.Steady(e.Float("steady-rps"), "steady day")},
			{"bursty", bursty.Traffic("bursty day")},
		} {
			bill, err := cost.Compare(cost.Input{Prices: cost.DefaultPrices(), Function: fn, Servers: servers, Traffic: day.traffic})
			if err != nil {
				return err
			}
			values[day.name+"_functions_usd"], values[day.name+"_servers_usd"] = bill.Functions.TotalUSD, bill.ServersUSD
			values["break_even_rps"], values["break_even_found"] = bill.BreakEven.RPS, boolValue(bill.BreakEven.Found)
		}
		e.Record(result.ExperimentMeasurement{Name: "month", Setup: "a month of each day, functions against servers", Values: values})
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		v := func(k string) float64 { return m.Value("month", k) }
		why := fmt.Sprintf("a month of the bursty day: $%.2f as functions, $%.2f as servers; of the steady day: $%.2f vs $%.2f; "+
			"they cost the same at %.0f req/s steady (duration %.2f ms, init %.1f ms, %.2f %% cold; a server carries %s%.0f req/s)",
			v("bursty_functions_usd"), v("bursty_servers_usd"), v("steady_functions_usd"), v("steady_servers_usd"),
			v("break_even_rps"), v("duration_ms"), v("init_ms"), 100*v("cold_share"), atLeast(v("server_rps_is_lower_bound")), v("server_rps"))
		if v("bursty_functions_usd") < v("bursty_servers_usd") {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// atLeast qualifies a figure whose flag says it is a lower bound.
func atLeast(lowerBound float64) string {
	if lowerBound == 1 {
		return "at least "
	}
	return ""
}
