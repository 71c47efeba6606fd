package cli

import (
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/remote"
	"github.com/headroom/headroom/lab/services"
)

// servicesFlags are the flags of the services mode.
type servicesFlags struct {
	role        string
	on          bool
	replicas    []string
	hopRTT      time.Duration
	hopJitter   time.Duration
	timeout     time.Duration
	maxAttempts int
	hedge       time.Duration
}

func addServicesFlags(f *pflag.FlagSet) *servicesFlags {
	s := &servicesFlags{}
	f.BoolVar(&s.on, "services", false, "run the lab as services: accounts, posts, payments and notifications each in its own process with its own database, behind a gateway serving the same API")
	f.StringSliceVar(&s.replicas, "replicas", nil, "`ROLE=N` processes of a service behind the gateway's load balancing (repeatable), e.g. posts=3")
	f.DurationVar(&s.hopRTT, "hop-rtt", app.HopRTTDefault, "round trip added to each hop from the gateway to a service by a TCP link (0: no link, no fault injection)")
	f.DurationVar(&s.hopJitter, "hop-jitter", 0, "jitter of the hop round trip")
	f.DurationVar(&s.timeout, "call-timeout", remote.TimeoutDefault, "deadline of each attempt of a call to a service")
	f.IntVar(&s.maxAttempts, "call-max-attempts", remote.MaxAttemptsDefault, "most attempts of an idempotent call to a service (1: no retries)")
	f.DurationVar(&s.hedge, "call-hedge", 0, "send a copy of an idempotent call still unanswered after this (0: no hedging)")
	f.StringVar(&s.role, "service", "", "run as one service of the services mode: "+roleNames()+" (the gateway starts these itself)")
	_ = f.MarkHidden("service")
	return s
}

func roleNames() string {
	names := make([]string, len(services.Roles))
	for i, r := range services.Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// config returns the role of a service process, or the gateway's ServicesConfig with
// --services, or neither.
func (s *servicesFlags) config(f *pflag.FlagSet) (services.Role, *app.ServicesConfig, error) {
	if s.role != "" {
		r, err := services.ParseRole(s.role)
		if err != nil {
			return "", nil, cliexit.Usagef("--service: %w", err)
		}
		return r, nil, nil
	}
	if !s.on {
		for _, name := range []string{"replicas", "hop-rtt", "hop-jitter", "call-timeout", "call-max-attempts", "call-hedge"} {
			if f.Changed(name) {
				return "", nil, cliexit.Usagef("--%s applies to the services mode: add --services", name)
			}
		}
		return "", nil, nil
	}
	c := &app.ServicesConfig{Replicas: map[services.Role]int{}, HopRTT: &s.hopRTT, HopJitter: s.hopJitter,
		Call: remote.Config{Timeout: s.timeout, MaxAttempts: s.maxAttempts, HedgeDelay: s.hedge}}
	for _, kv := range s.replicas {
		name, n, ok := strings.Cut(kv, "=")
		r, err := services.ParseRole(name)
		if err != nil || !ok {
			return "", nil, cliexit.Usagef("--replicas %q: want ROLE=N with ROLE one of %s", kv, roleNames())
		}
		if c.Replicas[r], err = strconv.Atoi(n); err != nil || c.Replicas[r] < 1 || c.Replicas[r] > 16 {
			return "", nil, cliexit.Usagef("--replicas %q: want N from 1 to 16", kv)
		}
	}
	if s.timeout <= 0 || s.maxAttempts < 1 || s.hedge < 0 {
		return "", nil, cliexit.Usagef("--call-timeout %v, --call-max-attempts %d, --call-hedge %v: want a positive timeout, at least 1 attempt, a hedge delay of 0 or more",
			s.timeout, s.maxAttempts, s.hedge)
	}
	if s.hopRTT < 0 || s.hopJitter < 0 || s.hopJitter > s.hopRTT {
		return "", nil, cliexit.Usagef("--hop-rtt %v ~ --hop-jitter %v: want 0 or more, the jitter at most the round trip", s.hopRTT, s.hopJitter)
	}
	return "", c, nil
}
