package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/felixge/fgprof"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/cache/memory"
	"github.com/headroom/headroom/lab/cache/redis"
	"github.com/headroom/headroom/lab/deps"
	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/faas"
	"github.com/headroom/headroom/lab/identity"
	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/worker"
	"github.com/headroom/headroom/lab/netem"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/lab/services"
	"github.com/headroom/headroom/lab/store/postgres"
	"github.com/headroom/headroom/lab/store/sqlite"
	"github.com/headroom/headroom/lab/tasks"
	"github.com/headroom/headroom/lab/telemetry"
)

// ErrInvalidConfig is wrapped by the errors of [Start] that come from a bad [Config] (as opposed to
// a failure to start, such as an unreachable database).
var ErrInvalidConfig = errors.New("invalid lab configuration")

// The defaults of [Config]'s fields; the CLI takes its flag defaults from them.
const (
	AddrDefault            = "127.0.0.1:8080"
	CacheTTLDefault        = 2 * time.Second
	MailLatencyDefault     = "300ms"      // the notes' slow mail provider
	LogLatencyDefault      = "500ms"      // the notes' misidentified bottleneck
	PaymentLatencyDefault  = "50ms,1%:5s" // the notes' "99 % ≈ 50 ms, 1 % ≈ 5 s"
	ShutdownTimeoutDefault = 10 * time.Second
	// DBLatencyDefault is a database elsewhere in the same cloud region: about half a
	// millisecond per round trip between availability zones (docs/lab.md gives the sources).
	DBLatencyDefault = 500 * time.Microsecond
)

// Config configures [Start]. The zero value starts the embedded lab on 127.0.0.1:8080.
type Config struct {
	// Addr is the listen address. Default [AddrDefault]; use 127.0.0.1:0 for a free port. On an
	// address other than loopback, the admin and debug endpoints answer loopback clients only,
	// or requests with AdminToken.
	Addr string
	// DB selects the database: "sqlite:PATH" (a file, created if missing), "postgres://..." or
	// "postgresql://...". Default: a SQLite file in a new temporary directory, removed on shutdown.
	DB string
	// DBMaxConns bounds the database connection pool. Default: the engine's (8 for SQLite,
	// max(4, CPUs) for PostgreSQL).
	DBMaxConns int
	// PostgresSchema, with a postgres DB, is the schema to use (created if missing). Default: the
	// server's search_path.
	PostgresSchema string
	// DBLatency is the network round trip added to every call to the database. With PostgreSQL it
	// is real: a TCP link (lab/netem) between the lab and the server delays each direction by
	// half of it. With SQLite, an embedded engine, it is an emulation: a wait before each
	// statement, BEGIN, COMMIT and ROLLBACK. Nil means [DBLatencyDefault]; a pointer to 0 means
	// none, the bare database.
	DBLatency *time.Duration
	// Antipatterns are the switches enabled at start. Default: none.
	Antipatterns lab.AntipatternSet
	// OTLP is the OTLP/HTTP endpoint traces are exported to, e.g. http://127.0.0.1:4318. Default: none.
	OTLP string
	// Cache is "" or CacheMemory for the in-process cache, or a URL of CacheSchemes (Redis).
	// Default in-process.
	Cache string
	// CacheKeyPrefix prefixes the Redis keys. Default "headroom:lab:".
	CacheKeyPrefix string
	// CacheTTL is how long the feed stays cached. Default [CacheTTLDefault].
	CacheTTL time.Duration
	// Seed sizes the seeded data (see seed.Config for defaults: 200 users, 5 posts each, ~5
	// comments per post). A database that already has users is not seeded again.
	Seed seed.Config

	// SMTPAddr is an external mail server (host:port). Default: start one in process.
	SMTPAddr string
	// MailLatency is the embedded mail server's latency per message. Default [MailLatencyDefault].
	MailLatency *deps.Latency
	// LogCollectorURL is an external log collector. Default: start one in process.
	LogCollectorURL string
	// LogLatency is the embedded log collector's latency per request. Default [LogLatencyDefault].
	LogLatency *deps.Latency
	// PaymentURL is an external payment provider. Default: start one in process.
	PaymentURL string
	// PaymentLatency is the embedded payment provider's latency. Default [PaymentLatencyDefault].
	PaymentLatency *deps.Latency

	// Queue is the job queue broker: "" or "nats" for an embedded NATS JetStream server in
	// process (file storage), "nats://host:port" for an external one, "redis://host:port/db" for
	// Redis Streams, "amqp://user:pass@host:port/" for RabbitMQ quorum queues. Default embedded.
	Queue string
	// QueuePrefix namespaces the broker's streams or keys, so several labs can share a server.
	// Default "headroom". With Role set, the service's own jobs go under QueuePrefix-ROLE and
	// the events between services under QueuePrefix (see replication.go).
	QueuePrefix string
	// QueueDir is the embedded JetStream server's storage directory. Default: a temporary
	// directory removed on shutdown.
	QueueDir string
	// ExternalWorkers leaves the jobs to workers in other processes (headroom lab worker): this
	// process only produces them. Default false: workers run in process.
	ExternalWorkers bool
	// Jobs tunes the in-process workers.
	Jobs JobsConfig

	// VideoPasses is how many times video processing hashes the video's bytes: the CPU cost of
	// POST /api/videos. Default 16 (see api.Config).
	VideoPasses int

	// SpanProcessors receive every span besides the OTLP exporter (tests record spans with them).
	SpanProcessors []sdktrace.SpanProcessor

	// Log receives the JSON logs. Default os.Stderr.
	Log io.Writer
	// LogLevel filters the logs (the access log is at info). Default info.
	LogLevel slog.Level
	// ShutdownTimeout bounds draining in-flight requests on shutdown. Default [ShutdownTimeoutDefault].
	ShutdownTimeout time.Duration

	// Role, when set, runs this process as one service of the services mode (lab/services): it
	// serves that module's internal API over its own database, and the gateway serves the
	// public one. Default "": the monolith.
	Role services.Role
	// Services, when set, runs the lab in the services mode: this process is the gateway and
	// starts the services (see [ServicesConfig]). Default nil: the monolith.
	Services *ServicesConfig

	// Edge, when set, starts the edge tier in front of the lab (see [EdgeConfig]). Default: none.
	Edge *EdgeConfig

	// Functions, when set, starts the function platform under /fn/ (see [FunctionsConfig]).
	// Default: none.
	Functions *FunctionsConfig
	// Keys sign and verify session tokens and the Headroom-Edge-Identity header; an edge in front
	// of the lab needs the same ones ([App.Keys] hands them to one in process). Default: read
	// from KeysFile when set, else generated at start.
	Keys *identity.Keys
	// KeysFile, when set and Keys is not, is a keys file (identity.Keys.Save's JSON) read at
	// start, or created there (mode 0600) if missing, so that processes started apart (an edge
	// node, a second lab on the same database) share the keys. Default "": none.
	KeysFile string
	// TokenAlg is the algorithm of the session tokens POST /api/login issues; tokens of both
	// algorithms are accepted. Default [api.TokenAlgDefault] (EdDSA).
	TokenAlg identity.Alg
	// SessionTTL is how long a login lasts. Default [api.SessionTTLDefault] (1h).
	SessionTTL time.Duration

	// AdminToken, when set, admits requests with "Authorization: Bearer AdminToken" to the admin
	// and debug endpoints (/admin/..., /debug/pprof/..., /debug/fgprof) from any address. Default
	// "": loopback clients only.
	AdminToken string
}

func latencyOr(l *deps.Latency, def string) deps.Latency {
	if l != nil {
		return *l
	}
	v, err := deps.ParseLatency(def)
	if err != nil {
		panic(err) // the defaults are constants
	}
	return v
}

// withDefaults returns c with every zero field that has a default set to it.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = AddrDefault
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = CacheTTLDefault
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = ShutdownTimeoutDefault
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	if c.TokenAlg == "" {
		c.TokenAlg = api.TokenAlgDefault
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = api.SessionTTLDefault
	}
	c.Seed = c.Seed.Defaults()
	return c
}

// DBSchemes start the values of Config.DB: a SQLite path or a PostgreSQL URL.
var DBSchemes = []string{"sqlite:", "postgres://", "postgresql://"}

// CacheMemory is the Config.Cache of the in-process cache.
const CacheMemory = "memory"

// CacheSchemes start the URLs of a Redis cache in Config.Cache.
var CacheSchemes = []string{"redis://", "rediss://"}

// hasPrefix reports whether s starts with one of prefixes.
func hasPrefix(s string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}

// validate checks c after withDefaults, without changing it; each error names the bad value and
// what would be valid.
func (c *Config) validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("listen address %q: want host:port: %w", c.Addr, err)
	}
	if c.DB != "" && !hasPrefix(c.DB, DBSchemes) {
		return fmt.Errorf("database %q: want sqlite:PATH or a postgres:// URL", c.DB)
	}
	if c.DB == "sqlite:" {
		return errors.New(`database "sqlite:": want sqlite:PATH`)
	}
	if c.Role != "" {
		if _, err := services.ParseRole(string(c.Role)); err != nil {
			return err
		}
	}
	if c.Functions != nil {
		if c.Role != "" || c.Services != nil {
			return errors.New("functions run beside the monolith: not in a service (Role) nor in the services mode (Services)")
		}
		if err := c.Functions.validate(); err != nil {
			return err
		}
	}
	if c.Services != nil {
		if c.Role != "" {
			return errors.New("a service (Role) cannot itself run services (Services)")
		}
		if err := c.Services.validate(); err != nil {
			return err
		}
	}
	if err := CheckQueue(c.Queue); err != nil {
		return err
	}
	if err := c.Jobs.validate(); err != nil {
		return err
	}
	if c.Cache != "" && c.Cache != CacheMemory && !hasPrefix(c.Cache, CacheSchemes) {
		return fmt.Errorf("cache %q: want memory or redis://host:port", c.Cache)
	}
	if err := checkDBLatency(c.DBLatency); err != nil {
		return err
	}
	if c.DBMaxConns < 0 || c.DBMaxConns > 10000 {
		return fmt.Errorf("database max connections %d: want 1 to 10000 (0 for the default)", c.DBMaxConns)
	}
	if c.Keys != nil && c.KeysFile != "" {
		return errors.New("keys: set Keys or KeysFile, not both")
	}
	if c.Keys != nil {
		if err := c.Keys.Validate(); err != nil {
			return err
		}
	}
	if _, err := identity.ParseAlg(string(c.TokenAlg)); err != nil {
		return err
	}
	if c.SessionTTL < time.Second {
		return fmt.Errorf("session TTL %v: want at least 1s", c.SessionTTL)
	}
	if c.CacheTTL < 0 || c.ShutdownTimeout < 0 {
		return fmt.Errorf("cache TTL %v and shutdown timeout %v must be positive", c.CacheTTL, c.ShutdownTimeout)
	}
	return c.Seed.Validate()
}

// Info describes a started lab, for the banner and for tests.
type Info struct {
	URL          string     `json:"url"`
	DB           string     `json:"db"` // engine and location, without credentials
	Antipatterns string     `json:"antipatterns"`
	Data         lab.Counts `json:"data"`
	Seeded       bool       `json:"seeded"` // false: the database already had data
	Cache        string     `json:"cache"`
	SMTP         string     `json:"smtp"`
	LogCollector string     `json:"log_collector"`
	Payments     string     `json:"payments"`
	OTLP         string     `json:"otlp,omitempty"`
	Queue        string     `json:"queue"`     // the broker, for people
	QueueURL     string     `json:"queue_url"` // what headroom lab worker --queue takes
	Workers      string     `json:"workers"`
	Keys         string     `json:"keys"` // where the token and edge identity keys come from
	Sessions     string     `json:"sessions"`
	Endpoints    []string   `json:"endpoints"`
	Metrics      string     `json:"metrics"`
	Pprof        string     `json:"pprof"`
	Fgprof       string     `json:"fgprof"`
	Edge         *edge.Info `json:"edge,omitempty"`
	// Services are the services of the services mode's gateway.
	Services []ServiceInfo `json:"services,omitempty"`
	// Functions are the functions of a lab started with Config.Functions.
	Functions []FunctionInfo `json:"functions,omitempty"`
}

// App is a running lab.
type App struct {
	cfg      Config
	info     Info
	srv      *http.Server
	ln       net.Listener
	api      *api.API
	switches *lab.Switches
	store    lab.Store // nil in the services mode's gateway
	// faas is the function platform (Config.Functions).
	faas    *faas.Platform
	engine  jobs.Engine
	worker  *worker.Worker
	counts  *countSharer         // nil without in-process workers
	fleet   *fleet               // the services mode's gateway only
	replica *tasks.Replica       // the users.changed consumer; nil without it (see replication.go)
	edge    atomic.Pointer[Edge] // nil without Config.Edge, and until it has started
	keys    identity.Keys
	served  chan error
	closers []func(ctx context.Context) error // in reverse start order
}

// Start starts the lab and returns once it accepts requests. Stop it with [App.Shutdown].
func Start(ctx context.Context, cfg Config) (_ *App, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	a := &App{cfg: cfg, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = a.closeAll(context.WithoutCancel(ctx))
		}
	}()
	log := telemetry.NewLogger(cfg.Log, cfg.LogLevel)

	serviceName := "" // telemetry's default, the monolith's
	switch {
	case cfg.Role != "":
		serviceName = cfg.Role.ServiceName()
	case cfg.Services != nil:
		serviceName = services.GatewayServiceName
	}
	tel, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: serviceName, OTLPEndpoint: cfg.OTLP, SpanProcessors: cfg.SpanProcessors})
	if err != nil {
		return nil, err
	}
	a.onClose(tel.Shutdown)
	a.info.OTLP = cfg.OTLP
	tp := tel.TracerProvider

	a.switches = lab.NewSwitches(cfg.Antipatterns)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cache, err := a.openCache(ctx, tp)
	if err != nil {
		return nil, err
	}
	out, err := a.startDeps(ctx)
	if err != nil {
		return nil, err
	}
	// peer names the service called (peer.service), so a trace says what each outgoing call is
	// for — the log collector is not a dependency a request should wait on.
	tracedClient := func(timeout time.Duration, peer string) *http.Client {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		// Closed before the embedded services stop: an HTTP server's graceful shutdown waits up
		// to 5 s for connections that were dialed but never used.
		a.onClose(func(context.Context) error { tr.CloseIdleConnections(); return nil })
		return &http.Client{Timeout: timeout, Transport: otelhttp.NewTransport(tr,
			otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(tel.Propagator),
			otelhttp.WithSpanOptions(trace.WithAttributes(attribute.String("peer.service", peer))))}
	}
	ship, err := deps.NewLogShipper(deps.LogShipperConfig{URL: out.logs, SyncClient: tracedClient(30*time.Second, "log-collector")})
	if err != nil {
		return nil, err
	}
	a.onClose(ship.Close)
	if err := a.loadKeys(); err != nil {
		return nil, err
	}

	var back backend
	if cfg.Services != nil {
		back, err = a.startGateway(ctx, gatewayDeps{out: out, reg: reg, tel: tel, log: log})
	} else {
		back, err = a.startLocal(ctx, out, tracedClient, jobDeps{reg: reg, tp: tp, prop: tel.Propagator, log: log})
	}
	if err != nil {
		return nil, err
	}
	a.api, err = api.New(api.Config{
		InternalOnly:   cfg.Role != "",
		Outbox:         back.outbox,
		Store:          back.store,
		Switches:       a.switches,
		Cache:          cache,
		Mailer:         back.mailer,
		Payments:       back.payments,
		Logs:           ship,
		Logger:         log,
		TracerProvider: tp,
		Propagator:     tel.Propagator,
		Registerer:     reg,
		VideoPasses:    cfg.VideoPasses,
		AdminToken:     cfg.AdminToken,
		Keys:           &a.keys,
		TokenAlg:       cfg.TokenAlg,
		SessionTTL:     cfg.SessionTTL,
	})
	if err != nil {
		return nil, err
	}
	if cfg.Role != "" {
		services.Register(a.api, cfg.Role, services.Backend{Store: back.store, Payments: back.payments, Mailer: back.mailer, Kick: back.outbox.Kick})
	}
	if cfg.Services == nil {
		// The gateway has no orders: the payments service recovers its own.
		a.recoverOrders(ctx, log)
	}

	routes := []route{
		{pattern: "/", h: a.api},
		{pattern: "GET /metrics", h: promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: reg})},
		{pattern: "/debug/pprof/", h: http.HandlerFunc(pprof.Index), admin: true},
		{pattern: "/debug/pprof/cmdline", h: http.HandlerFunc(pprof.Cmdline), admin: true},
		{pattern: "/debug/pprof/profile", h: http.HandlerFunc(pprof.Profile), admin: true},
		{pattern: "/debug/pprof/symbol", h: http.HandlerFunc(pprof.Symbol), admin: true},
		{pattern: "/debug/pprof/trace", h: http.HandlerFunc(pprof.Trace), admin: true},
		{pattern: "/debug/fgprof", h: fgprof.Handler(), admin: true},
		{pattern: "GET /admin/info", h: http.HandlerFunc(a.serveInfo), admin: true, listed: true},
	}
	if a.store != nil {
		// The gateway of the services mode has neither database nor jobs: each service has its own.
		routes = append(routes,
			route{pattern: "GET /admin/jobs", h: http.HandlerFunc(a.serveJobs), admin: true, listed: true},
			route{pattern: "GET /admin/jobs/{queue}/dead", h: http.HandlerFunc(a.serveDead), admin: true, listed: true},
			route{pattern: "POST /admin/jobs/{queue}/dead/{id}/replay", h: http.HandlerFunc(a.serveReplay), admin: true, listed: true})
	}
	if a.fleet != nil {
		routes = append(routes, a.fleet.routes()...)
	}
	if a.faas != nil {
		routes = append(routes, route{pattern: "/fn/", h: a.faas.Handler()})
	}
	if cfg.Edge != nil {
		routes = append(routes, route{pattern: "POST /admin/edge/purge", h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.edge.Load().ServePurge(w, r) }), admin: true, listed: true})
	}
	mux := http.NewServeMux()
	a.info.Endpoints = a.api.Routes()
	for _, rt := range routes {
		h := rt.h
		if rt.admin {
			h = a.api.AdminOnly(h)
		}
		mux.Handle(rt.pattern, h)
		if rt.listed {
			a.info.Endpoints = append(a.info.Endpoints, rt.pattern)
		}
	}
	slices.Sort(a.info.Endpoints)

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	a.ln = ln
	a.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { a.served <- a.srv.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	a.info.URL = base
	if a.fleet != nil {
		a.info.Services = a.fleet.view()
	}
	a.info.Antipatterns = cfg.Antipatterns.String()
	a.info.Metrics = base + "/metrics"
	a.info.Pprof = base + "/debug/pprof/"
	a.info.Fgprof = base + "/debug/fgprof?seconds=10"
	if cfg.Edge != nil {
		if err := a.startEdge(ctx, reg); err != nil {
			_ = a.srv.Close()
			return nil, err
		}
	}
	log.InfoContext(ctx, "lab started", slog.String("url", base), slog.String("db", a.info.DB),
		slog.String("antipatterns", a.info.Antipatterns))
	return a, nil
}

// backend is what the API serves from: in the monolith and in a service, the process's own
// database, outbox relay, mail server and payment provider; in the services mode's gateway,
// calls to the services (lab/services).
type backend struct {
	store    api.Store
	mailer   api.Mailer
	payments api.Payments
	outbox   api.Outbox
}

// startLocal opens the database (seeded), the mail and payment clients and the jobs (outbox
// relay, workers) of the monolith or of one service.
func (a *App) startLocal(ctx context.Context, out outside, tracedClient func(time.Duration, string) *http.Client, jd jobDeps) (backend, error) {
	cfg := a.cfg
	if cfg.DB == "" && cfg.Functions != nil {
		// The api function's instances open the same file: make it here, where both can see it.
		path, err := tempSQLite(a.onClose)
		if err != nil {
			return backend{}, err
		}
		cfg.DB = "sqlite:" + path
	}
	store, dbDesc, err := openStore(ctx, storeConfig{db: cfg.DB, schema: cfg.PostgresSchema, maxConns: cfg.DBMaxConns, latency: dbLatency(cfg.DBLatency), tp: jd.tp}, a.onClose)
	if err != nil {
		return backend{}, err
	}
	a.store, a.info.DB = store, dbDesc
	res, err := seed.Run(ctx, store, cfg.Seed)
	if err != nil {
		return backend{}, err
	}
	a.info.Data, a.info.Seeded = res.Counts, !res.Skipped
	if cfg.Functions != nil {
		// Before the jobs: the video pipeline's thumbnails are the thumbnail function's work.
		if err := a.startFunctions(cfg.DB, jd.reg, jd.tp, jd.log); err != nil {
			return backend{}, err
		}
	}
	mailer, err := deps.NewMailer(deps.MailerConfig{Addr: out.smtp, TracerProvider: jd.tp})
	if err != nil {
		return backend{}, err
	}
	pay, err := deps.NewPaymentClient(deps.PaymentClientConfig{URL: out.payments, HTTPClient: tracedClient(30*time.Second, "payment-provider")})
	if err != nil {
		return backend{}, err
	}
	jd.mailer = mailer
	relay, err := a.startJobs(ctx, jd)
	if err != nil {
		return backend{}, err
	}
	payments := api.PaymentsFunc(func(ctx context.Context, orderID, amount int64) (string, error) {
		ch, err := pay.Charge(ctx, orderID, amount)
		if errors.Is(err, deps.ErrPaymentDeclined) {
			err = fmt.Errorf("%w: %w", api.ErrDeclined, err)
		}
		return ch.ID, err
	})
	return backend{store: store, mailer: mailer, payments: payments, outbox: relay}, nil
}

// openCache opens the feed's cache: Redis or in process.
func (a *App) openCache(ctx context.Context, tp trace.TracerProvider) (api.Cache, error) {
	cfg := a.cfg
	defer func() { a.info.Cache += fmt.Sprintf(", ttl %v", cfg.CacheTTL) }()
	if strings.HasPrefix(cfg.Cache, "redis") {
		rc, err := redis.New(ctx, redis.Config{URL: cfg.Cache, TTL: cfg.CacheTTL, KeyPrefix: cfg.CacheKeyPrefix, TracerProvider: tp})
		if err != nil {
			return nil, err
		}
		a.onClose(func(context.Context) error { return rc.Close() })
		a.info.Cache = "redis " + redactURL(cfg.Cache)
		return rc, nil
	}
	mc, err := memory.New(memory.Config{TTL: cfg.CacheTTL})
	if err != nil {
		return nil, err
	}
	a.info.Cache = "in-process (otter)"
	return mc, nil
}

// loadKeys sets a.keys from the configuration (given, from the keys file, or generated) and
// says which in Info.
func (a *App) loadKeys() error {
	cfg := a.cfg
	switch {
	case cfg.Keys != nil:
		a.keys, a.info.Keys = *cfg.Keys, "given by the caller"
	case cfg.KeysFile != "":
		k, created, err := identity.LoadOrCreateKeys(cfg.KeysFile)
		if err != nil {
			return err
		}
		a.keys, a.info.Keys = k, cfg.KeysFile
		if created {
			a.info.Keys += " (created now)"
		}
	default:
		a.keys, a.info.Keys = identity.NewKeys(), "generated at start, in memory only (--edge-keys FILE shares them with other processes)"
	}
	a.info.Sessions = fmt.Sprintf("%s tokens, sessions of %v", cfg.TokenAlg, cfg.SessionTTL)
	return nil
}

// Keys returns the keys of the lab's session tokens and edge identity header, for an edge
// started in the same process.
func (a *App) Keys() identity.Keys { return a.keys }

// recoverOrders settles, in the background, the orders a crash of an earlier run left pending
// (created before now: this run's own checkouts settle themselves). Shutdown stops the pass and
// waits for it. With several labs on one database, a lab that starts also settles the orders of
// checkouts in flight in the others; the charge's Idempotency-Key keeps a deduplicating provider
// from charging twice.
func (a *App) recoverOrders(ctx context.Context, log *slog.Logger) {
	before := time.Now()
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		n, err := a.api.RecoverOrders(ctx, before)
		switch {
		case err != nil && ctx.Err() == nil:
			log.ErrorContext(ctx, "order recovery failed", slog.Int("recovered", n), slog.Any("error", err))
		case n > 0:
			log.InfoContext(ctx, "orders recovered", slog.Int("recovered", n))
		}
	}()
	a.onClose(func(context.Context) error { stop(); <-done; return nil })
}

// route is one of the lab's routes beside the API's own: the table both registers and lists them.
type route struct {
	pattern string
	h       http.Handler
	admin   bool // loopback clients or the admin token only (api.API.AdminOnly)
	listed  bool // in Info.Endpoints (the metrics and profiles have their own Info fields)
}

// outside is where the lab's outside services answer.
type outside struct{ smtp, logs, payments string }

// startDeps starts in process each outside service that the configuration does not point
// elsewhere, registers their closing and fills their Info lines.
func (a *App) startDeps(ctx context.Context) (outside, error) {
	cfg := a.cfg
	out := outside{smtp: cfg.SMTPAddr, logs: cfg.LogCollectorURL, payments: cfg.PaymentURL}
	type started struct {
		addr  string
		close func(context.Context) error
	}
	for _, d := range []struct {
		addr    *string
		info    *string
		latency *deps.Latency
		def     string
		start   func(context.Context, deps.Latency) (started, error)
	}{
		{&out.smtp, &a.info.SMTP, cfg.MailLatency, MailLatencyDefault, func(ctx context.Context, lat deps.Latency) (started, error) {
			s, err := deps.StartMailServer(ctx, deps.MailServerConfig{Latency: lat})
			if err != nil {
				return started{}, err
			}
			return started{s.Addr(), s.Close}, nil
		}},
		{&out.logs, &a.info.LogCollector, cfg.LogLatency, LogLatencyDefault, func(ctx context.Context, lat deps.Latency) (started, error) {
			s, err := deps.StartLogCollector(ctx, deps.LogCollectorConfig{Latency: lat})
			if err != nil {
				return started{}, err
			}
			return started{s.URL(), s.Close}, nil
		}},
		{&out.payments, &a.info.Payments, cfg.PaymentLatency, PaymentLatencyDefault, func(ctx context.Context, lat deps.Latency) (started, error) {
			s, err := deps.StartPaymentProvider(ctx, deps.PaymentProviderConfig{Latency: lat})
			if err != nil {
				return started{}, err
			}
			return started{s.URL(), s.Close}, nil
		}},
	} {
		if *d.addr != "" {
			*d.info = *d.addr
			continue
		}
		lat := latencyOr(d.latency, d.def)
		s, err := d.start(ctx, lat)
		if err != nil {
			return out, err
		}
		a.onClose(s.close)
		*d.addr = s.addr
		*d.info = fmt.Sprintf("%s (embedded, latency %s)", s.addr, lat)
	}
	return out, nil
}

func (a *App) onClose(f func(context.Context) error) { a.closers = append(a.closers, f) }

func (a *App) closeAll(ctx context.Context) error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i](ctx))
	}
	a.closers = nil
	return errors.Join(errs...)
}

// storeConfig selects the database for openStore.
type storeConfig struct {
	db, schema string
	maxConns   int
	latency    time.Duration // per round trip, see Config.DBLatency
	tp         trace.TracerProvider
}

// dbLatency is Config.DBLatency with its default applied.
func dbLatency(d *time.Duration) time.Duration {
	if d == nil {
		return DBLatencyDefault
	}
	return *d
}

func checkDBLatency(d *time.Duration) error {
	if d == nil {
		return nil
	}
	return CheckDBLatency(*d)
}

// CheckDBLatency validates a database latency (Config.DBLatency).
func CheckDBLatency(d time.Duration) error {
	if d < 0 || d > time.Minute {
		return fmt.Errorf("database latency %v: want 0 (none) to 1m per round trip, e.g. 500us", d)
	}
	return nil
}

// openStore opens the database (a new temporary SQLite file when db is empty) and registers its
// closing, and the temporary directory's removal, with onClose.
func openStore(ctx context.Context, cfg storeConfig, onClose func(func(context.Context) error)) (lab.Store, string, error) {
	if strings.HasPrefix(cfg.db, "postgres") {
		pc := postgres.Config{URL: cfg.db, Schema: cfg.schema, MaxConns: int32(cfg.maxConns), TracerProvider: cfg.tp}
		desc := "postgres " + redactURL(cfg.db)
		if cfg.schema != "" {
			desc += " (schema " + cfg.schema + ")"
		}
		if cfg.latency > 0 {
			// The whole round trip on the way back: every exchange with the server crosses
			// both directions, so the split does not change what a query costs, and one wait
			// per round trip instead of two halves the waits' own overshoot (see package pause).
			link := &netem.Dialer{Down: netem.Delay{Latency: cfg.latency}}
			// Registered before the store's close, so it runs after it: the pool says goodbye
			// to the server through links that are still up.
			onClose(func(context.Context) error { return link.Close() })
			pc.DialFunc = link.DialContext
			desc += fmt.Sprintf(", +%v per round trip (a TCP link delaying the server's answers)", cfg.latency)
		}
		s, err := postgres.Open(ctx, pc)
		if err != nil {
			return nil, "", err
		}
		onClose(func(context.Context) error { return s.Close() })
		return s, desc, nil
	}
	path := strings.TrimPrefix(cfg.db, "sqlite:")
	if cfg.db == "" {
		var err error
		if path, err = tempSQLite(onClose); err != nil {
			return nil, "", err
		}
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, MaxOpenConns: cfg.maxConns, TracerProvider: cfg.tp, RoundTripDelay: cfg.latency})
	if err != nil {
		return nil, "", err
	}
	onClose(func(context.Context) error { return s.Close() })
	desc := "sqlite " + path
	if cfg.latency > 0 {
		desc += fmt.Sprintf(", +%v per round trip (emulated: a wait before each statement)", cfg.latency)
	}
	return s, desc, nil
}

// tempSQLite makes a temporary directory for a SQLite database, removed by onClose, and returns
// the database file's path in it.
func tempSQLite(onClose func(func(context.Context) error)) (string, error) {
	dir, err := os.MkdirTemp("", "headroom-lab-")
	if err != nil {
		return "", fmt.Errorf("temporary database directory: %w", err)
	}
	onClose(func(context.Context) error { return os.RemoveAll(dir) })
	return filepath.Join(dir, "lab.db"), nil
}

// redactURL drops the password from a URL for display.
func redactURL(s string) string {
	i := strings.Index(s, "://")
	at := strings.LastIndex(s, "@")
	if i < 0 || at < i {
		return s
	}
	cred := s[i+3 : at]
	if user, _, ok := strings.Cut(cred, ":"); ok {
		return s[:i+3] + user + ":xxxxx" + s[at:]
	}
	return s
}

// Info describes the running lab. Antipatterns is the state at start; /admin/info has the live one.
func (a *App) Info() Info { return a.info }

// serveInfo answers GET /admin/info: the lab's Info with the switches as they are now and fresh
// row counts, so a measurement can record exactly what it ran against.
func (a *App) serveInfo(w http.ResponseWriter, r *http.Request) {
	info := a.info
	info.Antipatterns = a.switches.Current().String()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if a.store != nil {
		if c, err := a.store.Counts(ctx); err == nil {
			info.Data = c
		}
	}
	if a.fleet != nil {
		info.Services = a.fleet.view()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(info)
}

// Handler returns the root handler (API, metrics, profiles), for tests that skip the network.
func (a *App) Handler() http.Handler { return a.srv.Handler }

// Done returns a channel that receives the server's error if it stops on its own.
func (a *App) Done() <-chan error { return a.served }

// Shutdown stops accepting connections, reports not ready, waits for in-flight requests (bounded
// by the configured ShutdownTimeout and ctx), then stops the background work and the embedded
// services, flushes spans and closes the database.
func (a *App) Shutdown(ctx context.Context) error {
	a.api.SetReady(false)
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if e := a.edge.Load(); e != nil {
		// First, so the edge's in-flight requests still reach the origin.
		errs = append(errs, e.Close(ctx))
	}
	if err := a.srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("drain requests: %w", err))
	}
	errs = append(errs, a.closeAll(ctx))
	return errors.Join(errs...)
}

// Run starts the lab, calls started with its Info, and serves until ctx is cancelled, then shuts
// down gracefully.
func Run(ctx context.Context, cfg Config, started func(Info)) error {
	a, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	if started != nil {
		started(a.Info())
	}
	select {
	case <-ctx.Done():
	case err := <-a.served:
		_ = a.Shutdown(context.WithoutCancel(ctx))
		return fmt.Errorf("server stopped: %w", err)
	}
	return a.Shutdown(context.WithoutCancel(ctx))
}
