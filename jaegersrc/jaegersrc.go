// Package jaegersrc reads traces from a running Jaeger through its HTTP query API (the one its
// UI uses, /api/traces) into diagnose's span model: first the trace ids it is given (a load
// run's tail), by id, then a search by service, operation and time window. Every answer is read
// up to a bound and decoded strictly (Decode). It imports the standard library and diagnose's
// model only: diagnose stays pure analysis, collect stays a receiver.
package jaegersrc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/internal/fielderr"
)

// Config says where and what to read. The zero value of a field means its default (the
// …Default constants).
type Config struct {
	// URL is the Jaeger query service's base URL, as its UI is reached (http://127.0.0.1:16686);
	// a path prefix (--query.base-path) is kept. Required.
	URL string
	// Service is the service whose traces the search returns (Jaeger requires one). Required
	// unless TraceIDs are given, then empty skips the search.
	Service string
	// Operation narrows the search to one operation (span name) of Service; empty: all.
	Operation string
	// End is the end of the search window; default the time of the call.
	End time.Time
	// Lookback is the window's length before End. Default LookbackDefault (1h).
	Lookback time.Duration
	// Limit is the most traces the search returns. Default LimitDefault (1000).
	Limit int
	// TraceIDs are fetched by id before the search (the load run's slowest first); those the
	// search returns again are not read twice.
	TraceIDs []string
	// MaxBodyBytes bounds each answer read; a larger one is an error naming the bound. Default
	// MaxBodyBytesDefault (64 MiB).
	MaxBodyBytes int64
	// MaxAttrBytes truncates longer attribute values (counted). Default MaxAttrBytesDefault, as
	// diagnose's file reader.
	MaxAttrBytes int
	// Timeout bounds each request to Jaeger. Default TimeoutDefault (30s).
	Timeout time.Duration
	// Client is the HTTP client; default http.DefaultClient.
	Client *http.Client
}

// Defaults of Config.
const (
	LookbackDefault     = time.Hour
	LimitDefault        = 1000
	MaxBodyBytesDefault = 64 << 20
	MaxAttrBytesDefault = 4 << 10
	TimeoutDefault      = 30 * time.Second
)

// idsPerRequest is how many trace ids one request fetches (/api/traces?traceID=…&traceID=…):
// few enough that the URL stays far below servers' 8 KiB limits on a request line.
const idsPerRequest = 100

// ErrConfig is wrapped by Validate's errors.
var ErrConfig = errors.New("jaegersrc: bad config")

func (c Config) withDefaults() Config {
	if c.Lookback == 0 {
		c.Lookback = LookbackDefault
	}
	if c.Limit == 0 {
		c.Limit = LimitDefault
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = MaxBodyBytesDefault
	}
	if c.MaxAttrBytes == 0 {
		c.MaxAttrBytes = MaxAttrBytesDefault
	}
	if c.Timeout == 0 {
		c.Timeout = TimeoutDefault
	}
	if c.Client == nil {
		c.Client = http.DefaultClient
	}
	return c
}

// Validate reports the first bad field, naming it; zero fields are valid (their defaults).
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return fielderr.New(ErrConfig, "URL", "is empty: want the Jaeger query URL, e.g. http://127.0.0.1:16686")
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return fielderr.New(ErrConfig, "URL", "%q: want an http:// or https:// URL of the Jaeger query service", c.URL)
	case c.Service == "" && len(c.TraceIDs) == 0:
		return fielderr.New(ErrConfig, "Service", "is empty: Jaeger searches by service; name one (its UI lists them)")
	case c.Lookback < 0:
		return fielderr.New(ErrConfig, "Lookback", "%v: want a positive duration", c.Lookback)
	case c.Limit < 0:
		return fielderr.New(ErrConfig, "Limit", "%d: want at least 1 trace", c.Limit)
	case c.MaxBodyBytes < 0:
		return fielderr.New(ErrConfig, "MaxBodyBytes", "%d: want a positive number of bytes", c.MaxBodyBytes)
	case c.MaxAttrBytes < 0:
		return fielderr.New(ErrConfig, "MaxAttrBytes", "%d: want a positive number of bytes", c.MaxAttrBytes)
	case c.Timeout < 0:
		return fielderr.New(ErrConfig, "Timeout", "%v: want a positive duration", c.Timeout)
	}
	for _, id := range c.TraceIDs {
		if _, ok := normID(id, 32); !ok {
			return fielderr.New(ErrConfig, "TraceIDs", "%q: want a trace id of up to 32 hex digits, not all zeros", id)
		}
	}
	return nil
}

// Stats is what Read read.
type Stats struct {
	// ByID and Searched are the traces read by id and by the search (without those read by id).
	ByID, Searched, Spans int
	// Missing are the trace ids Jaeger did not find (not stored, or sampled out).
	Missing []string
	// Tolerated counts what decoding dropped or repaired, by reason (see Decode).
	Tolerated map[string]int
	// Errors are the errors Jaeger's answers carried beside their data.
	Errors []string
}

// Read fetches cfg.TraceIDs, then searches, and hands each trace to fn once, as it is decoded;
// it keeps none. It returns an error, with what was read until then, when Jaeger cannot be
// reached or answers with an error status or something other than its query API's JSON.
func Read(ctx context.Context, cfg Config, fn func(*diagnose.Trace)) (*Stats, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	base := strings.TrimRight(cfg.URL, "/") + "/api/traces"
	st := &Stats{Tolerated: map[string]int{}}
	done := map[string]bool{}
	take := func(d *Decoded, count *int) {
		for k, v := range d.Tolerated {
			st.Tolerated[k] += v
		}
		st.Errors = append(st.Errors, d.Errors...)
		st.Missing = append(st.Missing, d.Missing...)
		for _, t := range d.Traces {
			if done[t.ID] {
				continue
			}
			done[t.ID] = true
			*count++
			st.Spans += len(t.Spans)
			fn(t)
		}
	}
	for i := 0; i < len(cfg.TraceIDs); i += idsPerRequest {
		q := url.Values{}
		for _, id := range cfg.TraceIDs[i:min(i+idsPerRequest, len(cfg.TraceIDs))] {
			q.Add("traceID", id)
		}
		d, err := get(ctx, cfg, base+"?"+q.Encode())
		if err != nil {
			return st, err
		}
		take(d, &st.ByID)
	}
	if cfg.Service == "" {
		return st, nil
	}
	end := cfg.End
	if end.IsZero() {
		end = time.Now()
	}
	q := url.Values{"service": {cfg.Service}, "limit": {strconv.Itoa(cfg.Limit)},
		"start": {strconv.FormatInt(end.Add(-cfg.Lookback).UnixMicro(), 10)}, "end": {strconv.FormatInt(end.UnixMicro(), 10)}}
	if cfg.Operation != "" {
		q.Set("operation", cfg.Operation)
	}
	d, err := get(ctx, cfg, base+"?"+q.Encode())
	if err != nil {
		return st, err
	}
	take(d, &st.Searched)
	return st, nil
}

// get does one query and decodes its answer, bounded by cfg's limits.
func get(ctx context.Context, cfg Config, u string) (*Decoded, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error // it names the URL with its query: up to a hundred trace ids
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("jaeger: GET %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	// Ids not found are errors inside a 200 answer; any other status is a failure.
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jaeger: GET %s: %s", redact(u), resp.Status)
	}
	d, err := Decode(resp.Body, cfg.MaxBodyBytes, cfg.MaxAttrBytes)
	if err != nil {
		return nil, fmt.Errorf("jaeger: GET %s: %w", redact(u), err)
	}
	return d, nil
}

// redact drops a URL's query (up to a hundred trace ids) and user info from messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "the query URL"
	}
	p.RawQuery, p.User = "", nil
	return p.String()
}
