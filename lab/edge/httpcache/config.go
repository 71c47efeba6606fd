package httpcache

import (
	"errors"
	"math"
	"time"

	"github.com/headroom/headroom/internal/fielderr"
)

// Config configures a Cache. The zero value of each field means its default (the …Default
// constants); New fills them in one place and then validates the whole struct.
type Config struct {
	// Name is the cache's name in the Cache-Status header (RFC 9211). Default NameDefault
	// ("headroom-edge").
	Name string
	// MaxBytes bounds the stored responses: bodies plus header names and values plus keys, as
	// the store's weigher counts them. Least useful entries (W-TinyLFU) are evicted past it.
	// Default MaxBytesDefault (64 MiB).
	MaxBytes int64
	// MaxEntryBytes bounds the stored variants of one URI together (and so each response): a
	// larger response is streamed to its client, never buffered whole, and not stored; the oldest
	// variants of a URI are dropped to fit. Default MaxBytes/MaxEntryShareDefault (1/8 of
	// MaxBytes: 8 MiB at the default), so that one object cannot flush most of the cache.
	MaxEntryBytes int64
	// MaxVariants bounds the variants (Vary) stored per URI; the oldest is dropped past it, so a
	// header with unbounded values (raw Accept-Language strings) cannot fill the cache with one
	// URI. Default MaxVariantsDefault (16).
	MaxVariants int
	// HeuristicMax caps the heuristic freshness lifetime (RFC 9111 §4.2.2: 10 % of the time since
	// Last-Modified) of responses without explicit freshness. Default HeuristicMaxDefault (24h,
	// Apache's CacheMaxExpire).
	HeuristicMax time.Duration
	// HitForPass is how long a URI whose response could not be shared (not storable, or larger
	// than MaxEntryBytes) skips request coalescing: later misses go straight to the origin instead
	// of queueing behind one another (Varnish's hit-for-miss). Their responses are still judged,
	// and a storable one is stored and ends the mark. Default HitForPassDefault (2m, Varnish's).
	HitForPass time.Duration
	// StaleIfError is the window, past freshness, in which a stored response is served when the
	// origin fails (connection error or 5xx), for responses that carry no stale-if-error
	// directive of their own (a CDN's "serve stale on error" setting). It never applies to
	// responses with no-cache, must-revalidate, proxy-revalidate or s-maxage. Default 0: only
	// the response's own stale-if-error directive counts.
	StaleIfError time.Duration
	// FetchTimeout bounds each origin fetch the cache makes on behalf of more than one client:
	// a coalesced miss or revalidation, which does not end when its first client leaves, and a
	// background revalidation (stale-while-revalidate). Default FetchTimeoutDefault (30s).
	FetchTimeout time.Duration

	// Now is the clock; default time.Now. Tests inject their own.
	Now func() time.Time
}

// Defaults of Config, which zero fields stand for.
const (
	NameDefault           = "headroom-edge"
	MaxBytesDefault       = 64 << 20
	MaxEntryShareDefault  = 8
	MaxVariantsDefault    = 16
	HeuristicMaxDefault   = 24 * time.Hour
	HitForPassDefault     = 2 * time.Minute
	FetchTimeoutDefault   = 30 * time.Second
	heuristicFraction     = 10 // RFC 9111 §4.2.2's "10 % of the interval since Last-Modified"
	hitForPassMaxKeys     = 1 << 16
	entryOverheadBytes    = 256 // the entry's fixed fields, counted by the weigher besides its bytes
	maxWeight             = math.MaxUint32
	minMaxBytesForEntries = 4 << 10
)

// ErrConfig is wrapped by every error New returns for a bad Config; an error about one field is
// a *fielderr.Error naming it.
var ErrConfig = errors.New("bad httpcache config")

// withDefaults returns cfg with the defaults of its zero fields filled in; it checks nothing.
func (cfg Config) withDefaults() Config {
	if cfg.Name == "" {
		cfg.Name = NameDefault
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = MaxBytesDefault
	}
	if cfg.MaxEntryBytes == 0 {
		cfg.MaxEntryBytes = cfg.MaxBytes / MaxEntryShareDefault
	}
	if cfg.MaxVariants == 0 {
		cfg.MaxVariants = MaxVariantsDefault
	}
	if cfg.HeuristicMax == 0 {
		cfg.HeuristicMax = HeuristicMaxDefault
	}
	if cfg.HitForPass == 0 {
		cfg.HitForPass = HitForPassDefault
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = FetchTimeoutDefault
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// validate checks a Config whose defaults are filled in; it changes nothing.
func (cfg *Config) validate() error {
	bad := func(field, format string, args ...any) error { return fielderr.New(ErrConfig, field, format, args...) }
	if !validToken(cfg.Name) {
		return bad("Name", "%q: want an RFC 9110 token such as %q", cfg.Name, NameDefault)
	}
	if cfg.MaxBytes < minMaxBytesForEntries {
		return bad("MaxBytes", "%d: want at least %d", cfg.MaxBytes, minMaxBytesForEntries)
	}
	if cfg.MaxEntryBytes < 0 || cfg.MaxEntryBytes > cfg.MaxBytes || cfg.MaxEntryBytes > maxWeight {
		return bad("MaxEntryBytes", "%d: want 1 to MaxBytes (%d) and at most %d", cfg.MaxEntryBytes, cfg.MaxBytes, int64(maxWeight))
	}
	if cfg.MaxVariants < 0 {
		return bad("MaxVariants", "%d: want a positive number (0 means the default %d)", cfg.MaxVariants, MaxVariantsDefault)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"HeuristicMax", cfg.HeuristicMax}, {"HitForPass", cfg.HitForPass}, {"StaleIfError", cfg.StaleIfError}, {"FetchTimeout", cfg.FetchTimeout}} {
		if d.v < 0 {
			return bad(d.field, "%s: want a positive duration (0 means the default)", d.v)
		}
	}
	return nil
}

// validToken reports whether s is an RFC 9110 token, as a Cache-Status cache name must be to go
// unquoted.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
