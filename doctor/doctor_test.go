package doctor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headroom/headroom/doctor"
	"github.com/headroom/headroom/internal/browsertest"
	"github.com/headroom/headroom/internal/jaegertest"
	"github.com/headroom/headroom/jaegersrc"
	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/loadgen"
	"github.com/headroom/headroom/result"
)

// TestLabBeforeAndAfter runs doctor on the lab (this test binary plays headroom-lab): every
// measurement written, and the anti-patterns measurably slower than their fixes.
func TestLabBeforeAndAfter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var lines []string
	rep := runDoctor(t, doctor.Config{
		Endpoints: []string{"GET /api/posts?limit=20", "GET /api/feed"},
		Rate:      20, Duration: time.Second, Warmup: 300 * time.Millisecond, OutDir: dir,
	}, func(s string) { lines = append(lines, s) })
	if rep.Lab == nil || rep.Lab.Users == 0 || !strings.Contains(rep.Lab.Antipatterns, "n_plus_one") {
		t.Fatalf("lab not described: %+v", rep.Lab)
	}
	if len(rep.Measurements) != 4 {
		t.Fatalf("%d measurements, want 4:\n%s", len(rep.Measurements), strings.Join(lines, "\n"))
	}
	byKey := map[string]result.Measurement{}
	for _, m := range rep.Measurements {
		byKey[m.Endpoint+"|"+string(m.Condition)] = m
		if _, err := os.Stat(filepath.Join(dir, m.File)); err != nil {
			t.Errorf("load result %s: %v", m.File, err)
		}
		if m.Errors != 0 {
			t.Errorf("%s %s: %d errors", m.Endpoint, m.Condition, m.Errors)
		}
	}
	for _, e := range []string{"GET /api/posts?limit=20", "GET /api/feed"} {
		on, off := byKey[e+"|antipatterns on"], byKey[e+"|antipatterns off"]
		// Synchronous logging alone adds the log collector's 500 ms to every request.
		if on.LatencyMS.P50 < 400 || off.LatencyMS.P50 > 100 {
			t.Errorf("%s: p50 %.1f ms with anti-patterns, %.1f ms without: want ≥ 400 and ≤ 100", e, on.LatencyMS.P50, off.LatencyMS.P50)
		}
	}
	// The steady run's traces, collected in process, show the N+1 on /api/posts and the
	// synchronous log call (on at least one endpoint: under -race on a busy machine the queries
	// can outgrow the log call's share on the other); the slowest request is laid out with its
	// critical path.
	kinds := map[string]bool{}
	for _, f := range rep.Findings {
		kinds[string(f.Kind)+" "+f.Endpoint] = true
		kinds[string(f.Kind)] = true
	}
	for _, want := range []string{"n_plus_one_db GET /api/posts", "sync_remote_call"} {
		if !kinds[want] {
			t.Errorf("no finding %q in %v", want, kinds)
		}
	}
	if rep.Exemplar == nil || len(rep.Exemplar.Spans) < 2 || !rep.Exemplar.Spans[0].Critical {
		t.Errorf("exemplar trace %+v: want a root on the critical path and its children", rep.Exemplar)
	}
	if len(rep.Breakdown) != 2 {
		t.Errorf("%d endpoint breakdowns, want 2", len(rep.Breakdown))
	}
	checkInBrowser(t, filepath.Join(dir, "report.html"), "doctor-lab-report.png")
	var back result.Doctor
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil || back.Schema != result.DoctorSchema || len(back.Measurements) != 4 {
		t.Errorf("report.json: %v, schema %q, %d measurements", err, back.Schema, len(back.Measurements))
	}
}

func TestOutsideURL(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()
	rep := runDoctor(t, doctor.Config{
		URL: srv.URL, Endpoints: []string{"/a", `POST /b {"x":1}`},
		Rate: 20, Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond, TraceWait: 100 * time.Millisecond, OutDir: t.TempDir(),
	}, func(string) {})
	if rep.Lab != nil || len(rep.Measurements) != 2 || rep.Measurements[0].Condition != "as is" || rep.Measurements[1].Requests != 10 {
		t.Errorf("report %+v", rep)
	}
}

// checkInBrowser opens a report doctor wrote in headless Chromium, when there is one: no
// request leaves the page, nothing logs an error, every chart and SVG drew. It saves a
// screenshot as an artifact.
func checkInBrowser(t *testing.T, page, shot string) {
	t.Helper()
	bin, err := browsertest.Find()
	if errors.Is(err, browsertest.ErrNoBrowser) {
		t.Log("the browser check of report.html is skipped: ", err)
		return
	}
	got, err := browsertest.Open(t.Context(), bin, t.TempDir(), page)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Requests) > 0 || len(got.Problems) > 0 || len(got.Undrawn) > 0 || got.Charts == 0 {
		t.Errorf("report.html in a browser: requests %v, problems %v, undrawn %v, %d charts", got.Requests, got.Problems, got.Undrawn, got.Charts)
	}
	out, err := browsertest.ArtifactDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, shot), got.Screenshot, 0o644); err != nil { //nolint:gosec // an artifact for people to open
		t.Fatal(err)
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestSweepThenSteady sweeps an outside service per endpoint, runs each at its recommended rate,
// and writes the report; report.json's shape (every key path and its JSON type) matches the
// golden file, so a renamed or dropped key fails here.
// TestOutsideServiceWithTraces measures a service doctor did not start — the lab, exporting its
// spans over OTLP/HTTP to the address doctor was told to listen on, as any service would be
// configured — and diagnoses its traces: the N+1 and the synchronous log call.
func TestOutsideServiceWithTraces(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	otlp := ln.Addr().String()
	ln.Close()
	all, err := lab.ParseAntipatterns("n_plus_one,sync_logging")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(t.Context(), app.Config{Addr: "127.0.0.1:0", Antipatterns: all, Log: io.Discard, OTLP: "http://" + otlp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	rep := runDoctor(t, doctor.Config{
		URL: a.Info().URL, Endpoints: []string{"/api/posts?limit=20"}, OTLP: otlp, NoProfiles: true,
		// The lab's exporter sends a batch every 5 s: wait for the last one.
		TraceWait: 6 * time.Second,
		Rate:      5, Duration: 2 * time.Second, Warmup: 300 * time.Millisecond, OutDir: t.TempDir(),
	}, func(string) {})
	if rep.OTLP != "http://"+otlp {
		t.Errorf("OTLP endpoint %q, want http://%s", rep.OTLP, otlp)
	}
	kinds := map[string]bool{}
	for _, f := range rep.Findings {
		kinds[string(f.Kind)] = true
	}
	if !kinds["n_plus_one_db"] || !kinds["sync_remote_call"] {
		t.Errorf("findings %v, want n_plus_one_db and sync_remote_call from the service's traces", kinds)
	}
}

func TestSweepThenSteady(t *testing.T) {
	t.Parallel()
	// /metrics counts a tenth of a CPU second per scrape: utilization is known for every step.
	var scrapes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			fmt.Fprintf(w, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.1f\n", 0.1*float64(scrapes.Add(1)))
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	// Observe sees every run (each endpoint of the concurrent ones, each sweep step) to its end.
	var mu sync.Mutex
	observed := map[string]bool{} // "phase target", set once the run's final progress came
	observe := func(phase string, c loadgen.Config) func(loadgen.Progress) {
		k := phase + " " + c.Targets[0].URL
		if strings.HasPrefix(phase, "sweep step") {
			k = "sweep step " + c.Targets[0].URL
		}
		return func(p loadgen.Progress) {
			if p.Final {
				mu.Lock()
				observed[k] = true
				mu.Unlock()
			}
		}
	}
	rep := runDoctor(t, doctor.Config{
		Observe: observe,
		Metrics: srv.URL + "/metrics", Cores: 2,
		URL: srv.URL, Endpoints: []string{"/a", "/b"}, SLO: "p99<500ms", Start: 20, MaxSteps: 2, Step: 300 * time.Millisecond,
		Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond, TraceWait: 100 * time.Millisecond, OutDir: dir,
	}, func(string) {})
	if len(rep.Endpoints) != 2 || len(rep.Measurements) != 2 {
		t.Fatalf("%d endpoints, %d measurements: want 2 and 2", len(rep.Endpoints), len(rep.Measurements))
	}
	for i, e := range rep.Endpoints {
		if e.Sweep == nil || len(e.Sweep.Steps) == 0 {
			t.Fatalf("endpoint %s: no sweep", e.Endpoint)
		}
		for _, st := range e.Sweep.Steps {
			if st.Utilization == nil || *st.Utilization <= 0 || *st.Utilization > 1 {
				t.Errorf("%s step at %v req/s: utilization %v, want a share in (0, 1] from --metrics", e.Endpoint, st.OfferedRPS, st.Utilization)
			}
		}
		// Two endpoints at once: each at half its recommended rate.
		if want := math.Round(100*e.Sweep.RecommendedRPS/2) / 100; e.Sweep.MaxRPSUnderSLO > 0 && e.SteadyRPS != want {
			t.Errorf("%s: steady at %v req/s, want half the recommended %v", e.Endpoint, e.SteadyRPS, e.Sweep.RecommendedRPS)
		}
		// A fast handler at a constant rate: the steady run offers what the sweep recommended.
		if m := rep.Measurements[i]; math.Abs(m.OfferedRPS-e.SteadyRPS) > 0.1*e.SteadyRPS {
			t.Errorf("%s: offered %v req/s, want about %v", e.Endpoint, m.OfferedRPS, e.SteadyRPS)
		}
	}
	mu.Lock()
	for _, ph := range []string{"warm-up", "sweep step", string(result.ConditionAsIs)} {
		for _, e := range []string{"/a", "/b"} {
			if !observed[ph+" "+srv.URL+e] {
				t.Errorf("Observe saw no complete %s run of %s (saw %v)", ph, e, observed)
			}
		}
	}
	mu.Unlock()
	for _, f := range []string{"report.json", "report.html", "sweep-1.json", "sweep-2.json", "load-1-as-is.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	shape(v, "", paths)
	var lines []string
	for p := range paths {
		lines = append(lines, p)
	}
	slices.Sort(lines)
	got := []byte(strings.Join(lines, "\n") + "\n")
	golden := filepath.Join("testdata", "report-shape.txt")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil { //nolint:gosec // a golden file
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report.json's shape changed (go test -update to accept):\n--- got\n%s\n--- want\n%s", got, want)
	}
}

// shape records every key path of v with its JSON type; array elements share the path "[]".
// Data-dependent parts are cut at their own path: the sweep (headroom.sweep/v1 has its own
// contract, and which model fits depends on the numbers), the elements of string lists (notes
// appear only when there is something to say) and the verdicts of invalid measurements (a busy
// machine makes some).
func shape(v any, path string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		out[path+" object"] = true
		if strings.HasSuffix(path, ".sweep") {
			return
		}
		for k, e := range x {
			if k != "invalid_reasons" {
				shape(e, path+"."+k, out)
			}
		}
	case []any:
		out[path+" array"] = true
		if path == ".invalid_measurements" {
			return
		}
		for _, e := range x {
			shape(e, path+"[]", out)
		}
	case string:
		if !strings.HasSuffix(path, "[]") {
			out[path+" string"] = true
		}
	case float64:
		out[path+" number"] = true
	case bool:
		out[path+" bool"] = true
	case nil:
		out[path+" null"] = true
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg     doctor.Config
		mention string
	}{
		{doctor.Config{URL: "http://127.0.0.1:1"}, "Endpoints empty: no endpoints"},
		{doctor.Config{URL: "nope", Endpoints: []string{"/a"}}, `"nope"`},
		{doctor.Config{URL: "http://127.0.0.1:1", Endpoints: []string{"api/a"}}, `"api/a"`},
		{doctor.Config{URL: "http://127.0.0.1:1", Endpoints: []string{"POST /a {bad"}}, "not JSON"},
		{doctor.Config{Rate: -1}, "Rate -1"},
		{doctor.Config{SLO: "p99<fast"}, "SLO"},
		{doctor.Config{Antipatterns: "bogus"}, `Antipatterns unknown antipattern "bogus"`},
		{doctor.Config{MaxSteps: -1}, "MaxSteps -1"},
		{doctor.Config{MaxProfileBytes: -1}, "MaxProfileBytes -1"},
		{doctor.Config{URL: "http://127.0.0.1:1", Endpoints: []string{"/a"}, Edge: true}, "Edge with the URL http://127.0.0.1:1"},
		{doctor.Config{URL: "http://127.0.0.1:1", Endpoints: []string{"/a"}, Headers: map[string]string{"Bad Name": "x"}}, `Headers header name "Bad Name": want a token`},
		{doctor.Config{URL: "http://127.0.0.1:1", Endpoints: []string{"/a"}, Headers: map[string]string{"A": "x\ny"}}, "control characters"},
		{doctor.Config{Jaeger: jaegersrc.Config{URL: "http://127.0.0.1:16686", Service: "a"}}, "Jaeger.URL \"http://127.0.0.1:16686\" with the lab"},
		{doctor.Config{URL: "http://127.0.0.1:1", Endpoints: []string{"/a"}, Jaeger: jaegersrc.Config{URL: "http://127.0.0.1:16686"}}, "Jaeger.Service is empty"},
		{doctor.Config{URL: "http://127.0.0.1:1", Endpoints: []string{"/a"}, Jaeger: jaegersrc.Config{URL: "ftp://x", Service: "a"}}, `Jaeger.URL "ftp://x"`},
	} {
		// A bad Config fails Run before anything starts.
		rep, err := doctor.Run(t.Context(), tc.cfg, func(string) {})
		if rep != nil || !errors.Is(err, doctor.ErrConfig) || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("Run(%+v) = %v, %v: want ErrConfig mentioning %s", tc.cfg, rep, err, tc.mention)
		}
	}
}

// TestOutsideServiceInJaeger measures a service that exports its spans to a real Jaeger, not to
// doctor: with Config.Jaeger doctor starts no receiver and diagnoses the steady run's traces it
// reads from Jaeger's query API.
func TestOutsideServiceInJaeger(t *testing.T) {
	t.Parallel()
	otlp, query := jaegertest.Start(t)
	all, err := lab.ParseAntipatterns("n_plus_one,sync_logging")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(t.Context(), app.Config{Addr: "127.0.0.1:0", Antipatterns: all, Log: io.Discard, OTLP: otlp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	var lines []string
	rep := runDoctor(t, doctor.Config{
		URL: a.Info().URL, Endpoints: []string{"/api/posts?limit=20"}, NoProfiles: true,
		Jaeger: jaegersrc.Config{URL: query, Service: "headroom-lab"},
		// The lab's exporter sends a batch every 5 s: wait for the last one.
		TraceWait: 6 * time.Second,
		Rate:      5, Duration: 2 * time.Second, Warmup: 300 * time.Millisecond, OutDir: t.TempDir(),
	}, func(s string) { lines = append(lines, s) })
	if rep.OTLP != "" || rep.TracesAnalyzed == 0 || rep.NoTraces != "" || rep.Exemplar == nil {
		t.Fatalf("otlp %q, %d traces analyzed, no_traces %q, waterfall %v: want no receiver, and Jaeger's traces diagnosed\n%s",
			rep.OTLP, rep.TracesAnalyzed, rep.NoTraces, rep.Exemplar != nil, strings.Join(lines, "\n"))
	}
	kinds := map[string]bool{}
	for _, f := range rep.Findings {
		kinds[string(f.Kind)] = true
	}
	if !kinds["n_plus_one_db"] || !kinds["sync_remote_call"] {
		t.Errorf("findings %v, want n_plus_one_db and sync_remote_call from the traces in Jaeger", kinds)
	}
}
