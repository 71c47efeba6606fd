package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/cpusample"
	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/result"
)

// The microservices claims (seeds/004, "Disadvantages of Microservices") on the lab's services
// mode: `headroom lab --services` serves the same API from a gateway and four services, each in
// its own process with its own database, every call crossing a TCP link of --hop-rtt.

// service is one service of the gateway's GET /admin/services.
type service struct {
	Role     string   `json:"role"`
	Replicas []string `json:"replicas"`
	PIDs     []int    `json:"pids"`
}

func services(ctx context.Context, e *Env) ([]service, error) {
	var ss []service
	if err := e.GetJSON(ctx, "/admin/services", &ss); err != nil {
		return nil, err
	}
	return ss, nil
}

// cpuSeconds is the CPU time the processes have used.
func cpuSeconds(ctx context.Context, pids []int) (float64, error) {
	var sum float64
	for _, pid := range pids {
		s, err := cpusample.Proc{PID: pid}.CPUSeconds(ctx)
		if err != nil {
			return 0, err
		}
		sum += s
	}
	return sum, nil
}

var servicesHops = Definition{
	Name:   "services-hops",
	Title:  "Microservices: function calls become network calls",
	Claim:  "Disadvantages of Microservices: Network overhead: Function calls → Network calls",
	Source: Seed004 + ":168-171 (Disadvantages of Microservices)",
	Expected: "the same request at the same load is slower as services than in the monolith by at least the hop's " +
		"round trip (`hop-rtt`) per remote call it makes (calls counted by the gateway), and takes more CPU " +
		"per request (every process's)",
	Tier: TierServices,
	Params: []Param{
		{Name: "path", Default: "/api/posts/1", Help: "the request (GET /api/posts/1: the post, its comments, their authors)"},
		{Name: "rate", Default: "50", Help: "requests per second", Valid: positive},
		{Name: "hop-rtt", Default: "200us", Help: "round trip of each hop from the gateway to a service (the lab's --hop-rtt)"},
	},
	Measure: func(ctx context.Context, e *Env) error {
		d := e.Length(10*time.Second, 6*time.Second)
		for _, c := range []struct {
			name, setup string
			args        []string
		}{
			{"monolith", "the monolith: the store calls in process", nil},
			{"services", "services: each store call an HTTP call across a hop of " + e.Param("hop-rtt"), []string{"--services", "--hop-rtt", e.Param("hop-rtt")}},
		} {
			if _, err := e.StartLab(ctx, c.args...); err != nil {
				return err
			}
			pids := []int{e.LabPID()}
			if c.args != nil {
				ss, err := services(ctx, e)
				if err != nil {
					return err
				}
				for _, s := range ss {
					pids = append(pids, s.PIDs...)
				}
			}
			// Requests first, so that connections and caches are warm before the counting starts.
			for range 20 {
				if _, err := e.Call(ctx, http.MethodGet, e.Param("path"), ""); err != nil {
					return err
				}
			}
			cpu0, err := cpuSeconds(ctx, pids)
			if err != nil {
				return err
			}
			calls0, err := e.Metric(ctx, "", "headroom_remote_calls_total", nil)
			if err != nil {
				return err
			}
			r, err := e.Load(ctx, Load{Name: c.name, Setup: c.setup, Path: e.Param("path"), Rate: e.Float("rate"), Duration: d})
			if err != nil {
				return err
			}
			cpu1, err := cpuSeconds(ctx, pids)
			if err != nil {
				return err
			}
			calls1, err := e.Metric(ctx, "", "headroom_remote_calls_total", nil)
			if err != nil {
				return err
			}
			n := float64(max(r.Requests, 1))
			e.Record(result.ExperimentMeasurement{Name: c.name + "-work", Setup: fmt.Sprintf("%d processes", len(pids)),
				Values: map[string]float64{"cpu_ms_per_request": 1e3 * (cpu1 - cpu0) / n, "calls_per_request": (calls1 - calls0) / n}})
		}
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		mono, svc := m.Latency("monolith"), m.Latency("services")
		calls := m.Value("services-work", "calls_per_request")
		hop, _ := time.ParseDuration(m.Param("hop-rtt"))
		cpuM, cpuS := m.Value("monolith-work", "cpu_ms_per_request"), m.Value("services-work", "cpu_ms_per_request")
		if calls < 1 {
			return result.OutcomeInconclusive, fmt.Sprintf("%.2f remote calls per request: the request crossed no service", calls)
		}
		added := svc.P50 - mono.P50
		why := fmt.Sprintf("P50 %.2f ms in the monolith, %.2f ms as services (P99 %.2f vs %.2f ms): %.2f ms more for %.1f calls, "+
			"%.2f ms per call against a hop of %v; CPU %.2f → %.2f ms per request",
			mono.P50, svc.P50, mono.P99, svc.P99, added, calls, added/calls, hop, cpuM, cpuS)
		if added >= calls*ms(hop) && added > 0 && cpuS > cpuM {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

var servicesTimeouts = Definition{
	Name:   "services-timeouts",
	Title:  "Microservices: a slow dependency, with and without timeouts",
	Claim:  "Failure handling complexity: Retries, timeouts",
	Source: Seed004 + ":173-174 (Disadvantages of Microservices)",
	Expected: "with the payments service `slow` (each answer later by `extra`), checkouts without deadlines (the lab's " +
		"no_timeouts, no_breaker) wait for it: P50 ≥ `extra`; with the lab's deadlines (1 s an attempt, 3 s a call) " +
		"and breaker, every checkout ends within 3.5 s (P99) and the P50 is at most a fifth of the one without: " +
		"the caller fails fast instead of waiting",
	Tier: TierServices,
	Params: []Param{
		{Name: "extra", Default: "5s", Help: "how much later the slow payments service answers"},
		{Name: "rate", Default: "4", Help: "checkouts per second", Valid: positive},
	},
	Measure: func(ctx context.Context, e *Env) error {
		if _, err := e.StartLab(ctx, "--services"); err != nil {
			return err
		}
		fault, _ := json.Marshal(map[string]string{"kind": "slow", "extra": e.Param("extra")})
		if _, err := e.Admin(ctx, http.MethodPut, "/admin/services/payments/fault", string(fault)); err != nil {
			return err
		}
		d := e.Length(12*time.Second, 8*time.Second)
		for _, c := range []struct{ name, switches, setup string }{
			{"deadlines", "none", "payments slow by " + e.Param("extra") + "; deadlines, retries with a budget, breaker"},
			{"no-deadlines", "no_timeouts,no_breaker", "payments slow by " + e.Param("extra") + "; no_timeouts, no_breaker"},
		} {
			if err := e.Switch(ctx, c.switches); err != nil {
				return err
			}
			if _, err := e.Load(ctx, Load{Name: c.name, Setup: c.setup, Method: http.MethodPost, Path: "/api/checkout",
				Body: `{"user_id":1,"amount_cents":100}`, Rate: e.Float("rate"), Duration: d, Timeout: time.Minute}); err != nil {
				return err
			}
		}
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		with, without := m.Latency("deadlines"), m.Latency("no-deadlines")
		extra, _ := time.ParseDuration(m.Param("extra"))
		w, _ := m.Get("deadlines")
		wo, _ := m.Get("no-deadlines")
		why := fmt.Sprintf("checkout P50 %.0f ms with deadlines (P99 %.0f ms, %d of %d failed fast), %.0f ms without (P99 %.0f ms, %d of %d failed); the dependency's extra wait %v",
			with.P50, with.P99, w.Errors, w.Requests, without.P50, without.P99, wo.Errors, wo.Requests, extra)
		if without.P50 >= ms(extra) && with.P99 <= 3500 && with.P50*5 <= without.P50 {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// postView is what GET /api/posts/{id} says of the post's author: the posts service's copy.
type postView struct {
	Post struct {
		Author struct {
			Version int64 `json:"version"`
		} `json:"author"`
	} `json:"post"`
}

var servicesReplication = Definition{
	Name:   "services-replication",
	Title:  "Microservices: multiple databases, replication lag",
	Claim:  "Data consistency issues: Multiple databases → replication lag",
	Source: Seed004 + ":179-180 (Disadvantages of Microservices)",
	Expected: "a post read right after its author was renamed (the accounts service owns users; the posts service " +
		"shows a copy fed by events) shows the old name in at least 5 % of `tries`, and the copy catches up " +
		"within 10 s of the last rename; the posts service's lag percentiles are reported",
	Tier: TierServices,
	Params: []Param{
		{Name: "tries", Default: "100", Help: "renames, each followed at once by a read (a quarter with --quick)", Valid: whole(1)},
		{Name: "user", Default: "3", Help: "the user renamed", Valid: whole(1)},
	},
	Measure: func(ctx context.Context, e *Env) error {
		if _, err := e.StartLab(ctx, "--services"); err != nil {
			return err
		}
		user := e.Param("user")
		var summary struct {
			Posts []struct {
				ID int64 `json:"id"`
			} `json:"posts"`
		}
		if err := e.GetJSON(ctx, "/api/users/"+user+"/summary", &summary); err != nil {
			return err
		}
		if len(summary.Posts) == 0 {
			return fmt.Errorf("user %s has no post to read", user)
		}
		post := fmt.Sprintf("/api/posts/%d?comments=0", summary.Posts[0].ID)
		tries := int(e.Float("tries"))
		if e.Quick() {
			tries /= 4
		}
		e.Progress("%d renames of user %s, each read back at once from %s", tries, user, post)
		var stale, last int64
		for i := range tries {
			body := fmt.Sprintf(`{"user_id":%s,"name":"renamed %d"}`, user, i)
			r, err := e.Call(ctx, http.MethodPatch, "/api/account", body)
			if err != nil {
				return err
			}
			var u struct{ Version int64 }
			if err := json.Unmarshal(r.Body, &u); r.Status != http.StatusOK || err != nil {
				return fmt.Errorf("PATCH /api/account: status %d, want 200 with the user: %.200s", r.Status, r.Body)
			}
			last = u.Version
			var p postView
			if err := e.GetJSON(ctx, post, &p); err != nil {
				return err
			}
			if p.Post.Author.Version < u.Version {
				stale++
			}
		}
		values := map[string]float64{"tries": float64(tries), "stale": float64(stale), "stale_share": float64(stale) / float64(max(tries, 1))}
		took, err := e.Poll(ctx, "the posts copy", 20*time.Millisecond, 10*time.Second, func(ctx context.Context) (bool, error) {
			var p postView
			err := e.GetJSON(ctx, post, &p)
			return p.Post.Author.Version >= last, err
		})
		switch {
		case err == nil:
			values["caught_up"], values["caught_up_ms"] = 1, ms(took)
		case !errors.Is(err, errPollTimeout):
			return err
		}
		ss, err := services(ctx, e)
		if err != nil {
			return err
		}
		for _, s := range ss {
			if s.Role != "posts" || len(s.Replicas) == 0 {
				continue
			}
			var jobs struct {
				Replication struct {
					Applied int64 `json:"applied"`
					P50     int64 `json:"p50_ns"`
					P99     int64 `json:"p99_ns"`
					Max     int64 `json:"max_ns"`
				} `json:"replication"`
			}
			if err := e.GetJSON(ctx, s.Replicas[0]+"/admin/jobs", &jobs); err != nil {
				return err
			}
			rp := jobs.Replication
			values["applied"], values["lag_p50_ms"], values["lag_p99_ms"], values["lag_max_ms"] =
				float64(rp.Applied), float64(rp.P50)/1e6, float64(rp.P99)/1e6, float64(rp.Max)/1e6
		}
		e.Record(result.ExperimentMeasurement{Name: "reads", Setup: "rename (accounts), then read a post of the user (posts' copy)",
			Target: "PATCH /api/account, GET " + post, Values: values})
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		tries, stale := m.Value("reads", "tries"), m.Value("reads", "stale")
		if tries < 20 {
			return result.OutcomeInconclusive, fmt.Sprintf("%.0f tries: too few to judge a share (want at least 20)", tries)
		}
		why := fmt.Sprintf("%.0f of %.0f reads right after a rename showed the old name (%.0f %%); the copy's lag p50 %.2f ms, p99 %.2f ms, max %.2f ms over %.0f changes",
			stale, tries, 100*stale/tries, m.Value("reads", "lag_p50_ms"), m.Value("reads", "lag_p99_ms"), m.Value("reads", "lag_max_ms"), m.Value("reads", "applied"))
		if m.Value("reads", "caught_up") == 0 {
			return result.OutcomeDidNotHold, why + "; the copy did not catch up within 10 s: not lag but loss"
		}
		why += fmt.Sprintf("; caught up %.0f ms after the last rename", m.Value("reads", "caught_up_ms"))
		if stale >= 0.05*tries {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

var servicesTracing = Definition{
	Name:   "services-tracing",
	Title:  "Microservices: distributed tracing finds the slow service",
	Claim:  "Debugging difficulty: Requires distributed tracing",
	Source: Seed004 + ":176-177 (Disadvantages of Microservices)",
	Expected: "with one of the three services GET /api/users/{id}/summary calls made slow (each answer later by " +
		"`extra`), the request's traces alone, across the gateway and the services, name that service: its hop is " +
		"the slowest of the request's, its call P50 at least `extra` and at least twice any other hop's",
	Tier: TierServices,
	Params: []Param{
		{Name: "slow", Default: "notifications", Help: "the service made slow: posts, payments or notifications", Valid: oneOf("posts", "payments", "notifications")},
		{Name: "extra", Default: "50ms", Help: "how much later the slow service answers"},
		{Name: "rate", Default: "10", Help: "requests per second", Valid: positive},
	},
	Measure: func(ctx context.Context, e *Env) error {
		otlp, err := e.OTLP(ctx)
		if err != nil {
			return err
		}
		if _, err := e.StartLab(ctx, "--services", "--otlp", otlp); err != nil {
			return err
		}
		fault, _ := json.Marshal(map[string]string{"kind": "slow", "extra": e.Param("extra")})
		if _, err := e.Admin(ctx, http.MethodPut, "/admin/services/"+e.Param("slow")+"/fault", string(fault)); err != nil {
			return err
		}
		if _, err := e.Load(ctx, Load{Name: "summary", Setup: e.Param("slow") + " slow by " + e.Param("extra"), Path: "/api/users/1/summary",
			Rate: e.Float("rate"), Duration: e.Length(10*time.Second, 6*time.Second), Warmup: time.Second}); err != nil {
			return err
		}
		_, err = e.Diagnose(ctx, "summary", diagnose.Config{})
		return err
	},
	Check: func(m Measured) (result.Outcome, string) {
		t, _ := m.Get("summary/traces")
		slow, extra := m.Param("slow"), m.Param("extra")
		want, _ := time.ParseDuration(extra)
		var slowest string
		var hops []string
		for k, v := range t.Values {
			peer, ok := strings.CutPrefix(k, "hop_ms.")
			if !ok {
				continue
			}
			hops = append(hops, fmt.Sprintf("%s %.1f ms", peer, v))
			if slowest == "" || v > t.Values["hop_ms."+slowest] {
				slowest = peer
			}
		}
		if len(hops) == 0 {
			return result.OutcomeInconclusive, "the traces show no hop between services"
		}
		slices.Sort(hops)
		top := t.Values["hop_ms."+slowest]
		second := 0.0
		for k, v := range t.Values {
			if peer, ok := strings.CutPrefix(k, "hop_ms."); ok && peer != slowest {
				second = max(second, v)
			}
		}
		why := fmt.Sprintf("call P50 per hop from the traces: %s; the slowest hop is to %s (made slow: %s by %s)", strings.Join(hops, ", "), slowest, slow, extra)
		if slowest == slow && top >= ms(want) && top >= 2*second {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}
