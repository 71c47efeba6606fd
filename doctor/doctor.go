// Package doctor runs headroom's loop in one command, against a URL or against the lab started
// in process. Today it measures each endpoint under open-model load and, on the lab, repeats each
// measurement with the lab's anti-patterns switched off, so the cost of every classic mistake is
// a measured difference. The sweep, traces, diagnosis and profiles join it as they are built.
//
// doctor is, with cmd/headroom, the only package that touches both halves: the measurement
// packages and the lab. It reaches the lab over the wire, like any target.
package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// Config says what doctor measures. Validate fills the defaults.
type Config struct {
	// URL is the target's base URL. Empty: start the lab in process (SQLite, embedded services)
	// with every anti-pattern on.
	URL string
	// Endpoints are requests relative to URL, as "PATH" or "METHOD PATH [JSON-BODY]".
	// Default for the lab: LabEndpoints; required with a URL.
	Endpoints []string
	// Rate is the open-model arrival rate of every measurement, in requests per second. Default 50.
	Rate float64
	// Duration is each measurement's measured length; Warmup comes before it. Defaults 10s and
	// 2s, or 3s and 1s when Quick.
	Duration, Warmup time.Duration
	Quick            bool
	// Connections per measurement. Default 64.
	Connections int
	// OutDir receives report.json and one load result per measurement. Default ./headroom-report.
	OutDir string
}

// LabEndpoints are the lab requests doctor measures by default: the N+1 query, the unindexed
// search, the uncached feed (all slowed further by synchronous logging), and the checkout behind
// a heavy-tailed payment provider, where the average hides the P99.
var LabEndpoints = []string{
	"GET /api/posts?limit=20",
	"GET /api/search?q=" + seed.RareWord,
	"GET /api/feed",
	`POST /api/checkout {"user_id":1,"amount_cents":1999}`,
}

// Validate fills defaults and checks c.
func (c *Config) Validate() error {
	if c.Rate == 0 {
		c.Rate = 50
	}
	if c.Rate < 0 {
		return fmt.Errorf("rate %v: want a positive number of requests per second", c.Rate)
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
		if c.Quick {
			c.Duration = 3 * time.Second
		}
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
		if c.Quick {
			c.Warmup = time.Second
		}
	}
	if c.Connections == 0 {
		c.Connections = 64
	}
	if c.OutDir == "" {
		c.OutDir = "headroom-report"
	}
	if c.URL != "" {
		if _, err := loadgen.ValidateURL(c.URL); err != nil {
			return err
		}
		if len(c.Endpoints) == 0 {
			return errors.New("no endpoints: give the paths to measure, such as --endpoints /api/a,/api/b")
		}
	} else if len(c.Endpoints) == 0 {
		c.Endpoints = LabEndpoints
	}
	for _, e := range c.Endpoints {
		if _, err := parseEndpoint("http://127.0.0.1", e); err != nil {
			return err
		}
	}
	return nil
}

// parseEndpoint turns "METHOD PATH [BODY]" or "PATH" into a target on base.
func parseEndpoint(base, e string) (loadgen.Target, error) {
	t := loadgen.Target{Method: http.MethodGet}
	fields := strings.SplitN(strings.TrimSpace(e), " ", 3)
	path := fields[0]
	if len(fields) > 1 {
		t.Method, path = strings.ToUpper(fields[0]), fields[1]
	}
	if len(fields) == 3 {
		t.Body = fields[2]
		if !json.Valid([]byte(t.Body)) {
			return t, fmt.Errorf("endpoint %q: body %q is not JSON", e, t.Body)
		}
	}
	if !strings.HasPrefix(path, "/") {
		return t, fmt.Errorf("endpoint %q: want a path starting with /, optionally after a method, such as /api/posts or \"POST /api/x {}\"", e)
	}
	t.URL = strings.TrimRight(base, "/") + path
	return t, nil
}

// Run measures what cfg describes, writes the report and the load results into cfg.OutDir, and
// returns the report. progress receives a line per step.
func Run(ctx context.Context, cfg Config, progress func(string)) (*result.Doctor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	rep := &result.Doctor{Schema: result.DoctorSchema, Target: cfg.URL}
	conditions := []string{"as is"}
	if cfg.URL == "" {
		a, err := startLab(ctx)
		if err != nil {
			return nil, err
		}
		defer func() { _ = a.Shutdown(context.WithoutCancel(ctx)) }()
		info := a.Info()
		rep.Target = info.URL
		rep.Lab = &result.DoctorLab{URL: info.URL, DB: info.DB, Antipatterns: info.Antipatterns, Users: info.Data.Users, Posts: info.Data.Posts}
		conditions = []string{"antipatterns on", "antipatterns off"}
		progress(fmt.Sprintf("lab started at %s (%s; %d users, %d posts; switches: %s)", info.URL, info.DB, info.Data.Users, info.Data.Posts, info.Antipatterns))
	}
	for _, cond := range conditions {
		if cond == "antipatterns off" {
			if err := setAntipatterns(ctx, rep.Target, "none"); err != nil {
				return rep, err
			}
		}
		for i, e := range cfg.Endpoints {
			m, err := measure(ctx, cfg, rep.Target, e, cond, i)
			if err != nil {
				return rep, err
			}
			progress(fmt.Sprintf("%-30s %-17s p50 %8.2f ms  p99 %8.2f ms  %6.1f req/s  errors %d",
				report.EndpointLabel(e), cond, m.LatencyMS.P50, m.LatencyMS.P99, m.AchievedRPS, m.Errors))
			rep.Measurements = append(rep.Measurements, m)
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
		}
	}
	return rep, writeJSON(filepath.Join(cfg.OutDir, "report.json"), rep)
}

// startLab starts the lab on a free loopback port with every anti-pattern on, on a SQLite file
// in a temporary directory that shutdown removes.
func startLab(ctx context.Context) (*app.App, error) {
	all, err := lab.ParseAntipatterns("all")
	if err != nil {
		return nil, err
	}
	a, err := app.Start(ctx, app.Config{
		Addr: "127.0.0.1:0", Antipatterns: all, Log: io.Discard,
	})
	if err != nil {
		return nil, fmt.Errorf("start the lab: %w", err)
	}
	return a, nil
}

func measure(ctx context.Context, cfg Config, base, endpoint, cond string, i int) (result.Measurement, error) {
	t, err := parseEndpoint(base, endpoint)
	if err != nil {
		return result.Measurement{}, err
	}
	l, err := loadgen.Run(ctx, loadgen.Config{
		Targets: []loadgen.Target{t}, Arrival: loadgen.Arrival{Rate: cfg.Rate},
		Duration: cfg.Duration, Warmup: cfg.Warmup, Connections: cfg.Connections,
	}, nil)
	if err != nil {
		return result.Measurement{}, err
	}
	file := fmt.Sprintf("load-%d-%s.json", i+1, strings.ReplaceAll(cond, " ", "-"))
	if err := writeJSON(filepath.Join(cfg.OutDir, file), l); err != nil {
		return result.Measurement{}, err
	}
	return result.Measurement{
		Endpoint: endpoint, Condition: cond, File: file, OfferedRPS: l.OfferedRPS, AchievedRPS: l.AchievedRPS,
		Requests: l.Requests, Errors: l.Errors, LatencyMS: l.LatencyMS, Valid: l.Verdict.Valid,
	}, nil
}

// setAntipatterns flips the lab's switches over its admin API, as an experimenter would.
func setAntipatterns(ctx context.Context, base, list string) error {
	body := fmt.Sprintf(`{"antipatterns":%q}`, list)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/admin/antipatterns", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("switch the lab's anti-patterns: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("switch the lab's anti-patterns: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// writeJSON writes v to path whole or not at all.
func writeJSON(path string, v any) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}
