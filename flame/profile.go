package flame

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Kind says which clock a profile samples.
type Kind string

const (
	// CPU is the on-CPU profile of net/http/pprof (/debug/pprof/profile): where CPU time goes.
	CPU Kind = "cpu"
	// Wall is the wall-clock profile of fgprof (/debug/fgprof): on-CPU and off-CPU (I/O, locks,
	// sleeps) time together, so it shows what a CPU profile misses.
	Wall Kind = "wall"
)

// Title is the kind's name as a graph's title says it.
func (k Kind) Title() string {
	if k == Wall {
		return "Wall clock (on- and off-CPU)"
	}
	return "CPU"
}

// ErrNoEndpoint is returned (wrapped) by Fetch when the target does not serve the profile
// endpoint: a 404, or an answer that is not a profile.
var ErrNoEndpoint = errors.New("no profile endpoint")

// MaxBytesDefault is the default of [FetchConfig.MaxBytes]: profiles of real services are a
// few MB, gzipped or not, so 128 MiB leaves room while a decompression bomb stops there.
const MaxBytesDefault = 128 << 20

// ErrTooLarge is wrapped by the error of [Fetch], [ParseLimit] and [ReadFile] when a profile is
// larger than the limit, as read or once inflated.
var ErrTooLarge = errors.New("profile too large")

// tooLarge says which limit a profile exceeded and how to raise it: both commands that read
// profiles (headroom profile and doctor) take --max-profile-bytes.
func tooLarge(what string, limit int64) error {
	size := fmt.Sprintf("%d bytes", limit)
	if limit%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB (%d bytes)", limit>>20, limit)
	}
	return fmt.Errorf("%w: %s more than %s, the limit: raise it with --max-profile-bytes", ErrTooLarge, what, size)
}

// FetchConfig says how to fetch profiles from a target. The zero value is not valid: Duration
// must be at least one second.
type FetchConfig struct {
	// Duration is how long the target samples; whole seconds (the endpoints take ?seconds=N).
	Duration time.Duration
	// CPUPath is the CPU profile path; default CPUPathDefault ("/debug/pprof/profile").
	CPUPath string
	// WallPath is the wall-clock profile path; default WallPathDefault ("/debug/fgprof").
	WallPath string
	// Client sends the requests; default a client with no overall timeout (the context and
	// Duration + 30 s bound each fetch).
	Client *http.Client
	// MaxBytes bounds what a target's profile may cost: the bytes read from it, and the bytes
	// its gzip inflates to. Beyond it the fetch fails with [ErrTooLarge]. Default
	// MaxBytesDefault (128 MiB).
	MaxBytes int64
}

// Defaults of FetchConfig, which empty fields stand for.
const (
	CPUPathDefault  = "/debug/pprof/profile"
	WallPathDefault = "/debug/fgprof"
)

func (c FetchConfig) withDefaults() FetchConfig {
	if c.CPUPath == "" {
		c.CPUPath = CPUPathDefault
	}
	if c.WallPath == "" {
		c.WallPath = WallPathDefault
	}
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = MaxBytesDefault
	}
	return c
}

// ProfileURL returns the URL that serves a profile of kind for the target: the scheme and host
// of target (its path is ignored, so an endpoint URL such as http://host/api/posts works) with
// the kind's path and ?seconds=N.
func (c FetchConfig) ProfileURL(target string, kind Kind) (string, error) {
	c = c.withDefaults()
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("target %q: want an http:// or https:// URL with a host", target)
	}
	secs := int(c.Duration / time.Second)
	if secs < 1 || c.Duration%time.Second != 0 {
		return "", fmt.Errorf("duration %v: want whole seconds, at least 1s", c.Duration)
	}
	var path string
	switch kind {
	case CPU:
		path = c.CPUPath
	case Wall:
		path = c.WallPath
	default:
		return "", fmt.Errorf("profile kind %q: want %q or %q", kind, CPU, Wall)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: path, RawQuery: "seconds=" + strconv.Itoa(secs)}).String(), nil
}

// Fetch asks the target for a profile of kind over Duration and returns it with its raw bytes
// (gzipped pprof, as served: the bytes to save). It blocks for about Duration; ctx bounds it. A
// target without the endpoint gives an error wrapping ErrNoEndpoint.
func Fetch(ctx context.Context, cfg FetchConfig, target string, kind Kind) (*Profile, []byte, error) {
	cfg = cfg.withDefaults()
	u, err := cfg.ProfileURL(target, kind)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s profile: %w", kind, err)
	}
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s profile: %w", kind, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, cfg.MaxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s profile from %s: %w", kind, u, err)
	}
	if int64(len(body)) > cfg.MaxBytes {
		return nil, nil, fmt.Errorf("%s profile from %s: %w", kind, u, tooLarge("answered", cfg.MaxBytes))
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil, fmt.Errorf("%s profile: %s answered 404: %w (serve net/http/pprof for cpu, fgprof for wall)", kind, u, ErrNoEndpoint)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s profile: %s answered %s: %s", kind, u, resp.Status, firstLine(body))
	}
	p, err := ParseLimit(body, cfg.MaxBytes)
	if errors.Is(err, ErrTooLarge) {
		return nil, nil, fmt.Errorf("%s profile from %s: %w", kind, u, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s profile from %s: %w: %w", kind, u, ErrNoEndpoint, err)
	}
	return p, body, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.TrimSpace(s)
}

// Profile is a parsed pprof profile.
type Profile struct {
	p *profile.Profile
}

// Parse is [ParseLimit] with the limit MaxBytesDefault.
func Parse(b []byte) (*Profile, error) { return ParseLimit(b, MaxBytesDefault) }

// ReadFile reads and parses the profile saved at path, reading at most maxBytes of it and
// inflating it to at most maxBytes (MaxBytesDefault when maxBytes ≤ 0); beyond, the error
// wraps [ErrTooLarge].
func ReadFile(path string, maxBytes int64) (*Profile, error) {
	if maxBytes <= 0 {
		maxBytes = MaxBytesDefault
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > maxBytes {
		return nil, fmt.Errorf("%s: %w", path, tooLarge("holds", maxBytes))
	}
	p, err := ParseLimit(b, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// ParseLimit reads a profile in pprof's protocol buffer format, gzipped or not. Anything else
// (empty input, HTML, truncated data) is an error saying so. Input longer than maxBytes, or
// whose gzip inflates beyond maxBytes, is an error wrapping [ErrTooLarge]: the inflating stops
// there, so a decompression bomb costs maxBytes of memory, not what it would inflate to.
// maxBytes ≤ 0 means MaxBytesDefault.
func ParseLimit(b []byte, maxBytes int64) (*Profile, error) {
	if maxBytes <= 0 {
		maxBytes = MaxBytesDefault
	}
	if len(b) == 0 {
		return nil, errors.New("not a pprof profile: empty input")
	}
	if int64(len(b)) > maxBytes {
		return nil, tooLarge("holds", maxBytes)
	}
	// pprof's ParseData would inflate gzip without a bound: inflate here, bounded, and hand
	// it the protocol buffer.
	if bytes.HasPrefix(b, gzipMagic) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("not a pprof profile: %w", err)
		}
		raw, err := io.ReadAll(io.LimitReader(zr, maxBytes+1))
		if err != nil {
			return nil, fmt.Errorf("not a pprof profile: %w", err)
		}
		if int64(len(raw)) > maxBytes {
			return nil, tooLarge("inflates to", maxBytes)
		}
		if bytes.HasPrefix(raw, gzipMagic) {
			// ParseData would inflate the inner stream, unbounded; no profiler nests gzip.
			return nil, errors.New("not a pprof profile: gzip inside gzip")
		}
		b = raw
	}
	// ParseData falls back to pprof's legacy text formats, which are not what either endpoint
	// serves; only gzip or protocol buffer input is accepted so an HTML error page is rejected
	// with a clear message.
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("<")) {
		return nil, fmt.Errorf("not a pprof profile: got HTML or XML (%q)", firstLine(b))
	}
	p, err := profile.ParseData(b)
	if err != nil {
		return nil, fmt.Errorf("not a pprof profile: %w", err)
	}
	if len(p.SampleType) == 0 {
		return nil, errors.New("not a pprof profile: no sample types")
	}
	if err := p.CheckValid(); err != nil {
		return nil, fmt.Errorf("invalid pprof profile: %w", err)
	}
	return &Profile{p: p}, nil
}

// Write writes the profile gzipped, in pprof's format.
func (p *Profile) Write(w io.Writer) error { return p.p.Write(w) }

// Unit is the unit of the profile's default value (e.g. "nanoseconds", "count").
func (p *Profile) Unit() string { return p.sampleType().Unit }

// Duration is how long the profile sampled; 0 when the profile does not say.
func (p *Profile) Duration() time.Duration { return time.Duration(p.p.DurationNanos) }

// sampleIndex is the value folded: the profile's default sample type, else the last one
// (cpu/nanoseconds for net/http/pprof, time/nanoseconds for fgprof), as pprof itself chooses.
func (p *Profile) sampleIndex() int {
	if p.p.DefaultSampleType != "" {
		for i, st := range p.p.SampleType {
			if st.Type == p.p.DefaultSampleType {
				return i
			}
		}
	}
	return len(p.p.SampleType) - 1
}

func (p *Profile) sampleType() *profile.ValueType { return p.p.SampleType[p.sampleIndex()] }

// LabelValues returns the values of the string label key found on the samples, sorted; for
// per-endpoint flame graphs key is the route label (e.g. "http.route").
func (p *Profile) LabelValues(key string) []string {
	seen := map[string]bool{}
	var vs []string
	for _, s := range p.p.Sample {
		for _, v := range s.Label[key] {
			if !seen[v] {
				seen[v] = true
				vs = append(vs, v)
			}
		}
	}
	slices.Sort(vs)
	return vs
}
