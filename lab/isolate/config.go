package isolate

import (
	"crypto/ed25519"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/headroom/headroom/internal/fielderr"
)

// CacheDirOff as Config.CacheDir keeps compiled modules in memory only.
const CacheDirOff = "off"

// pageSize is WebAssembly's memory page, the unit of wazero's memory limit.
const pageSize = 64 << 10

// Config configures a Runtime. The zero value of each field means its default (the …Default
// constants); New fills them in one place and then validates the whole struct.
type Config struct {
	// MemoryLimit caps one instance's linear memory, in bytes, a multiple of 64 KiB (wazero's
	// WithMemoryLimitPages). A guest that grows past it fails its call with ErrMemoryLimit and
	// is discarded. Default MemoryLimitDefault (128 MiB = 2048 pages: Cloudflare Workers' and
	// Fastly Compute's per-isolate memory).
	MemoryLimit int64
	// CPULimit is the guest time one call may take; past it the guest is stopped (wazero's
	// WithCloseOnContextDone) and the call fails with ErrCPULimit. Measured as wall time of the
	// call minus the time spent waiting in host fetches: a call runs on one goroutine, so this
	// is the CPU time it was given, plus any time the Go scheduler kept it waiting (a loaded
	// node stops guests a little early, never late). Default CPULimitDefault (50 ms, Fastly
	// Compute's per-request CPU limit: the lab's functions take microseconds, and Workers' free
	// 10 ms would stop a cold Go runtime's first garbage collection on a loaded 2-core machine).
	CPULimit time.Duration
	// StartLimit bounds an instance's start (instantiation and _initialize: the Go runtime's and
	// the packages' init). Default StartLimitDefault (1 s).
	StartLimit time.Duration
	// NodeBudget is the memory the node gives its isolates: at most NodeBudget / MemoryLimit
	// instances exist at once, idle or busy, across all functions (each may grow to
	// MemoryLimit). Default NodeBudgetDefault (1 GiB, the notes' edge node: 8 instances at the
	// default MemoryLimit).
	NodeBudget int64
	// BusyWait is how long a call waits for an instance when the budget allows no new one
	// (after evicting idle instances of other functions) before failing with ErrBusy.
	// Default BusyWaitDefault (10 ms).
	BusyWait time.Duration
	// CacheDir holds compiled modules across restarts (wazero's NewCompilationCacheWithDir);
	// CacheDirOff keeps them in memory only. Default: headroom/wazero under os.UserCacheDir().
	CacheDir string

	// FetchOrigins are the base URLs (scheme://host[:port][/path]) the host fetch may reach; a
	// URL outside all of them is an error the guest sees. None: every fetch fails.
	FetchOrigins []string
	// FetchTransport sends host fetches (nil: http.DefaultTransport). The lab passes its
	// emulated edge → origin link here.
	FetchTransport http.RoundTripper
	// FetchTimeout bounds one host fetch, answer body included. Default FetchTimeoutDefault (10 s).
	FetchTimeout time.Duration
	// MaxBodyBytes bounds a body crossing the ABI: the response body passed in PhaseResponse
	// (Call fails with ErrBodyTooLarge past it: the node passes headers only then), a body in a
	// decision, a fetch's request or answer body. Default MaxBodyBytesDefault (1 MiB).
	MaxBodyBytes int

	// JWT holds the keys of the host call jwt_verify.
	JWT JWTConfig
	// Vars are the variables bound to each function, by function name (the name given to
	// Load), read by the guest with var_get.
	Vars map[string]map[string]string

	// Logger receives the guests' log lines and their stderr (Go panics). Nil: discarded.
	Logger *slog.Logger
	// Now is the clock of the host call now and of token expiry; default time.Now.
	Now func() time.Time
}

// JWTConfig holds the keys jwt_verify checks tokens with. An algorithm without a key is
// rejected, as is every algorithm but EdDSA and HS256 (alg none included).
type JWTConfig struct {
	// EdDSA is the Ed25519 public key of EdDSA tokens.
	EdDSA ed25519.PublicKey
	// HS256 is the HMAC-SHA256 secret of HS256 tokens.
	HS256 []byte
	// Issuer, when set, is the iss every token must carry.
	Issuer string
}

// Defaults of Config, which zero fields stand for.
const (
	MemoryLimitDefault  = 128 << 20
	CPULimitDefault     = 50 * time.Millisecond
	StartLimitDefault   = time.Second
	NodeBudgetDefault   = 1 << 30
	BusyWaitDefault     = 10 * time.Millisecond
	FetchTimeoutDefault = 10 * time.Second
	MaxBodyBytesDefault = 1 << 20
)

// ErrConfig is wrapped by every error New returns for a bad Config; an error about one field
// is a *fielderr.Error naming it.
var ErrConfig = errors.New("bad isolate config")

// withDefaults returns cfg with the defaults of its zero fields filled in; it checks nothing
// but the user cache directory it may need.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = MemoryLimitDefault
	}
	if cfg.CPULimit == 0 {
		cfg.CPULimit = CPULimitDefault
	}
	if cfg.StartLimit == 0 {
		cfg.StartLimit = StartLimitDefault
	}
	if cfg.NodeBudget == 0 {
		cfg.NodeBudget = NodeBudgetDefault
	}
	if cfg.BusyWait == 0 {
		cfg.BusyWait = BusyWaitDefault
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = FetchTimeoutDefault
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = MaxBodyBytesDefault
	}
	if cfg.FetchTransport == nil {
		cfg.FetchTransport = http.DefaultTransport
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return cfg, fielderr.New(ErrConfig, "CacheDir", "unset and no user cache directory (%v): set one, or %q", err, CacheDirOff)
		}
		cfg.CacheDir = filepath.Join(dir, "headroom", "wazero")
	}
	return cfg, nil
}

// validate returns every problem of cfg (defaults already applied), each naming its field.
func (cfg Config) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fielderr.New(ErrConfig, field, format, args...))
	}
	if cfg.MemoryLimit < pageSize || cfg.MemoryLimit%pageSize != 0 || cfg.MemoryLimit > 4<<30 {
		bad("MemoryLimit", "%d: want a multiple of 64 KiB from 64 KiB to 4 GiB", cfg.MemoryLimit)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"CPULimit", cfg.CPULimit}, {"StartLimit", cfg.StartLimit}, {"BusyWait", cfg.BusyWait}, {"FetchTimeout", cfg.FetchTimeout}} {
		if d.v < 0 {
			bad(d.field, "%v: want a positive duration", d.v)
		}
	}
	if cfg.NodeBudget < cfg.MemoryLimit {
		bad("NodeBudget", "%d: want at least MemoryLimit (%d), room for one instance", cfg.NodeBudget, cfg.MemoryLimit)
	}
	if cfg.MaxBodyBytes < 0 {
		bad("MaxBodyBytes", "%d: want at least 1", cfg.MaxBodyBytes)
	}
	for i, o := range cfg.FetchOrigins {
		if _, err := parseOrigin(o); err != nil {
			bad("FetchOrigins", "[%d] %q: %v", i, o, err)
		}
	}
	if k := cfg.JWT.EdDSA; k != nil && len(k) != ed25519.PublicKeySize {
		bad("JWT.EdDSA", "%d bytes: want an Ed25519 public key of %d", len(k), ed25519.PublicKeySize)
	}
	return errors.Join(errs...)
}

// parseOrigin checks an allowed fetch origin: an absolute http(s) URL without query or fragment.
func parseOrigin(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, errors.New("want http(s)://host[:port][/path] without user, query or fragment")
	}
	return u, nil
}
