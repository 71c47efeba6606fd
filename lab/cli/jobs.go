package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/telemetry"
)

func newLabWorkerCmd() *cobra.Command {
	var (
		cfg       app.WorkerConfig
		logLevel  string
		dbLatency *time.Duration // --db-latency
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the lab's job workers as a separate process",
		Long: `worker runs the lab's job handlers (invite emails, the video pipeline, account deletions)
in a process of its own, on the lab's broker and database, so workers can be added, stopped or
killed independently of the API. Start the lab with --external-workers (or alongside its own
workers) and point the worker at the queue URL, database and mail server the lab prints.

On SIGINT/SIGTERM running jobs get --shutdown-timeout to finish; after that they are handed back
to the broker for another worker. A worker killed outright (kill -9) loses nothing either: its
jobs come back after --job-ack-wait.`,
		Example: `  headroom lab worker --queue nats://127.0.0.1:4222 --db sqlite:./lab.db --smtp 127.0.0.1:2525
  headroom lab worker --queue redis://127.0.0.1:6379/0 --db 'postgres://127.0.0.1:5432/test?sslmode=disable' --smtp 127.0.0.1:2525`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.LogLevel, err = telemetry.ParseLevel(logLevel); err != nil {
				return cliexit.Usagef("--log-level: %w", err)
			}
			if err := app.CheckDBLatency(*dbLatency); err != nil {
				return cliexit.Usagef("--db-latency: %w", err)
			}
			cfg.DBLatency = dbLatency
			cfg.Log = cmd.ErrOrStderr()
			out := cmd.OutOrStdout()
			err = app.RunWorker(cmd.Context(), cfg, func(info app.WorkerInfo) {
				fmt.Fprintf(out, "headroom lab worker: %s, %s\n", info.Queue, info.DB)
				fmt.Fprintf(out, "  queues  %s\n", strings.Join(info.Queues, ", "))
				fmt.Fprintf(out, "  media   %s\n", info.Media)
				if info.Metrics != "" {
					fmt.Fprintf(out, "  metrics %s\n", info.Metrics)
				}
			})
			if errors.Is(err, app.ErrInvalidConfig) {
				return cliexit.Usagef("%w", err)
			}
			if err != nil {
				return cliexit.RunFailed(fmt.Errorf("lab worker: %w", err))
			}
			fmt.Fprintln(out, "headroom lab worker: stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Queue, "queue", "", "the lab's broker: nats://host:port, redis://host:port/db or amqp://user:pass@host:port/ (required)")
	f.StringVar(&cfg.QueuePrefix, "queue-prefix", "headroom", "the lab's --queue-prefix")
	f.StringVar(&cfg.DB, "db", "", "the lab's database: sqlite:FILE or postgres://... (required)")
	f.StringVar(&cfg.PostgresSchema, "pg-schema", "", "the lab's --pg-schema")
	f.IntVar(&cfg.DBMaxConns, "db-max-conns", 0, "database connection pool size (default: the engine's)")
	dbLatency = dbLatencyFlag(f)
	f.StringVar(&cfg.SMTPAddr, "smtp", "", "mail server host:port the invite emails go to (required; the lab prints its embedded one)")
	f.StringVar(&cfg.Addr, "addr", "", "serve /metrics on this address (default: none)")
	f.StringVar(&cfg.OTLP, "otlp", "", "export the job spans over OTLP/HTTP to this URL")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long running jobs may take to finish on shutdown")
	jobsFlags(f, &cfg.Jobs)
	complete.Flags(cmd, complete.Prefixes(app.QueueSchemes...), "queue") // a worker needs the lab's broker
	return cmd
}

func newLabJobsCmd() *cobra.Command {
	var (
		labURL, adminToken string
		asJSON             bool
	)
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Show the running lab's queues: depth, in flight, done, failed, dead, oldest job age",
		Long: `jobs asks a running lab (GET /admin/jobs) for its queues: depth, in flight and dead letters as
the broker reports them, the oldest waiting job's age, and done, failed and duplicate jobs of
every worker, in the lab's process or not (each adds its counts to the lab's database every
second), plus the outbox rows not yet published and the jobs running now in the lab's process
with their progress. Where the process keeps a copy of the users fed by users.changed (the posts
service; the monolith, where every change is already there and skipped), it also shows the
changes applied and skipped and the replication lag from a change to its visibility in the copy
(p50, p99, max over the latest changes).`,
		Example: `  headroom lab jobs
  headroom lab jobs --lab http://127.0.0.1:8080 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !strings.HasPrefix(labURL, "http://") && !strings.HasPrefix(labURL, "https://") {
				return cliexit.Usagef("--lab %q: want the lab's URL, such as http://127.0.0.1:8080", labURL)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(labURL, "/")+"/admin/jobs", nil)
			if err != nil {
				return cliexit.Usagef("--lab %q: %w", labURL, err)
			}
			if adminToken != "" {
				req.Header.Set("Authorization", "Bearer "+adminToken)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return cliexit.RunFailed(fmt.Errorf("lab jobs: %w", err))
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
			if err != nil {
				return cliexit.RunFailed(fmt.Errorf("lab jobs: %w", err))
			}
			if resp.StatusCode == http.StatusNotFound {
				return cliexit.RunFailed(fmt.Errorf("lab jobs: %s answered %s: a services-mode gateway has no jobs; "+
					"give --lab the URL of one of its services (GET %s/admin/services lists them)", labURL, resp.Status, strings.TrimSuffix(labURL, "/")))
			}
			if resp.StatusCode != http.StatusOK {
				return cliexit.RunFailed(fmt.Errorf("lab jobs: %s answered %s", labURL, resp.Status))
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(body)
				return err
			}
			var v app.JobsView
			if err := json.Unmarshal(body, &v); err != nil {
				return cliexit.RunFailed(fmt.Errorf("lab jobs: %s/admin/jobs is not a headroom lab's answer: %w", labURL, err))
			}
			writeJobs(cmd.OutOrStdout(), v)
			return nil
		},
	}
	cmd.Flags().StringVar(&labURL, "lab", "http://127.0.0.1:8080", "the running lab's URL")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the lab's JSON answer as is")
	cmd.Flags().StringVar(&adminToken, "admin-token", "", "the lab's --admin-token, to ask a lab on another host (a lab answers /admin to loopback clients otherwise)")
	return cmd
}

func writeJobs(w io.Writer, v app.JobsView) {
	fmt.Fprintf(w, "queue engine %s (%s); workers %s\n", v.Engine, v.QueueURL, v.Workers)
	if v.Outbox.Error != "" {
		fmt.Fprintf(w, "outbox: %s\n", v.Outbox.Error)
	} else {
		fmt.Fprintf(w, "outbox: %d rows waiting to be published (oldest %s)\n", v.Outbox.Pending, age(v.Outbox.OldestAge))
	}
	const row = "%-16s %7s %9s %7s %7s %6s %10s %9s\n"
	fmt.Fprintf(w, row, "queue", "depth", "in flight", "done", "failed", "dead", "duplicates", "oldest")
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, q := range v.Queues {
		if q.Error != "" {
			fmt.Fprintf(w, row, q.Queue, "-", "-", n(q.Done), n(q.Failed), "-", n(q.Duplicates), "-")
			fmt.Fprintf(w, "  %s: broker: %s\n", q.Queue, q.Error)
			continue
		}
		fmt.Fprintf(w, row, q.Queue, n(q.Depth), n(q.InFlight), n(q.Done), n(q.Failed), n(q.Dead), n(q.Duplicates), age(q.OldestAge))
	}
	// The broker's limits are the same for every queue: each distinct note once.
	var notes []string
	for _, q := range v.Queues {
		if q.Note != "" && !slices.Contains(notes, q.Note) {
			notes = append(notes, q.Note)
			fmt.Fprintf(w, "note: %s\n", q.Note)
		}
	}
	if r := v.Replication; r != nil {
		fmt.Fprintf(w, "replication %s → %s: %d applied, %d skipped (already there or superseded)", r.Queue, r.Table, r.Applied, r.Skipped)
		if r.Window > 0 {
			fmt.Fprintf(w, "; lag from change to visible over the latest %d: p50 %s, p99 %s, max %s", r.Window, lag(r.P50), lag(r.P99), lag(r.Max))
		}
		fmt.Fprintln(w)
	}
	for _, r := range v.Running {
		progress := ""
		if r.Total > 0 {
			progress = fmt.Sprintf(", %d of %d (%.0f%%)", r.Done, r.Total, 100*float64(r.Done)/float64(r.Total))
		}
		fmt.Fprintf(w, "running: %s %s attempt %d for %s%s\n", r.Queue, r.ID, r.Attempt, r.Running.Round(time.Millisecond), progress)
	}
}

// lag shows a replication lag to about three significant digits, from microseconds to minutes.
func lag(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

func age(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}
