package app

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/netem"
	"github.com/headroom/headroom/lab/remote"
	"github.com/headroom/headroom/lab/services"
	"github.com/headroom/headroom/lab/telemetry"
)

// HopRTTDefault is the round trip of each hop from the gateway to a service: two hosts in the
// same data centre (docs/lab.md gives the sources).
const HopRTTDefault = 200 * time.Microsecond

// serviceStartTimeout bounds a service process's start (its database opened and seeded).
const serviceStartTimeout = 2 * time.Minute

// ServicesConfig runs the lab in the services mode: this process is the gateway, serving the
// public API, and each module runs as its own process (the lab binary with --service ROLE) with
// its own database, called over HTTP/JSON through lab/remote.
type ServicesConfig struct {
	// Command is the lab binary each service runs. Default: this process's own executable.
	Command string
	// Replicas is how many processes serve each role, behind the gateway's load balancing.
	// Default 1 each.
	Replicas map[services.Role]int
	// HopRTT is the round trip added to each hop from the gateway to a service, half each way,
	// by a TCP link (lab/netem). Nil means [HopRTTDefault]; a pointer to 0 means no link at all
	// (the calls go straight to the services, and faults cannot be injected).
	HopRTT *time.Duration
	// HopJitter is the round trip's jitter. Default 0.
	HopJitter time.Duration
	// Call tunes the calls to the services: timeouts, retries, breaker, bulkhead, hedging. The
	// zero value takes lab/remote's defaults; Peer, BaseURL, Transport, telemetry and metrics are
	// the gateway's.
	Call remote.Config
}

func (c *ServicesConfig) validate() error {
	for r, n := range c.Replicas {
		if _, err := services.ParseRole(string(r)); err != nil {
			return fmt.Errorf("replicas: %w", err)
		}
		if n < 1 || n > 16 {
			return fmt.Errorf("replicas of %s: %d: want 1 to 16", r, n)
		}
	}
	if c.HopRTT != nil && (*c.HopRTT < 0 || *c.HopRTT > 10*time.Second) {
		return fmt.Errorf("hop RTT %v: want 0 to 10s", *c.HopRTT)
	}
	if c.HopJitter < 0 || c.HopJitter > c.hopRTT() {
		return fmt.Errorf("hop jitter %v: want 0 to the hop RTT (%v)", c.HopJitter, c.hopRTT())
	}
	return nil
}

func (c *ServicesConfig) hopRTT() time.Duration {
	if c.HopRTT == nil {
		return HopRTTDefault
	}
	return *c.HopRTT
}

func (c *ServicesConfig) replicas(r services.Role) int {
	if n := c.Replicas[r]; n > 0 {
		return n
	}
	return 1
}

// ServiceInfo describes one service of a lab in the services mode.
type ServiceInfo struct {
	Role     services.Role `json:"role"`
	DB       string        `json:"db"`
	Replicas []string      `json:"replicas"` // the URLs of its processes
	PIDs     []int         `json:"pids"`     // their process ids, in the same order
	Fault    netem.Fault   `json:"fault"`
}

// gatewayDeps is what the gateway's start needs from Start.
type gatewayDeps struct {
	out outside
	reg *prometheus.Registry
	tel *telemetry.Telemetry
	log *slog.Logger
}

// startGateway starts the services (their processes, the links to them, a client each) and
// returns the backend that calls them. The queue broker is the gateway's (embedded unless
// Config.Queue names one), shared by the services, each under its own prefix.
func (a *App) startGateway(ctx context.Context, d gatewayDeps) (backend, error) {
	cfg := a.cfg
	eng, desc, err := openEngine(ctx, cfg.Queue, cfg.QueuePrefix, cfg.QueueDir)
	if err != nil {
		return backend{}, fmt.Errorf("queue: %w", err)
	}
	a.onClose(func(context.Context) error { return eng.Close() })
	a.info.Queue, a.info.QueueURL = desc, redactURL(engineURL(eng, cfg.Queue))
	a.info.Workers = "in each service's process"
	a.info.DB = "one per service (below)"

	f := &fleet{cfg: *cfg.Services, log: d.log, out: a.cfg.Log, procs: map[services.Role][]*proc{}, faults: map[services.Role]netem.Fault{},
		balancers: map[services.Role]*remote.Balancer{}, stopped: make(chan struct{})}
	if f.cmd = cfg.Services.Command; f.cmd == "" {
		if f.cmd, err = os.Executable(); err != nil {
			return backend{}, fmt.Errorf("services: the lab binary: %w", err)
		}
	}
	if f.dbs, err = serviceDBs(cfg, a.onClose); err != nil {
		return backend{}, err
	}
	f.args = serviceArgs(cfg, d.out, engineURL(eng, cfg.Queue))
	a.onClose(f.stop)
	if err := f.start(ctx); err != nil {
		return backend{}, err
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = remote.BulkheadDefault
	if rtt := cfg.Services.hopRTT(); rtt > 0 {
		half := netem.Delay{Latency: rtt / 2, Jitter: cfg.Services.HopJitter / 2}
		f.dialer = &netem.Dialer{Up: half, Down: half, Handshake: true}
		transport.DialContext = f.dialer.DialContext
		a.onClose(func(context.Context) error { return f.dialer.Close() })
	}
	a.onClose(func(context.Context) error { transport.CloseIdleConnections(); return nil })
	clients := map[services.Role]*remote.Client{}
	for _, r := range services.Roles {
		rc := cfg.Services.Call
		rc.Peer, rc.Transport = string(r), transport
		rc.TracerProvider, rc.Propagator, rc.Registerer = d.tel.TracerProvider, d.tel.Propagator, d.reg
		rc.Mistakes = func() remote.Mistakes {
			return remote.Mistakes{NoTimeout: a.switches.On(lab.NoTimeouts), NaiveRetries: a.switches.On(lab.NaiveRetries), NoBreaker: a.switches.On(lab.NoBreaker)}
		}
		// Every replica keeps its address across restarts: the endpoints never change. /readyz
		// turns 503 as soon as a replica drains, so a rolling restart's replica leaves the
		// rotation before it closes.
		b, err := remote.NewBalancer(remote.BalancerConfig{Peer: string(r), Endpoints: f.urls(r), Transport: transport,
			HealthPath: "/readyz", Registerer: d.reg})
		if err != nil {
			return backend{}, err
		}
		if err := b.Start(ctx); err != nil {
			return backend{}, err
		}
		a.onClose(b.Stop)
		f.balancers[r], rc.Balancer = b, b
		if clients[r], err = remote.New(rc); err != nil {
			return backend{}, fmt.Errorf("%w: calls to %s: %w", ErrInvalidConfig, r, err)
		}
	}
	rm, err := services.NewRemote(clients)
	if err != nil {
		return backend{}, err
	}
	a.fleet = f
	// The data a user sees through the gateway is the posts service's: its posts and its copy of
	// the users.
	if info, err := f.info(ctx, services.Posts); err == nil {
		a.info.Data, a.info.Seeded = info.Data, info.Seeded
	}
	return backend{store: rm, mailer: rm, payments: rm, outbox: services.NoRelay{}}, nil
}

// serviceDBs gives each role its own database: a SQLite file of its own beside the lab's (in a
// temporary directory by default), or a PostgreSQL schema of its own on the lab's server.
func serviceDBs(cfg Config, onClose func(func(context.Context) error)) (map[services.Role][2]string, error) {
	out := map[services.Role][2]string{} // role → --db, --pg-schema
	if strings.HasPrefix(cfg.DB, "postgres") {
		base := cfg.PostgresSchema
		if base == "" {
			base = "headroom"
		}
		for _, r := range services.Roles {
			out[r] = [2]string{cfg.DB, base + "_" + string(r)}
		}
		return out, nil
	}
	var dir string
	if path, ok := strings.CutPrefix(cfg.DB, "sqlite:"); ok {
		dir = filepath.Dir(path)
	} else {
		tmp, err := os.MkdirTemp("", "headroom-services-")
		if err != nil {
			return nil, err
		}
		onClose(func(context.Context) error { return os.RemoveAll(tmp) })
		dir = tmp
	}
	for _, r := range services.Roles {
		out[r] = [2]string{"sqlite:" + filepath.Join(dir, string(r)+".db")}
	}
	return out, nil
}

// serviceArgs are the flags every service process gets: the gateway's outside world, broker,
// seed, switches and tuning.
func serviceArgs(cfg Config, out outside, queue string) []string {
	// One QueuePrefix for all: each service puts its own jobs under PREFIX-ROLE itself (see
	// replication.go).
	args := []string{"--queue", queue, "--queue-prefix", cmp.Or(cfg.QueuePrefix, queuePrefixDefault),
		"--smtp", out.smtp, "--log-collector", out.logs, "--payment-url", out.payments,
		// The switches live in the gateway, whose handlers read them; a service's own would be
		// out of reach of PUT /admin/antipatterns.
		"--antipatterns", "none", "--log-level", strings.ToLower(cfg.LogLevel.String()),
		"--seed-users", strconv.Itoa(cfg.Seed.Users), "--seed-posts-per-user", strconv.Itoa(cfg.Seed.PostsPerUser),
		"--seed-comments-per-post", strconv.Itoa(cfg.Seed.CommentsPerPost), "--seed", strconv.FormatUint(cfg.Seed.Seed, 10),
		"--db-latency", dbLatency(cfg.DBLatency).String(), "--shutdown-timeout", cfg.ShutdownTimeout.String()}
	if cfg.OTLP != "" {
		args = append(args, "--otlp", cfg.OTLP)
	}
	if cfg.DBMaxConns > 0 {
		args = append(args, "--db-max-conns", strconv.Itoa(cfg.DBMaxConns))
	}
	if cfg.VideoPasses > 0 {
		args = append(args, "--video-passes", strconv.Itoa(cfg.VideoPasses))
	}
	return args
}

// fleet runs the service processes of the gateway.
type fleet struct {
	cfg    ServicesConfig
	cmd    string
	args   []string
	dbs    map[services.Role][2]string
	log    *slog.Logger
	out    io.Writer // the services' logs (stderr) go where the gateway's go
	dialer *netem.Dialer

	balancers map[services.Role]*remote.Balancer // set once at start

	mu       sync.Mutex
	procs    map[services.Role][]*proc // by replica slot
	faults   map[services.Role]netem.Fault
	stopping bool
	stopped  chan struct{} // closed when stopping
}

// proc is one running service process. A replica keeps its address across restarts (its
// process is started again on the same port), as a Kubernetes Service keeps a pod's name, so
// that the gateway's clients and links need no update.
type proc struct {
	role    services.Role
	slot    int
	url     string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	retired bool          // stopped on purpose (shutdown, restart): not to be started again; under fleet.mu
	ready   atomic.Bool   // it listened: a process that failed to start is not revived
}

// start starts every replica of every role and returns when all are ready: first one replica
// of each role, all at once (each seeds its database), then the other replicas, which find
// their database seeded.
func (f *fleet) start(ctx context.Context) error {
	for _, r := range services.Roles {
		f.procs[r] = make([]*proc, f.cfg.replicas(r))
	}
	for _, first := range []bool{true, false} {
		var wg sync.WaitGroup
		errs := make(chan error, len(services.Roles)*16)
		for _, r := range services.Roles {
			for slot := range f.procs[r] {
				if (slot == 0) != first {
					continue
				}
				wg.Go(func() {
					p, err := f.spawn(ctx, r, slot, "127.0.0.1:0")
					if err != nil {
						errs <- err
						return
					}
					f.mu.Lock()
					f.procs[r][slot] = p
					f.mu.Unlock()
				})
			}
		}
		wg.Wait()
		close(errs)
		var all []error
		for err := range errs {
			all = append(all, err)
		}
		if len(all) > 0 {
			return errors.Join(all...)
		}
	}
	return nil
}

// spawn starts the process of role's replica slot, listening on addr, and waits until it listens.
func (f *fleet) spawn(ctx context.Context, r services.Role, slot int, addr string) (*proc, error) {
	db := f.dbs[r]
	args := append([]string{"--service", string(r), "--addr", addr, "--db", db[0]}, f.args...)
	if db[1] != "" {
		args = append(args, "--pg-schema", db[1])
	}
	// Never canceled: the gateway stops its services itself, gracefully, on shutdown (a context's
	// end would SIGKILL them).
	cmd := exec.CommandContext(context.WithoutCancel(ctx), f.cmd, args...) //nolint:gosec // the lab binary, with the gateway's own flags
	cmd.Stderr = f.out
	dieWithParent(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("services: start %s: %w", r, err)
	}
	p := &proc{role: r, slot: slot, cmd: cmd, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		// The banner's first line names the URL; the rest is read and dropped so the child
		// never blocks on a full pipe.
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), bannerPrefix); ok {
				ready <- strings.TrimSpace(u)
			}
		}
		close(ready)
	}()
	go func() {
		err := cmd.Wait()
		close(p.exited)
		f.log.Info("service process exited", slog.String("role", string(r)), slog.Int("pid", cmd.Process.Pid), slog.Any("status", err))
		f.revive(p)
	}()
	timer := time.NewTimer(serviceStartTimeout)
	defer timer.Stop()
	select {
	case u, ok := <-ready:
		if ok {
			p.url = u
			p.ready.Store(true)
			f.log.Info("service started", slog.String("role", string(r)), slog.String("url", u), slog.Int("pid", cmd.Process.Pid))
			return p, f.applyFault(r, p)
		}
		<-p.exited
		return nil, fmt.Errorf("services: %s exited before it listened: %v (its log is above)", r, cmd.ProcessState)
	case <-timer.C:
	case <-ctx.Done():
	}
	p.kill()
	return nil, fmt.Errorf("services: %s not listening after %v", r, serviceStartTimeout)
}

// revive starts a replica whose process died on its own (a crash, kill -9) again on the same
// address, retrying with backoff, as an orchestrator's restart policy would.
func (f *fleet) revive(dead *proc) {
	f.mu.Lock()
	again := dead.ready.Load() && !dead.retired && !f.stopping
	f.mu.Unlock()
	if !again {
		return
	}
	addr := strings.TrimPrefix(dead.url, "http://")
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		select {
		case <-f.stopped:
			return
		case <-time.After(wait):
		}
		p, err := f.spawn(context.Background(), dead.role, dead.slot, addr)
		if err != nil {
			f.log.Warn("service restart failed", slog.String("role", string(dead.role)), slog.Any("error", err))
			continue
		}
		f.mu.Lock()
		if f.stopping {
			f.mu.Unlock()
			p.retired = true
			p.terminate(ShutdownTimeoutDefault)
			return
		}
		f.procs[dead.role][dead.slot] = p
		f.mu.Unlock()
		f.log.Info("service restarted", slog.String("role", string(dead.role)), slog.String("url", p.url))
		f.recheck(dead.role)
		return
	}
}

// restart replaces role's replicas one at a time (a rolling restart, at most one replica
// down): each is asked to drain and stop (SIGTERM), then started again on its address. It
// returns how long each replica was away.
func (f *fleet) restart(ctx context.Context, r services.Role) ([]time.Duration, error) {
	f.mu.Lock()
	n := len(f.procs[r])
	f.mu.Unlock()
	away := make([]time.Duration, 0, n)
	for slot := range n {
		f.mu.Lock()
		old := f.procs[r][slot]
		if old != nil {
			old.retired = true
		}
		f.mu.Unlock()
		if old == nil {
			continue
		}
		start := time.Now()
		old.terminate(ShutdownTimeoutDefault + 5*time.Second)
		p, err := f.spawn(ctx, r, slot, strings.TrimPrefix(old.url, "http://"))
		if err != nil {
			return away, err
		}
		f.mu.Lock()
		f.procs[r][slot] = p
		f.mu.Unlock()
		// As a rolling update waits for a new pod's readiness: the next replica goes only once
		// this one takes calls again.
		if err := f.awaitHealthy(ctx, r, p.url); err != nil {
			return away, err
		}
		away = append(away, time.Since(start))
	}
	return away, nil
}

// info is the /admin/info of role's first replica.
func (f *fleet) info(ctx context.Context, r services.Role) (Info, error) {
	var info Info
	urls := f.urls(r)
	if len(urls) == 0 {
		return info, fmt.Errorf("services: no %s replica", r)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, urls[0]+"/admin/info", nil)
	if err != nil {
		return info, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return info, err
	}
	defer resp.Body.Close()
	return info, json.NewDecoder(resp.Body).Decode(&info)
}

// recheck has role's balancer check its replicas now rather than at its next round.
func (f *fleet) recheck(r services.Role) {
	if b := f.balancers[r]; b != nil {
		_ = b.SetEndpoints(f.urls(r)) // the same URLs: valid, and it triggers a round of checks
	}
}

// awaitHealthy waits until role's balancer takes url as healthy.
func (f *fleet) awaitHealthy(ctx context.Context, r services.Role, url string) error {
	ctx, cancel := context.WithTimeout(ctx, serviceStartTimeout)
	defer cancel()
	f.recheck(r)
	for {
		for _, e := range f.balancers[r].Endpoints() {
			if e.URL == url && e.Healthy {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("services: %s at %s not healthy: %w", r, url, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// bannerPrefix starts the first line a lab process prints (lab/cli's banner).
const bannerPrefix = "headroom lab listening on "

// kill ends the process at once and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// terminate asks the process to drain and stop (SIGTERM), and kills it after grace.
func (p *proc) terminate(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.kill()
	}
}

// stop terminates every process, all at once.
func (f *fleet) stop(context.Context) error {
	f.mu.Lock()
	if !f.stopping {
		close(f.stopped)
	}
	f.stopping = true
	var all []*proc
	for _, ps := range f.procs {
		for _, p := range ps {
			if p != nil {
				p.retired = true
				all = append(all, p)
			}
		}
	}
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Go(func() { p.terminate(ShutdownTimeoutDefault + 5*time.Second) })
	}
	wg.Wait()
	return nil
}

// urls lists the URLs of role's processes.
func (f *fleet) urls(r services.Role) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.procs[r]))
	for _, p := range f.procs[r] {
		if p != nil {
			out = append(out, p.url)
		}
	}
	return out
}

// link is the netem link to p, or nil without links.
func (f *fleet) link(p *proc) (*netem.Link, error) {
	if f.dialer == nil {
		return nil, nil
	}
	u, err := url.Parse(p.url)
	if err != nil {
		return nil, err
	}
	return f.dialer.Link(u.Host)
}

// applyFault puts role's current fault on the link to p (a replica started after the fault).
func (f *fleet) applyFault(r services.Role, p *proc) error {
	f.mu.Lock()
	fault, ok := f.faults[r]
	f.mu.Unlock()
	if !ok || fault.Kind == netem.FaultNone {
		return nil
	}
	l, err := f.link(p)
	if err != nil || l == nil {
		return err
	}
	return l.Inject(fault)
}

// routes are the gateway's admin routes over its services.
func (f *fleet) routes() []route {
	return []route{
		{pattern: "GET /admin/services", h: http.HandlerFunc(f.serveList), admin: true, listed: true},
		{pattern: "PUT /admin/services/{role}/fault", h: http.HandlerFunc(f.serveFault), admin: true, listed: true},
		{pattern: "POST /admin/services/{role}/restart", h: http.HandlerFunc(f.serveRestart), admin: true, listed: true},
	}
}

// view describes every service.
func (f *fleet) view() []ServiceInfo {
	out := make([]ServiceInfo, 0, len(services.Roles))
	for _, r := range services.Roles {
		f.mu.Lock()
		fault, ok := f.faults[r]
		f.mu.Unlock()
		if !ok {
			fault.Kind = netem.FaultNone
		}
		db := f.dbs[r][0]
		if s := f.dbs[r][1]; s != "" {
			db = redactURL(db) + " schema " + s
		}
		info := ServiceInfo{Role: r, DB: db, Fault: fault}
		f.mu.Lock()
		for _, p := range f.procs[r] {
			if p != nil {
				info.Replicas, info.PIDs = append(info.Replicas, p.url), append(info.PIDs, p.cmd.Process.Pid)
			}
		}
		f.mu.Unlock()
		out = append(out, info)
	}
	return out
}

func (f *fleet) serveList(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, f.view())
}

// faultRequest is the body of PUT /admin/services/{role}/fault; durations are Go's ("200ms").
type faultRequest struct {
	Kind   netem.FaultKind `json:"kind"`
	Extra  string          `json:"extra,omitempty"`
	Period string          `json:"period,omitempty"`
}

// serveFault injects a fault on the links to every replica of a role.
func (f *fleet) serveFault(w http.ResponseWriter, r *http.Request) {
	role, err := services.ParseRole(r.PathValue("role"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	if f.dialer == nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "no links to inject a fault on: the lab runs with --hop-rtt 0"})
		return
	}
	var req faultRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: want {\"kind\":\"slow\",\"extra\":\"200ms\"} or kind none, down, hang, flap (with period): " + err.Error()})
		return
	}
	fault := netem.Fault{Kind: req.Kind}
	for _, d := range []struct {
		name, s string
		dst     *time.Duration
	}{{"extra", req.Extra, &fault.Extra}, {"period", req.Period, &fault.Period}} {
		if d.s == "" {
			continue
		}
		if *d.dst, err = time.ParseDuration(d.s); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("%s %q: want a duration such as 200ms", d.name, d.s)})
			return
		}
	}
	if err := fault.Validate(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	f.mu.Lock()
	f.faults[role] = fault
	procs := append([]*proc(nil), f.procs[role]...)
	f.mu.Unlock()
	for _, p := range procs {
		if p == nil {
			continue
		}
		if err := f.applyFault(role, p); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
	}
	f.log.Info("fault injected", slog.String("role", string(role)), slog.String("kind", string(fault.Kind)))
	writeJSON(w, http.StatusOK, f.view())
}

// serveRestart answers POST /admin/services/{role}/restart once every replica is back.
func (f *fleet) serveRestart(w http.ResponseWriter, r *http.Request) {
	role, err := services.ParseRole(r.PathValue("role"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	away, err := f.restart(r.Context(), role)
	ms := make([]float64, len(away))
	for i, d := range away {
		ms[i] = float64(d.Microseconds()) / 1000
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "away_ms": ms})
		return
	}
	f.log.Info("rolling restart done", slog.String("role", string(role)), slog.Any("away_ms", ms))
	writeJSON(w, http.StatusOK, map[string]any{"role": role, "away_ms": ms})
}
