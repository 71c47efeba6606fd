package doctor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/headroom/headroom/doctor"
	"github.com/headroom/headroom/result"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestTracesOverGRPCWithoutDoctorsProbes measures a service that exports its spans as most SDKs
// do by default, over OTLP/gRPC, and that traces every request it serves, doctor's own profile
// fetches (404 here, as on a service without pprof) among them, under the route-less span name
// "GET" (otelhttp adds the route it matched, "/"). The service's endpoint is diagnosed; doctor's probes are not an endpoint.
func TestTracesOverGRPCWithoutDoctorsProbes(t *testing.T) {
	t.Parallel()
	grpcAddr := freeAddr(t)
	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(200*time.Millisecond)))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	traced := func(h http.Handler, name string) http.Handler {
		return otelhttp.NewHandler(h, name, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagation.TraceContext{}))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/items", traced(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, span := tp.Tracer("t").Start(r.Context(), "SELECT items")
		span.End()
	}), "GET /api/items"))
	mux.Handle("/", traced(http.NotFoundHandler(), "GET"))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var lines []string
	dir := t.TempDir()
	rep := runDoctor(t, doctor.Config{
		URL: srv.URL, Endpoints: []string{"/api/items"}, OTLP: freeAddr(t), OTLPGRPC: grpcAddr,
		Rate: 20, Duration: 2 * time.Second, Warmup: 200 * time.Millisecond, TraceWait: time.Second, OutDir: dir,
	}, func(s string) { lines = append(lines, s) })
	out := strings.Join(lines, "\n")
	for _, want := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + grpcAddr + " OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "with traces and CPU and wall-clock profiles"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	if rep.OTLPGRPC != "http://"+grpcAddr || rep.TracesAnalyzed == 0 || rep.NoTraces != "" {
		t.Fatalf("otlp_grpc %q, %d traces analyzed, no_traces %q: want the gRPC export diagnosed\n%s", rep.OTLPGRPC, rep.TracesAnalyzed, rep.NoTraces, out)
	}
	var endpoints []string
	for _, b := range rep.Breakdown {
		endpoints = append(endpoints, b.Endpoint)
	}
	if !slices.Equal(endpoints, []string{"GET /api/items"}) {
		t.Errorf("endpoints %q: want GET /api/items only, not doctor's own profile fetches", endpoints)
	}
	if !slices.Contains(files(t, dir), "traces.jsonl") || slices.ContainsFunc(files(t, dir), isTemp) {
		t.Errorf("report directory holds %q: want traces.jsonl and no temporary file", files(t, dir))
	}
}

// files lists dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// isTemp tells an output still being written (internal/atomicfile's temporary files).
func isTemp(name string) bool { return strings.HasSuffix(name, ".tmp") }

// TestCancelledRunLeavesNoTraces: doctor writes the collected traces to a file as they come, so
// that a long run holds none in memory; a run cancelled before its analysis leaves neither that
// file nor traces.jsonl behind.
func TestCancelledRunLeavesNoTraces(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := doctor.Run(ctx, doctor.Config{
		URL: srv.URL, Endpoints: []string{"/"}, OTLP: freeAddr(t), OTLPGRPC: "off", NoProfiles: true, OutDir: dir,
		Rate: 20, Duration: time.Minute, Warmup: 100 * time.Millisecond,
	}, func(s string) {
		if strings.HasPrefix(s, "steady:") {
			cancel()
		}
	})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("Run = %v, want it cancelled", err)
	}
	if got := files(t, dir); slices.Contains(got, "traces.jsonl") || slices.ContainsFunc(got, isTemp) {
		t.Errorf("a cancelled run left %q: want no traces file", got)
	}
}

// TestNoTracesIsSaid: a service that exports nothing gets one line saying so and what to check,
// in the progress and the report; with traces and profiles off, the steady run does not claim them.
func TestNoTracesIsSaid(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	run := func(cfg doctor.Config) (string, string) {
		var lines []string
		cfg.URL, cfg.Endpoints = srv.URL, []string{"/"}
		if cfg.OutDir == "" {
			cfg.OutDir = t.TempDir()
		}
		cfg.Rate, cfg.Duration, cfg.Warmup, cfg.TraceWait = 20, time.Second, 100*time.Millisecond, 100*time.Millisecond
		rep := runDoctor(t, cfg, func(s string) { lines = append(lines, s) })
		return strings.Join(lines, "\n"), rep.NoTraces
	}
	dir := t.TempDir()
	out, none := run(doctor.Config{OTLP: freeAddr(t), OTLPGRPC: freeAddr(t), NoProfiles: true, OutDir: dir})
	if !strings.Contains(none, "no span arrived") || !strings.Contains(none, "OTEL_EXPORTER_OTLP_PROTOCOL") || !strings.Contains(out, "NO TRACES: no span arrived") {
		t.Errorf("no_traces %q, progress:\n%s", none, out)
	}
	if want := "steady: every endpoint at its rate for 1s, with traces"; !slices.Contains(strings.Split(out, "\n"), want) {
		t.Errorf("progress lacks the line %q:\n%s", want, out)
	}
	if got := files(t, dir); slices.Contains(got, "traces.jsonl") || slices.ContainsFunc(got, isTemp) {
		t.Errorf("with no span: the report directory holds %q, want no traces file", got)
	}
	out, none = run(doctor.Config{OTLP: "off", NoProfiles: true})
	if want := "steady: every endpoint at its rate for 1s (no traces, no profiles)"; none != "" || strings.Contains(out, "NO TRACES") || !slices.Contains(strings.Split(out, "\n"), want) {
		t.Errorf("with --otlp off --no-profiles: no_traces %q, progress:\n%s", none, out)
	}
}

// TestInvalidMeasurementIsMarked: a steady run whose load verdict is invalid (here no request
// fell in its measured second: one every 10 s) is measured once more; still invalid, it is
// marked in the progress line and at the top of report.json, and Run says so after writing
// the report.
func TestInvalidMeasurementIsMarked(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	var lines []string
	rep, err := doctor.Run(t.Context(), doctor.Config{
		URL: srv.URL, Endpoints: []string{"/"}, OTLP: "off", NoProfiles: true, OutDir: dir,
		Rate: 0.1, Duration: time.Second, Warmup: 100 * time.Millisecond,
	}, func(s string) { lines = append(lines, s) })
	out := strings.Join(lines, "\n")
	if !errors.Is(err, doctor.ErrInvalidMeasurement) {
		t.Fatalf("Run = %v, want ErrInvalidMeasurement\n%s", err, out)
	}
	if !strings.Contains(out, "as is: 1 measurement(s) INVALID (/: no request was measured") || !strings.Contains(out, "errors 0  INVALID: no request was measured") {
		t.Errorf("progress lacks the retry or the mark:\n%s", out)
	}
	raw, rerr := os.ReadFile(filepath.Join(dir, "report.json"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	var got struct {
		Invalid []result.InvalidMeasurement `json:"invalid_measurements"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Invalid) != 1 || got.Invalid[0].File != "load-1-as-is.json" || len(got.Invalid[0].Reasons) == 0 ||
		len(rep.Measurements) != 1 || rep.Measurements[0].Valid || len(rep.Measurements[0].InvalidReasons) == 0 {
		t.Errorf("invalid_measurements %+v, measurements %+v", got.Invalid, rep.Measurements)
	}
	if i, j := bytes.Index(raw, []byte(`"invalid_measurements"`)), bytes.Index(raw, []byte(`"measurements"`)); i < 0 || i > j {
		t.Errorf("invalid_measurements is not at the top of report.json:\n%.400s", raw)
	}
}

// runDoctor is doctor.Run for tests of something else than validity: on a busy machine (-race,
// a shared host) a measurement can stay invalid, which Run reports after writing the whole
// report; the test goes on with that report.
func runDoctor(t *testing.T, cfg doctor.Config, progress func(string)) *result.Doctor {
	t.Helper()
	rep, err := doctor.Run(t.Context(), cfg, progress)
	if errors.Is(err, doctor.ErrInvalidMeasurement) {
		t.Logf("%v: a busy machine; the test goes on with the report", err)
		err = nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
