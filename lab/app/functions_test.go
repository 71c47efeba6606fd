package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/faas"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/lab/store/postgres/pgtest"
)

// startFunctions starts a lab with the function platform (the lab binary in its function role),
// a small seed and its spans recorded; cfg gives Functions and whatever else the test needs.
func startFunctions(t *testing.T, cfg app.Config) (*app.App, *tracetest.SpanRecorder) {
	t.Helper()
	bin, err := labBinary()
	if err != nil {
		t.Fatal(err)
	}
	fc := *cfg.Functions
	fc.Command = bin
	if cfg.DB == "" {
		cfg.DB = "sqlite:" + filepath.Join(t.TempDir(), "lab.db")
	}
	spans := tracetest.NewSpanRecorder()
	var logs bytes.Buffer
	cfg.Addr, cfg.Functions = "127.0.0.1:0", &fc
	cfg.Seed = seed.Config{Users: 10, PostsPerUser: 2, CommentsPerPost: 2}
	cfg.MailLatency, cfg.LogLatency, cfg.PaymentLatency = fast(), fast(), fast()
	cfg.SpanProcessors = []sdktrace.SpanProcessor{spans}
	cfg.Log, cfg.LogLevel = &syncBuffer{b: &logs, mu: make(chan struct{}, 1)}, -4
	a, err := app.Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("lab logs:\n%s", logs.String())
		}
	})
	return a, spans
}

// TestAPIFunctionServesTheAPI: /fn/api/… answers what the API answers, the first invocation
// cold and the next warm, with the invocation's span carrying the FaaS conventions and the cold
// start's phases; the function refuses the admin routes (its requests have no loopback client).
func TestAPIFunctionServesTheAPI(t *testing.T) {
	t.Parallel()
	a, spans := startFunctions(t, app.Config{Functions: &app.FunctionsConfig{Concurrency: 2}})
	base := a.Info().URL
	if len(a.Info().Functions) != 3 || a.Info().Functions[0].Name != app.FunctionAPI {
		t.Fatalf("Info().Functions = %+v, want the api function", a.Info().Functions)
	}
	direct := exchange(t, "GET", base+"/api/posts/1", "")
	for i, wantCold := range []string{"true", "false"} {
		resp, err := http.Get(base + "/fn/api/api/posts/1")
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || body.String() != direct.body {
			t.Fatalf("invocation %d: %d %.200s, want 200 and the API's own answer %.200s", i, resp.StatusCode, body.String(), direct.body)
		}
		if got := resp.Header.Get("Faas-Coldstart"); got != wantCold {
			t.Errorf("invocation %d: Faas-Coldstart %q, want %q", i, got, wantCold)
		}
	}
	if got := exchange(t, "GET", base+"/fn/api/admin/antipatterns", ""); got.code != http.StatusForbidden && got.code != http.StatusNotFound {
		t.Errorf("admin route through the function: %d %s, want 403 or 404", got.code, got.body)
	}
	if got := exchange(t, "GET", base+"/fn/api/static/manifest.json", ""); got.code != http.StatusNotFound {
		t.Errorf("the static site through the function: %d, want 404 (a CDN serves it; api.Config.NoSite)", got.code)
	}
	if got := exchange(t, "GET", base+"/fn/nope/", ""); got.code != http.StatusNotFound || !strings.Contains(got.body, `"function":"nope"`) {
		t.Errorf("unknown function: %d %s, want 404 naming it", got.code, got.body)
	}
	var cold, phases int
	for _, s := range spans.Ended() {
		if s.Name() == app.FunctionAPI {
			for _, kv := range s.Attributes() {
				if string(kv.Key) == "faas.coldstart" && kv.Value.AsBool() {
					cold++
				}
			}
		}
		if s.Name() == "faas.start" || s.Name() == "faas.init" {
			phases++
		}
	}
	if cold != 1 || phases != 2 {
		t.Errorf("%d cold invocation spans and %d phase spans, want 1 and 2 (faas.start, faas.init)", cold, phases)
	}
}

// TestFunctionInstancesHoldTheirConnections is the notes' statelessness problem, measured: each
// instance opens its own pool at init and holds it while it lives, so the database sees
// instances × pool connections.
func TestFunctionInstancesHoldTheirConnections(t *testing.T) {
	t.Parallel()
	url, schema := pgtest.Schema(t)
	const instances, conns = 3, 2
	a, _ := startFunctions(t, app.Config{DB: url, PostgresSchema: schema, Functions: &app.FunctionsConfig{Concurrency: instances, DBConns: conns}})
	base := a.Info().URL
	// Concurrent first invocations each find no idle instance: one cold start each.
	var wg sync.WaitGroup
	for range instances {
		wg.Go(func() {
			if got := exchange(t, "GET", base+"/fn/api/api/posts/1", ""); got.code != 200 {
				t.Errorf("invocation: %d %s", got.code, got.body)
			}
		})
	}
	wg.Wait()
	live := liveInstances(t, base)
	if live < 1 || live > instances {
		t.Fatalf("%d instances live, want 1 to %d", live, instances)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// The pools fill in the background: wait for them, up to 10 s.
	var held int
	for range 100 {
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'headroom-fn-api'`).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held == live*conns {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%d connections held by the api function's %d instances, want %d (%d each)", held, live, live*conns, conns)
}

// liveInstances reads the api function's idle and busy instances from the lab's metrics.
func liveInstances(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, `headroom_faas_instances{function="api"`) {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			n += int(v)
		}
	}
	return n
}

// TestThumbnailJobsInvokeTheFunction: with functions, the video pipeline's thumbnail is the
// thumbnail function's work, invoked by the job (faas.trigger=pubsub), in either runtime, and the
// pipeline completes as without.
func TestThumbnailJobsInvokeTheFunction(t *testing.T) {
	t.Parallel()
	for _, rt := range []string{faas.RuntimeProcess, faas.RuntimeWasm} {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			media := t.TempDir()
			a, spans := startFunctions(t, app.Config{Jobs: app.JobsConfig{MediaDir: media}, Functions: &app.FunctionsConfig{JobsRuntime: rt}})
			url := a.Info().URL
			var v lab.Video
			if code := send(t, "POST", url+"/api/videos", `{"owner_id":2,"title":"cats","size_bytes":100000}`, &v); code != http.StatusAccepted {
				t.Fatalf("POST /api/videos = %d", code)
			}
			eventually(t, "video ready", func() error {
				if code := send(t, "GET", fmt.Sprintf("%s/api/videos/%d", url, v.ID), "", &v); code != 200 || v.Status != lab.VideoReady {
					return fmt.Errorf("GET video = %d %+v", code, v)
				}
				return nil
			})
			f, err := os.Open(filepath.Join(media, fmt.Sprintf("video-%d-thumb.png", v.ID)))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if img, err := png.Decode(f); err != nil || img.Bounds().Dx() != 160 || img.Bounds().Dy() != 90 {
				t.Errorf("thumbnail: %v; want a 160x90 PNG", err)
			}
			want := map[string]string{faas.RuntimeProcess: app.FunctionThumbnail, faas.RuntimeWasm: app.FunctionThumbnailWasm}[rt]
			invoked := 0
			for _, s := range spans.Ended() {
				if s.Name() != want {
					continue
				}
				for _, kv := range s.Attributes() {
					if kv.Key == "faas.trigger" && kv.Value.AsString() == faas.TriggerPubSub {
						invoked++
					}
				}
			}
			if invoked != 1 {
				t.Errorf("%d invocations of %s triggered by the queue, want 1", invoked, want)
			}
		})
	}
}
