package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/deps"
	"github.com/headroom/headroom/lab/edge"
	"github.com/headroom/headroom/lab/identity"
	"github.com/headroom/headroom/lab/jobs/worker"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/lab/tasks"
	"github.com/headroom/headroom/lab/telemetry"
)

// endpointExamples turns route patterns into URLs a user can paste.
var endpointExamples = map[string]string{
	"GET /api/posts":                            "/api/posts?limit=20",
	"GET /api/posts/{id}":                       "/api/posts/1",
	"GET /api/search":                           "/api/search?q=" + seed.RareWord,
	"GET /api/feed":                             "/api/feed",
	"DELETE /api/account":                       "/api/account?user_id=ID",
	"PATCH /api/account":                        `/api/account  {"user_id":1,"name":"Ada"}`,
	"POST /api/checkout":                        `/api/checkout  {"user_id":1,"amount_cents":1999}`,
	"POST /api/invites":                         `/api/invites  {"inviter_id":1,"email":"friend@example.com"}`,
	"POST /api/videos":                          `/api/videos  {"owner_id":1,"title":"cats","size_bytes":4194304}`,
	"PUT /admin/antipatterns":                   `/admin/antipatterns  {"n_plus_one":true} or {"antipatterns":"all|none|a,b"}`,
	"GET /api/videos/{id}":                      "/api/videos/ID",
	"POST /admin/edge/purge":                    "/admin/edge/purge?prefix=/static/  (or ?url=URL, ?all=1)",
	"GET /api/account/deletions/{id}":           "/api/account/deletions/ID",
	"DELETE /api/account/deletions/{id}":        "/api/account/deletions/ID  (cancel)",
	"GET /admin/jobs/{queue}/dead":              "/admin/jobs/email/dead",
	"POST /api/login":                           `/api/login  {"user_id":1}  → {"token":…}`,
	"DELETE /api/login":                         "/api/login  (Authorization: Bearer TOKEN: logout)",
	"GET /api/me":                               "/api/me  (Authorization: Bearer TOKEN)",
	"GET /api/users/{id}/summary":               "/api/users/1/summary",
	"GET /static/{path...}":                     "/static/manifest.json  (app.js, app.css, img/*.png and their fingerprinted names)",
	"GET /page/home":                            "/page/home  (Accept-Language: en|fr|de|ja, Headroom-Region: FR…)",
	"POST /admin/jobs/{queue}/dead/{id}/replay": "/admin/jobs/QUEUE/dead/ID/replay",
}

func newLabCmd() *cobra.Command {
	var (
		cfg                                app.Config
		antipatterns, logLevel             string
		mailLat, logLat, payLat            string
		seedUsers, seedPosts, seedComments int
		seedSeed                           uint64
		dbLatency                          *time.Duration // --db-latency
		edgeOpts                           *edgeFlags
		svcOpts                            *servicesFlags
		fnOpts                             *functionsFlags
		tokenAlg                           string
	)
	valid := lab.ValidAntipatternNames()
	cmd := &cobra.Command{
		Use:   "headroom-lab",
		Short: "Start the reference backend (the lab) with switchable bottlenecks",
		Long: `lab starts the reference backend headroom measures: a blog/social HTTP API over SQLite
(embedded default) or PostgreSQL, with its outside world (an SMTP mail server, a remote log
collector, a payment provider) started in process on loopback ports, instrumented with
OpenTelemetry traces, Prometheus metrics, pprof and fgprof.

Each classic bottleneck sits behind a switch (--antipatterns, or PUT /admin/antipatterns at run
time from loopback): ` + valid + `.

Latency flags take TYPICAL[~JITTER][,PCT%:TAIL], e.g. 500ms, 50ms~5ms or 50ms,1%:5s.
It serves until interrupted (SIGINT/SIGTERM), then drains in-flight requests.`,
		Example: `  headroom lab
  headroom lab --db 'postgres://127.0.0.1:5432/test?sslmode=disable' --antipatterns none
  headroom lab --antipatterns n_plus_one,sync_logging --otlp http://127.0.0.1:4318
  headroom lab --edge --edge-origin-rtt 80ms
  headroom lab --services --replicas posts=3 --hop-rtt 2ms
  headroom lab --functions --function-concurrency 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := lab.ParseAntipatterns(antipatterns)
			if err != nil {
				return cliexit.Usagef("--antipatterns: %w", err)
			}
			cfg.Antipatterns = set
			for _, l := range []struct {
				flag, val string
				dst       **deps.Latency
			}{{"--mail-latency", mailLat, &cfg.MailLatency}, {"--log-latency", logLat, &cfg.LogLatency}, {"--payment-latency", payLat, &cfg.PaymentLatency}} {
				v, err := deps.ParseLatency(l.val)
				if err != nil {
					return cliexit.Usagef("%s: %w", l.flag, err)
				}
				*l.dst = &v
			}
			if cfg.LogLevel, err = telemetry.ParseLevel(logLevel); err != nil {
				return cliexit.Usagef("--log-level: %w", err)
			}
			if cfg.OTLP != "" && !strings.HasPrefix(cfg.OTLP, "http://") && !strings.HasPrefix(cfg.OTLP, "https://") {
				return cliexit.Usagef("--otlp %q: want an OTLP/HTTP URL such as http://127.0.0.1:4318", cfg.OTLP)
			}
			cfg.Seed = seed.Config{Users: seedUsers, PostsPerUser: seedPosts, CommentsPerPost: seedComments, Seed: seedSeed}
			if seedUsers <= 0 || seedPosts < 0 || seedComments < 0 {
				return cliexit.Usagef("--seed-users must be at least 1 and the per-user/per-post counts at least 0")
			}
			if err := app.CheckQueue(cfg.Queue); err != nil {
				return cliexit.Usagef("--queue: %w", err)
			}
			if err := app.CheckDBLatency(*dbLatency); err != nil {
				return cliexit.Usagef("--db-latency: %w", err)
			}
			cfg.DBLatency = dbLatency
			if cfg.Edge, err = edgeOpts.config(); err != nil {
				return err
			}
			if cfg.Role, cfg.Services, err = svcOpts.config(cmd.Flags()); err != nil {
				return err
			}
			if cfg.Functions, err = fnOpts.config(cmd.Flags()); err != nil {
				return err
			}
			if cfg.TokenAlg, err = identity.ParseAlg(tokenAlg); err != nil {
				return cliexit.Usagef("--token-alg: %w", err)
			}
			cfg.Log = cmd.ErrOrStderr()
			err = app.Run(cmd.Context(), cfg, func(info app.Info) { printBanner(cmd.OutOrStdout(), info) })
			if errors.Is(err, app.ErrInvalidConfig) || errors.Is(err, edge.ErrConfig) {
				return cliexit.Usagef("%w", renameEdgeErr(err))
			}
			if err != nil {
				return cliexit.RunFailed(fmt.Errorf("lab: %w", err))
			}
			fmt.Fprintln(cmd.OutOrStdout(), "headroom lab: stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", app.AddrDefault, "listen address (127.0.0.1:0 picks a free port); off loopback, admin and debug endpoints answer loopback clients or --admin-token only")
	f.StringVar(&cfg.AdminToken, "admin-token", "", "token that admits clients from any address to the admin and debug endpoints (Authorization: Bearer TOKEN)")
	f.StringVar(&cfg.DB, "db", "", "database: sqlite:FILE or postgres://... (default: SQLite file in a new temporary directory)")
	f.IntVar(&cfg.DBMaxConns, "db-max-conns", 0, "database connection pool size (default: 8 for SQLite, max(4, CPUs) for PostgreSQL)")
	f.StringVar(&cfg.PostgresSchema, "pg-schema", "", "PostgreSQL schema to use, created if missing (default: the server's search_path)")
	dbLatency = dbLatencyFlag(f)
	f.StringVar(&antipatterns, "antipatterns", "none", "antipatterns to enable: all, none, or a comma-separated list of "+valid)
	f.StringVar(&cfg.OTLP, "otlp", "", "export traces over OTLP/HTTP to this URL, e.g. http://127.0.0.1:4318")
	f.StringVar(&cfg.Cache, "cache", "memory", "feed cache: memory (in process) or redis://host:port/db")
	f.DurationVar(&cfg.CacheTTL, "cache-ttl", app.CacheTTLDefault, "how long the feed stays cached")
	f.IntVar(&seedUsers, "seed-users", 200, "users to seed (an already seeded database is kept as is)")
	f.IntVar(&seedPosts, "seed-posts-per-user", 5, "posts per seeded user")
	f.IntVar(&seedComments, "seed-comments-per-post", 5, "average comments per seeded post")
	f.Uint64Var(&seedSeed, "seed", 1, "random seed of the seeded data")
	f.StringVar(&cfg.SMTPAddr, "smtp", "", "external SMTP server host:port (default: start one in process)")
	f.StringVar(&cfg.LogCollectorURL, "log-collector", "", "external log collector URL (default: start one in process)")
	f.StringVar(&cfg.PaymentURL, "payment-url", "", "external payment provider URL (default: start one in process)")
	f.StringVar(&mailLat, "mail-latency", app.MailLatencyDefault, "latency of the embedded mail server per message")
	f.StringVar(&logLat, "log-latency", app.LogLatencyDefault, "latency of the embedded log collector per request")
	f.StringVar(&payLat, "payment-latency", app.PaymentLatencyDefault, "latency of the embedded payment provider per charge")
	f.IntVar(&cfg.VideoPasses, "video-passes", api.VideoPassesDefault, "CPU cost of POST /api/videos: hashing passes over the video's bytes")
	f.StringVar(&logLevel, "log-level", "info", "log level of the JSON logs on stderr: debug, info (access log), warn, error")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", app.ShutdownTimeoutDefault, "how long to drain in-flight requests on shutdown")
	f.StringVar(&cfg.KeysFile, "edge-keys", "", "`FILE` holding the keys of the session tokens and the edge identity header, created (0600) if missing, to share them with an edge in another process (default: new keys in memory)")
	f.StringVar(&tokenAlg, "token-alg", string(api.TokenAlgDefault), "algorithm of the session tokens POST /api/login issues: EdDSA or HS256 (both are accepted)")
	f.DurationVar(&cfg.SessionTTL, "session-ttl", api.SessionTTLDefault, "how long a login (session and token) lasts")
	f.StringVar(&cfg.Queue, "queue", "nats", "job queue: "+app.QueueForms)
	f.StringVar(&cfg.QueuePrefix, "queue-prefix", "headroom", "namespace of the queue's streams or keys on a shared broker")
	f.StringVar(&cfg.QueueDir, "queue-dir", "", "embedded JetStream storage directory (default: a temporary directory removed on exit)")
	f.BoolVar(&cfg.ExternalWorkers, "external-workers", false, "run no workers in process: jobs wait for `headroom lab worker` processes")
	jobsFlags(f, &cfg.Jobs)
	edgeOpts = addEdgeFlags(f, true)
	svcOpts = addServicesFlags(f)
	fnOpts = addFunctionsFlags(f)
	complete.Flags(cmd, complete.Prefixes(slices.Concat([]string{app.QueueEmbedded}, app.QueueSchemes)...), "queue")
	cmd.AddCommand(newLabWorkerCmd(), newLabJobsCmd(), newLabEdgeCmd(), newLabFunctionCmd())
	return cmd
}

// dbLatencyFlag defines --db-latency, shared by lab and lab worker.
func dbLatencyFlag(f *pflag.FlagSet) *time.Duration {
	return f.Duration("db-latency", app.DBLatencyDefault, "round trip added to every database call, as to a database elsewhere in the same cloud region "+
		"(PostgreSQL: a TCP link, half each way; SQLite: emulated, a wait per statement); 0 for none")
}

// jobsFlags are the workers' tuning flags, shared by lab and lab worker.
func jobsFlags(f *pflag.FlagSet, c *app.JobsConfig) {
	f.StringVar(&c.MediaDir, "media-dir", "", "where the video pipeline writes thumbnails, encodings and subtitles (default: a temporary directory)")
	f.IntVar(&c.DeleteChunk, "delete-chunk", tasks.DeleteChunkDefault, "rows one account-deletion transaction removes")
	f.IntVar(&c.MaxAttempts, "job-max-attempts", worker.MaxAttemptsDefault, "runs of a failing job before the dead-letter queue")
	f.DurationVar(&c.BackoffMin, "job-backoff", worker.BackoffMinDefault, "first retry's maximum delay (doubles per attempt, full jitter)")
	f.DurationVar(&c.AckWait, "job-ack-wait", worker.AckWaitDefault, "how long a dead worker's job waits before another worker gets it")
}

func printBanner(w io.Writer, info app.Info) {
	seeded := "seeded now"
	if !info.Seeded {
		seeded = "existing data, not reseeded"
	}
	traces := "made but not exported (use --otlp URL)"
	if info.OTLP != "" {
		traces = "exported over OTLP/HTTP to " + info.OTLP
	}
	fmt.Fprintf(w, "headroom lab listening on %s\n", info.URL)
	fmt.Fprintf(w, "  database       %s\n", info.DB)
	fmt.Fprintf(w, "  data           %d users, %d posts, %d comments (%s)\n", info.Data.Users, info.Data.Posts, info.Data.Comments, seeded)
	fmt.Fprintf(w, "  antipatterns   %s  (valid: %s; flip with PUT %s/admin/antipatterns)\n", info.Antipatterns, lab.ValidAntipatternNames(), info.URL)
	fmt.Fprintf(w, "  cache          %s\n", info.Cache)
	fmt.Fprintf(w, "  mail (SMTP)    %s\n", info.SMTP)
	fmt.Fprintf(w, "  log collector  %s\n", info.LogCollector)
	fmt.Fprintf(w, "  payments       %s\n", info.Payments)
	fmt.Fprintf(w, "  queue          %s\n", info.Queue)
	fmt.Fprintf(w, "  workers        %s\n", info.Workers)
	fmt.Fprintf(w, "  sessions       %s; keys %s\n", info.Sessions, info.Keys)
	fmt.Fprintf(w, "  traces         %s\n", traces)
	fmt.Fprintf(w, "  metrics        %s\n", info.Metrics)
	fmt.Fprintf(w, "  pprof          %s\n", info.Pprof)
	fmt.Fprintf(w, "  fgprof         %s\n", info.Fgprof)
	for _, l := range info.EdgeLines() {
		fmt.Fprintf(w, "  %s\n", l)
	}
	for _, fn := range info.Functions {
		fmt.Fprintf(w, "  %-14s %s/fn/%s/  (%s runtime: %s)\n", "fn "+fn.Name, info.URL, fn.Name, fn.Runtime, fn.What)
	}
	for _, sv := range info.Services {
		fmt.Fprintf(w, "  %-14s %s  (%s)\n", sv.Role, strings.Join(sv.Replicas, " "), sv.DB)
	}
	fmt.Fprintf(w, "  endpoints\n")
	for _, e := range info.Endpoints {
		method, path, _ := strings.Cut(e, " ")
		if ex, ok := endpointExamples[e]; ok {
			path = ex
		}
		fmt.Fprintf(w, "    %-6s %s%s\n", method, info.URL, path)
	}
}
