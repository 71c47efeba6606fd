package experiments

import (
	"strings"
	"testing"

	"github.com/headroom/headroom/result"
)

// TestTierChecks judges recorded measurements of the async, edge, services and serverless
// experiments: held, did not hold or inconclusive, as each definition's thresholds say.
func TestTierChecks(t *testing.T) {
	t.Parallel()
	videoDone := values("completion", map[string]float64{"videos": 13, "ready": 13, "completion_s": 1.2, "processing_ms_per_video": 900})
	bg := func(answer, completion float64) result.ExperimentMeasurement {
		return values("background", map[string]float64{"answer_ms": answer, "rows": 170000, "deleted_rows": 170000, "chunks": 340, "completion_s": completion})
	}
	sync := func(answer float64) result.ExperimentMeasurement {
		return values("sync", map[string]float64{"answer_ms": answer, "rows": 70000, "s_per_million_rows": answer / 70})
	}
	hops := func(notifications, payments, posts float64) result.ExperimentMeasurement {
		return values("summary/traces", map[string]float64{"traces": 100, "hop_ms.notifications": notifications, "hop_ms.payments": payments, "hop_ms.posts": posts})
	}
	origin := func(name string, perRequest float64) result.ExperimentMeasurement {
		return values(name, map[string]float64{"checks_per_request": perRequest})
	}
	work := func(name string, cpu, calls float64) result.ExperimentMeasurement {
		return values(name, map[string]float64{"cpu_ms_per_request": cpu, "calls_per_request": calls})
	}
	reads := func(tries, stale, caught float64) result.ExperimentMeasurement {
		return values("reads", map[string]float64{"tries": tries, "stale": stale, "caught_up": caught, "caught_up_ms": 3, "lag_p50_ms": 4.4})
	}
	cold := func(share float64) result.ExperimentMeasurement {
		return values("cold-starts", map[string]float64{"cold_share": share, "start_ms": 8, "init_ms": 11})
	}
	instances := func(name string, cold float64) result.ExperimentMeasurement {
		return values(name, map[string]float64{"cold_starts": cold, "pings": 30})
	}
	limit := func(status, answer, ready float64) []result.ExperimentMeasurement {
		return run(values("function", map[string]float64{"status": status, "answer_ms": answer}),
			values("queued", map[string]float64{"status": 202, "answer_ms": 4.5, "ready": ready, "ready_s": 4.2}))
	}
	month := func(burstyFunctions, burstyServers float64) result.ExperimentMeasurement {
		return values("month", map[string]float64{"bursty_functions_usd": burstyFunctions, "bursty_servers_usd": burstyServers,
			"steady_functions_usd": 54.81, "steady_servers_usd": 30.37, "break_even_rps": 55, "duration_ms": 3.25, "init_ms": 13.4,
			"cold_share": 0.0083, "server_rps": 1120})
	}
	for _, c := range []struct {
		name string
		def  Definition
		ms   []result.ExperimentMeasurement
		want result.Outcome
	}{
		{"queued upload far faster, all ready", asyncVideo, run(loadM("inline", 50, 60, 70, 51), loadM("queued", 3, 6, 7, 3.2), videoDone), result.OutcomeHeld},
		{"workers took the CPU", asyncVideo, run(loadM("inline", 50, 350, 400, 60), loadM("queued", 190, 3300, 3400, 400), videoDone), result.OutcomeDidNotHold},
		{"fast answer, work lost", asyncVideo, run(loadM("inline", 50, 60, 70, 51), loadM("queued", 3, 6, 7, 3.2),
			values("completion", map[string]float64{"videos": 13, "ready": 9})), result.OutcomeDidNotHold},
		{"immediate answer, deletion done", asyncDelete, run(bg(20, 9), sync(850)), result.OutcomeHeld},
		{"a small account: sync not 5× slower", asyncDelete, run(bg(18, 2), sync(87)), result.OutcomeDidNotHold},
		{"background deletion never finished", asyncDelete, run(bg(20, 0), sync(850)), result.OutcomeDidNotHold},
		{"rejected at the edge, off the origin", edgeAuth, run(loadM("edge-401", 3, 4.6, 5, 3.1), loadM("origin-401", 83, 87, 88, 83),
			origin("mix-edge-origin", 0.51), origin("mix-origin-origin", 1)), result.OutcomeHeld},
		{"edge too slow", edgeAuth, run(loadM("edge-401", 6, 9, 10, 6), loadM("origin-401", 83, 87, 88, 83),
			origin("mix-edge-origin", 0.51), origin("mix-origin-origin", 1)), result.OutcomeDidNotHold},
		{"the origin still checks everything", edgeAuth, run(loadM("edge-401", 3, 4.6, 5, 3.1), loadM("origin-401", 83, 87, 88, 83),
			origin("mix-edge-origin", 1), origin("mix-origin-origin", 1)), result.OutcomeDidNotHold},
		{"cache hits close by", cdnStatic, run(loadM("edge", 2.9, 4.6, 5, 3), loadM("origin", 83, 87, 88, 83),
			values("edge-cache", map[string]float64{"hit_share": 1})), result.OutcomeHeld},
		{"the cache missed", cdnStatic, run(loadM("edge", 2.9, 4.6, 5, 3), loadM("origin", 83, 87, 88, 83),
			values("edge-cache", map[string]float64{"hit_share": 0.5})), result.OutcomeDidNotHold},
		{"each call costs more than a hop", servicesHops, run(loadM("monolith", 2.8, 10, 11, 3), loadM("services", 5.1, 8.6, 9, 5.2),
			work("monolith-work", 1.6, 0), work("services-work", 4, 3)), result.OutcomeHeld},
		{"services as fast as the monolith", servicesHops, run(loadM("monolith", 2.8, 10, 11, 3), loadM("services", 3, 8.6, 9, 3.1),
			work("monolith-work", 1.6, 0), work("services-work", 4, 3)), result.OutcomeDidNotHold},
		{"no remote call", servicesHops, run(loadM("monolith", 2.8, 10, 11, 3), loadM("services", 3, 8.6, 9, 3.1),
			work("monolith-work", 1.6, 0), work("services-work", 1.7, 0)), result.OutcomeInconclusive},
		{"deadlines cut the wait", servicesTimeouts, run(loadM("deadlines", 1, 1002, 1003, 40), loadM("no-deadlines", 15057, 15065, 15066, 15058)), result.OutcomeHeld},
		{"the traces name the slow service", servicesTracing, run(hops(52.1, 1.9, 1.8)), result.OutcomeHeld},
		{"the slow hop is another's", servicesTracing, run(hops(1.9, 52.1, 1.8)), result.OutcomeDidNotHold},
		{"no hop stands out", servicesTracing, run(hops(52.1, 30, 1.8)), result.OutcomeDidNotHold},
		{"no hops in the traces", servicesTracing, run(values("summary/traces", map[string]float64{"traces": 100})), result.OutcomeInconclusive},
		{"deadlines too long", servicesTimeouts, run(loadM("deadlines", 1, 6000, 6001, 400), loadM("no-deadlines", 15057, 15065, 15066, 15058)), result.OutcomeDidNotHold},
		{"stale reads after a write", servicesReplication, run(reads(100, 40, 1)), result.OutcomeHeld},
		{"the copy keeps up with the reads", servicesReplication, run(reads(100, 0, 1)), result.OutcomeDidNotHold},
		{"the copy never caught up", servicesReplication, run(reads(100, 40, 0)), result.OutcomeDidNotHold},
		{"too few tries", servicesReplication, run(reads(10, 4, 1)), result.OutcomeInconclusive},
		{"cold far slower", serverlessColdStart, run(loadM("api", 2.8, 3.3, 4, 2.9), loadM("warm", 3.1, 3.9, 4, 3.2), loadM("cold", 21.9, 28.6, 30, 22), cold(1)), result.OutcomeHeld},
		{"cold no slower", serverlessColdStart, run(loadM("api", 2.8, 3.3, 4, 2.9), loadM("warm", 3.1, 3.9, 4, 3.2), loadM("cold", 4, 5, 6, 4.1), cold(1)), result.OutcomeDidNotHold},
		{"the run was not cold", serverlessColdStart, run(loadM("api", 2.8, 3.3, 4, 2.9), loadM("warm", 3.1, 3.9, 4, 3.2), loadM("cold", 21.9, 28.6, 30, 22), cold(0.5)), result.OutcomeInconclusive},
		{"pings remove the cold starts", serverlessKeepWarm, run(loadM("none", 1.2, 155, 160, 5), loadM("keep-warm", 1.3, 4.4, 5, 1.4),
			instances("none-instances", 19), instances("keep-warm-instances", 0)), result.OutcomeHeld},
		{"pings did not help", serverlessKeepWarm, run(loadM("none", 1.2, 155, 160, 5), loadM("keep-warm", 1.3, 150, 160, 5),
			instances("none-instances", 19), instances("keep-warm-instances", 15)), result.OutcomeDidNotHold},
		{"no burst to remedy", serverlessKeepWarm, run(loadM("none", 1.2, 4, 5, 1.3), loadM("keep-warm", 1.3, 4.4, 5, 1.4),
			instances("none-instances", 1), instances("keep-warm-instances", 0)), result.OutcomeInconclusive},
		{"functions cheaper for the bursty day", serverlessBill, run(month(5.62, 30.37)), result.OutcomeHeld},
		{"servers cheaper even for the bursty day", serverlessBill, run(month(45, 30.37)), result.OutcomeDidNotHold},
		{"stopped at the limit, queued work done", serverlessTimeLimit, limit(504, 123, 1), result.OutcomeHeld},
		{"the function ran to the end", serverlessTimeLimit, limit(201, 2400, 1), result.OutcomeDidNotHold},
		{"the queued video never ready", serverlessTimeLimit, limit(504, 123, 0), result.OutcomeDidNotHold},
	} {
		checkOutcome(t, c.def, c.name, c.ms, c.want)
	}
}

// TestBillSaysLowerBound: a server capacity from a sweep whose maximum is a lower bound is said
// to be one, never printed as a plain figure.
func TestBillSaysLowerBound(t *testing.T) {
	t.Parallel()
	for _, lower := range []float64{0, 1} {
		_, why := serverlessBill.Check(NewMeasured(run(values("month", map[string]float64{"bursty_functions_usd": 5.6,
			"bursty_servers_usd": 30.4, "server_rps": 1120, "server_rps_is_lower_bound": lower})), nil))
		if got := strings.Contains(why, "carries at least 1120 req/s"); got != (lower == 1) {
			t.Errorf("lower bound %v: %q", lower, why)
		}
	}
}

// TestSumSeries reads the lab's metrics as Env.Metric does: a counter's series filtered by
// labels, a histogram's sum and count, a series that is absent.
func TestSumSeries(t *testing.T) {
	t.Parallel()
	const text = `# TYPE headroom_faas_cold_starts_total counter
headroom_faas_cold_starts_total{function="api"} 19
headroom_faas_cold_starts_total{function="thumbnail"} 2
# TYPE headroom_faas_cold_start_seconds histogram
headroom_faas_cold_start_seconds_bucket{function="api",phase="init",le="+Inf"} 4
headroom_faas_cold_start_seconds_sum{function="api",phase="init"} 0.046
headroom_faas_cold_start_seconds_count{function="api",phase="init"} 4
headroom_faas_cold_start_seconds_bucket{function="api",phase="start",le="+Inf"} 4
headroom_faas_cold_start_seconds_sum{function="api",phase="start"} 0.032
headroom_faas_cold_start_seconds_count{function="api",phase="start"} 4
`
	for _, c := range []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"headroom_faas_cold_starts_total", nil, 21},
		{"headroom_faas_cold_starts_total", map[string]string{"function": "api"}, 19},
		{"headroom_faas_cold_starts_total", map[string]string{"function": "nope"}, 0},
		{"headroom_faas_cold_start_seconds_sum", map[string]string{"phase": "init"}, 0.046},
		{"headroom_faas_cold_start_seconds_count", nil, 8},
		{"lab_auth_checks_total", nil, 0},
	} {
		got, err := sumSeries(strings.NewReader(text), c.name, c.match)
		if err != nil || got != c.want {
			t.Errorf("sumSeries(%s, %v) = %v, %v; want %v", c.name, c.match, got, err, c.want)
		}
	}
	if _, err := sumSeries(strings.NewReader("x{a=\"1\" 2\n"), "x", nil); err == nil {
		t.Error("malformed text: no error")
	}
}

// FuzzSumSeries: any text gives a sum or an error, never a panic.
func FuzzSumSeries(f *testing.F) {
	f.Add("x 1\n", "x")
	f.Add("# TYPE h histogram\nh_sum 2\nh_count 1\nh_bucket{le=\"+Inf\"} 1\n", "h_sum")
	f.Add("x{a=\"1\" 2\n", "x")
	f.Fuzz(func(t *testing.T, text, name string) {
		_, _ = sumSeries(strings.NewReader(text), name, map[string]string{"a": "1"})
	})
}
