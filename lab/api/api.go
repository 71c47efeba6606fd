package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sync/singleflight"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/identity"
	"github.com/headroom/headroom/lab/web"
)

// Store is the part of [lab.Store] the API uses, by concern.
type Store interface {
	PostStore
	OrderStore
	InviteStore
	VideoStore
	AccountStore
	SessionStore
	// Ping checks that the database answers (/readyz).
	Ping(ctx context.Context) error
	// PoolStats reports the connection pool, for the lab_db_pool_* metrics.
	PoolStats() lab.PoolStats
}

// PostStore reads the blog: posts, their authors and comments, search and the feed.
type PostStore interface {
	GetUser(ctx context.Context, id int64) (lab.User, error)
	GetUsers(ctx context.Context, ids []int64) ([]lab.User, error)
	GetPost(ctx context.Context, id int64) (lab.Post, error)
	ListPosts(ctx context.Context, limit int) ([]lab.Post, error)
	SearchPosts(ctx context.Context, q string, limit int, mode lab.SearchMode) ([]lab.Post, error)
	Feed(ctx context.Context, limit int) ([]lab.FeedItem, error)
	ListComments(ctx context.Context, postID int64, limit int) ([]lab.Comment, error)
	PostsByAuthor(ctx context.Context, authorID int64, limit int) ([]lab.Post, error)
}

// OrderStore records checkouts and finds those a crash interrupted.
type OrderStore interface {
	CreateOrder(ctx context.Context, userID, amountCents int64) (lab.Order, error)
	SettleOrder(ctx context.Context, id int64, status, paymentRef string) (lab.Order, error)
	PendingOrders(ctx context.Context, createdBefore time.Time, limit int) ([]lab.Order, error)
	OrdersByUser(ctx context.Context, userID int64, limit int) ([]lab.Order, error)
}

// InviteStore records invitations.
type InviteStore interface {
	CreateInvite(ctx context.Context, inviterID int64, email, token string, jobs ...lab.Job) (lab.Invite, error)
	MarkInviteSent(ctx context.Context, id int64, at time.Time) error
	InvitesByInviter(ctx context.Context, inviterID int64, limit int) ([]lab.Invite, error)
}

// VideoStore records uploads and, under sync_video, their processing.
type VideoStore interface {
	CreateVideo(ctx context.Context, ownerID int64, title string, sizeBytes int64, jobs ...lab.Job) (lab.Video, error)
	GetVideo(ctx context.Context, id int64) (lab.Video, error)
	FinishVideo(ctx context.Context, id int64, checksum string) (lab.Video, error)
}

// AccountStore changes and deletes accounts: renames (with the event that feeds the copies of
// users), deletions at once (sync_delete) or queued.
type AccountStore interface {
	RenameUser(ctx context.Context, id int64, name string, jobs ...lab.UserJob) (lab.User, error)
	DeleteUser(ctx context.Context, id int64) (lab.Deleted, error)
	CreateDeletion(ctx context.Context, userID int64, jobs ...lab.Job) (lab.Deletion, error)
	GetDeletion(ctx context.Context, id int64) (lab.Deletion, error)
	CancelDeletion(ctx context.Context, id int64) (lab.Deletion, error)
}

// Cache stores encoded responses for a time to live chosen by the implementation.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, val []byte) error
}

// Mailer sends one email.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// Payments charges an order and returns the provider's reference.
type Payments interface {
	Charge(ctx context.Context, orderID, amountCents int64) (ref string, err error)
}

// PaymentsFunc adapts a function to [Payments].
type PaymentsFunc func(ctx context.Context, orderID, amountCents int64) (string, error)

// Charge calls f.
func (f PaymentsFunc) Charge(ctx context.Context, orderID, amountCents int64) (string, error) {
	return f(ctx, orderID, amountCents)
}

// ErrDeclined is what a [Payments] implementation wraps when the provider refuses a charge; the
// API answers 402 instead of 502.
var ErrDeclined = errors.New("payment declined")

// LogShipper sends access log lines to the remote log collector.
type LogShipper interface {
	// ShipSync sends one line and waits for the collector.
	ShipSync(ctx context.Context, line []byte) error
	// Enqueue queues a line for background shipping without blocking; false means it was dropped.
	Enqueue(line []byte) bool
}

// Outbox is the relay of the transactional outbox, told when a request committed jobs.
type Outbox interface {
	// Kick asks the relay to publish now rather than at its next poll; it never blocks.
	Kick()
}

// The defaults of [Config]'s fields.
const (
	MaxBodyBytesDefault  = 1 << 20
	MaxVideoBytesDefault = 64 << 20
	VideoPassesDefault   = 16
	SessionTTLDefault    = time.Hour
	TokenAlgDefault      = identity.AlgEdDSA
)

// Config configures [New]. Only Store is required.
type Config struct {
	// Store is the database. Required.
	Store Store
	// Switches are the antipatterns, read on every request. Default: none enabled.
	Switches *lab.Switches
	// Cache holds the feed when no_cache is off. Default nil: only singleflight protects the
	// database (concurrent misses share one query, sequential ones each query).
	Cache Cache
	// Mailer sends invitation emails. Default nil: POST /api/invites answers 503.
	Mailer Mailer
	// Outbox, when set, makes invites, videos and account deletions asynchronous (unless their
	// sync_email, sync_video or sync_delete switch is on): the request commits its row with the
	// job in the outbox, kicks the relay and answers 202. Default nil: they run inside the request.
	Outbox Outbox
	// Payments charges checkouts. Default nil: POST /api/checkout answers 503.
	Payments Payments
	// Logs ships access log lines. Default nil: lines are only written to Logger.
	Logs LogShipper
	// Logger receives the access log and errors. Default: discard.
	Logger *slog.Logger
	// TracerProvider makes the server spans. Default: no spans.
	TracerProvider trace.TracerProvider
	// Propagator extracts the incoming trace context. Default: W3C trace context and baggage.
	Propagator propagation.TextMapPropagator
	// Registerer receives the API's metrics. Default: a private registry (metrics not exported).
	Registerer prometheus.Registerer
	// MaxBodyBytes bounds request bodies; larger ones get 413. Default [MaxBodyBytesDefault] (1 MiB).
	MaxBodyBytes int64
	// MaxVideoBytes bounds size_bytes of POST /api/videos. Default [MaxVideoBytesDefault] (64 MiB).
	MaxVideoBytes int64
	// VideoPasses is how many times processing hashes a video's bytes (about 0.75 ms per MiB and pass
	// on this machine's cores). Default [VideoPassesDefault].
	VideoPasses int
	// AdminAllowed decides whether a client (its RemoteAddr) may use the admin and debug
	// endpoints (see [API.AdminOnly]). Default: loopback only.
	AdminAllowed func(remoteAddr string) bool
	// Keys sign and verify session tokens and the Headroom-Edge-Identity header; an edge in
	// front of this API needs the same ones (the public half of Ed25519 and the HS256 secret to
	// verify tokens, the identity key to vouch). Default: fresh random keys no other process has.
	Keys *identity.Keys
	// TokenAlg is the algorithm of the tokens POST /api/login issues (both are always accepted).
	// Default [TokenAlgDefault] (EdDSA).
	TokenAlg identity.Alg
	// SessionTTL is how long a login lasts (the session's and its token's expiry). Default
	// [SessionTTLDefault] (1h).
	SessionTTL time.Duration
	// Assets are the static files and the localized page, served under /static/ and /page/.
	// Default: web.New's.
	Assets *web.Site
	// InternalOnly serves no public route (/api/, /static/, /page/): a service of the services
	// mode, which adds its internal routes with [API.HandleInternal]. The probes and the admin
	// routes remain. Default false.
	InternalOnly bool
	// NoSite serves no static site (/static/, /page/): the API as a function, whose static
	// files a CDN or an object store would serve; it also spares the function's cold start the
	// site's images, rendered when the site is made (~70 ms). Default false.
	NoSite bool
	// AdminToken, when set, also admits a client from any address that sends the header
	// "Authorization: Bearer AdminToken". Default "": no token admits anyone.
	AdminToken string
}

func (c *Config) validate() error {
	if c.Store == nil {
		return errors.New("api: nil Store")
	}
	if c.Switches == nil {
		c.Switches = lab.NewSwitches(nil)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TracerProvider == nil {
		c.TracerProvider = noop.NewTracerProvider()
	}
	if c.Propagator == nil {
		c.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = MaxBodyBytesDefault
	}
	if c.MaxVideoBytes == 0 {
		c.MaxVideoBytes = MaxVideoBytesDefault
	}
	if c.VideoPasses == 0 {
		c.VideoPasses = VideoPassesDefault
	}
	if c.AdminAllowed == nil {
		c.AdminAllowed = IsLoopback
	}
	if c.Assets == nil && !c.NoSite {
		site, err := web.New()
		if err != nil {
			return err
		}
		c.Assets = site
	}
	if c.Keys == nil {
		k := identity.NewKeys()
		c.Keys = &k
	}
	if c.TokenAlg == "" {
		c.TokenAlg = TokenAlgDefault
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = SessionTTLDefault
	}
	if err := c.Keys.Validate(); err != nil {
		return fmt.Errorf("api: Keys: %w", err)
	}
	if _, err := identity.ParseAlg(string(c.TokenAlg)); err != nil {
		return fmt.Errorf("api: TokenAlg: %w", err)
	}
	if c.SessionTTL < time.Second {
		return fmt.Errorf("api: SessionTTL %v: want at least 1s", c.SessionTTL)
	}
	if c.MaxBodyBytes < 0 || c.MaxVideoBytes < 0 || c.VideoPasses < 0 {
		return fmt.Errorf("api: MaxBodyBytes %d, MaxVideoBytes %d and VideoPasses %d must be positive",
			c.MaxBodyBytes, c.MaxVideoBytes, c.VideoPasses)
	}
	return nil
}

// IsLoopback reports whether remoteAddr (host:port or host) is a loopback IP.
func IsLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// API serves the lab's HTTP API. It is safe for concurrent use.
type API struct {
	cfg     Config
	mux     *http.ServeMux
	tracer  trace.Tracer
	metrics *metrics
	sf      singleflight.Group
	ready   atomic.Bool
	routes  []string
	keys    identity.Keys
}

// New builds the API and registers its metrics on cfg.Registerer.
func New(cfg Config) (*API, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, mux: http.NewServeMux(), tracer: cfg.TracerProvider.Tracer("github.com/headroom/headroom/lab/api"), keys: *cfg.Keys}
	m, err := newMetrics(cfg.Registerer, cfg.Store, cfg.Logs)
	if err != nil {
		return nil, err
	}
	a.metrics = m
	a.ready.Store(true)

	if !cfg.InternalOnly {
		a.handle("GET /api/posts", a.listPosts)
		a.handle("GET /api/posts/{id}", a.getPost)
		a.handle("GET /api/search", a.search)
		a.handle("GET /api/feed", a.feed)
		a.handle("POST /api/checkout", a.checkout)
		a.handle("POST /api/invites", a.invite)
		a.handle("POST /api/videos", a.uploadVideo)
		a.handle("GET /api/videos/{id}", a.getVideo)
		a.handle("PATCH /api/account", a.renameAccount)
		a.handle("DELETE /api/account", a.deleteAccount)
		a.handle("GET /api/account/deletions/{id}", a.getDeletion)
		a.handle("DELETE /api/account/deletions/{id}", a.cancelDeletion)
		a.handle("POST /api/login", a.login)
		a.handle("DELETE /api/login", a.logout)
		a.handle("GET /api/me", a.me)
		a.handle("GET /api/users/{id}/summary", a.summary)
		if !cfg.NoSite {
			a.handle("GET /static/{path...}", a.static)
			a.handle("GET /page/home", a.home)
		}
	}
	a.handle("GET /admin/antipatterns", a.AdminOnly(http.HandlerFunc(a.getAntipatterns)).ServeHTTP)
	a.handle("PUT /admin/antipatterns", a.AdminOnly(http.HandlerFunc(a.putAntipatterns)).ServeHTTP)
	// The probes bypass the instrumentation: no span, metric or access log line per probe.
	for pattern, h := range map[string]http.HandlerFunc{"GET /healthz": healthz, "GET /readyz": a.readyz} {
		a.routes = append(a.routes, pattern)
		a.mux.HandleFunc(pattern, h)
	}
	return a, nil
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Routes returns the patterns of every route it serves, e.g. "GET /api/posts", in no particular
// order.
func (a *API) Routes() []string { return append([]string(nil), a.routes...) }

// SetReady sets what /readyz reports; the server clears it when it starts draining.
func (a *API) SetReady(ready bool) { a.ready.Store(ready) }

// ServeHTTP dispatches to the routes; unknown paths and methods get a JSON 404 or 405.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := a.mux.Handler(r); pattern == "" {
		// The mux's own 404/405 answer is plain text: keep its status and Allow header, answer JSON.
		rec := &statusOnly{header: http.Header{}}
		a.mux.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		code := rec.code
		if code == 0 {
			code = http.StatusNotFound
		}
		writeError(w, code, "%s %s: %s", r.Method, r.URL.Path, http.StatusText(code))
		return
	}
	a.mux.ServeHTTP(w, r)
}

// statusOnly records a status and headers and discards the body.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.code = code }

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if !a.ready.Load() {
		writeError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.cfg.Store.Ping(ctx); err != nil {
		a.cfg.Logger.WarnContext(ctx, "not ready", slog.Any("error", err))
		writeError(w, http.StatusServiceUnavailable, "database unreachable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// AdminOnly wraps h, an admin or debug endpoint (switches, lab state, dead-letter payloads,
// profiles), so that it answers only clients that AdminAllowed admits (loopback by default) or
// that send the AdminToken; others get 403. The lab may listen on a public address, and these
// endpoints change its behaviour or show its data.
func (a *API) AdminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.cfg.AdminAllowed(r.RemoteAddr) && !a.hasAdminToken(r) {
			msg := "admin and debug endpoints answer loopback clients only"
			if a.cfg.AdminToken != "" {
				msg += ", or requests with the lab's admin token (Authorization: Bearer TOKEN)"
			}
			writeError(w, http.StatusForbidden, "%s", msg)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (a *API) hasAdminToken(r *http.Request) bool {
	if a.cfg.AdminToken == "" {
		return false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(a.cfg.AdminToken)) == 1
}
