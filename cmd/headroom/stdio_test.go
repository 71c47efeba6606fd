package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/collect/collecttest"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/result"
)

// runIO runs the CLI in process with stdin, returning the exit code, stdout and stderr.
func runIO(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetIn(strings.NewReader(stdin))
	code := cliexit.Execute(t.Context(), root, args, &stderr, "headroom")
	return code, stdout.String(), stderr.String()
}

func helloServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestStdio: "-" reads standard input for every file input and writes a result to standard
// output, the text report then going to standard error, so results pipe from one command to
// the next; real paths still go through atomic files.
func TestStdio(t *testing.T) {
	t.Parallel()
	srv := helloServer(t)
	targets := `{"url":"` + srv.URL + `/a"}` + "\n" + `{"url":"` + srv.URL + `/b"}` + "\n"
	code, run, stderr := runIO(t, targets, "load", "--targets", "-", "--rate", "40", "--duration", "500ms", "-q", "--out", "-")
	if code != 0 && code != 3 { // 3: a loaded machine made the generator late
		t.Fatalf("load --targets - --out -: exit %d\n%s", code, stderr)
	}
	l, err := result.ReadLoad(strings.NewReader(run))
	if err != nil {
		t.Fatalf("stdout is not a load result: %v\n%.200s", err, run)
	}
	if l.Requests != 20 {
		t.Errorf("requests = %d, want 20 (40/s for 0.5 s)", l.Requests)
	}
	if !strings.Contains(stderr, "headroom load") {
		t.Errorf("the table did not go to stderr:\n%s", stderr)
	}
	if matches, _ := filepath.Glob("-*"); len(matches) > 0 {
		t.Errorf("files named after -: %v", matches)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "run.json")
	if err := os.WriteFile(file, []byte(run), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runIO(t, run, "merge", "-", file, "--out", "-")
	if code != 0 {
		t.Fatalf("merge - FILE --out -: exit %d\n%s", code, stderr)
	}
	m, err := result.ReadLoad(strings.NewReader(out))
	if err != nil || m.Requests != 2*l.Requests {
		t.Fatalf("merged = %v requests (err %v), want %d", m, err, 2*l.Requests)
	}
	for _, args := range [][]string{{"report", "-"}, {"compare", "-", file}, {"cost", "--load", "-", "--memory", "128", "--server-rps", "100", "--server-hourly", "0.1"}} {
		if code, out, stderr := runIO(t, run, args...); code != 0 || out == "" {
			t.Errorf("%v with the result on stdin: exit %d, stdout %q\n%s", args, code, out, stderr)
		}
	}
	// The body of one target from standard input.
	code, out, stderr = runIO(t, `{"x":1}`, "load", srv.URL, "-X", "POST", "--body-file", "-", "--rate", "10", "--duration", "300ms", "-q", "--out", "-")
	if code != 0 && code != 3 {
		t.Fatalf("--body-file -: exit %d\n%s", code, stderr)
	}
	var cfg struct {
		Config struct {
			Targets []struct{ Body string } `json:"targets"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil || len(cfg.Config.Targets) != 1 || cfg.Config.Targets[0].Body != `{"x":1}` {
		t.Errorf("--body-file -: config targets %+v (%v), want the body from stdin", cfg.Config.Targets, err)
	}
}

func TestStdioMisuse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"merge", "-", "-", "--out", "x.json"}, "standard input is already read"},
		{[]string{"sweep", "http://127.0.0.1:1/", "--slo", "p99<50ms", "--out", "-", "--html", "-"}, "--html -: standard output is already taken by --out -"},
		{[]string{"profile", "http://127.0.0.1:1/", "--out", "-"}, "standard output cannot hold"},
		{[]string{"doctor", "http://127.0.0.1:1/", "--out", "-"}, "standard output cannot hold"},
		{[]string{"diagnose", "--traces", "-", "--load", "-"}, "standard input is already read by --traces"},
		{[]string{"load", "--targets", "/nonexistent/t.jsonl", "--rate", "1"}, "--targets: open /nonexistent/t.jsonl"},
	} {
		code, out, stderr := runIO(t, "", tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 2 and %q", tc.args, code, stderr, out, tc.want)
		}
	}
}

// TestCollectToStdout: collect --out - streams trace lines to standard output as they complete,
// before collect stops.
func TestCollectToStdout(t *testing.T) {
	t.Parallel()
	col := startCollect(t, "-", "--complete-after", "50ms", "--sync-every", "50ms")
	p, err := collecttest.New(3, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+col.addr+"/v1/traces", bytes.NewReader(p.Stamp(make([]byte, p.Len()), 1)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export: %s", resp.Status)
	}
	for deadline := time.Now().Add(10 * time.Second); strings.Count(col.stdout.String(), "\n") < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("3 traces not streamed to stdout in 10 s: %q", col.stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	col.stop(t)
	lines := strings.Split(strings.TrimSpace(col.stdout.String()), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], `{"resourceSpans"`) {
		t.Errorf("stdout: %d lines, first %.80q; want 3 OTLP JSON lines", len(lines), lines[0])
	}
	if !strings.Contains(col.stderr.String(), "standard output") {
		t.Errorf("stderr does not say where traces go: %s", col.stderr.String())
	}
}

// TestLoadTargetsFormats: --targets reads vegeta's format and a HAR, told apart by content, and
// every target is sent.
func TestLoadTargetsFormats(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Account-ID")]++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	vegeta := "GET " + srv.URL + "/dragon\nX-Account-ID: 8675309\n\nDELETE " + srv.URL + "/remove\n"
	code, _, stderr := runIO(t, vegeta, "load", "--targets", "-", "--rate", "40", "--duration", "500ms", "-q")
	if code != 0 && code != 3 {
		t.Fatalf("vegeta targets: exit %d\n%s", code, stderr)
	}
	har := `{"log":{"version":"1.2","entries":[
{"request":{"method":"POST","url":"` + srv.URL + `/api","headers":[{"name":"X-Account-ID","value":"har"}],"postData":{"mimeType":"application/json","text":"{}"}},"response":{"content":{"mimeType":"application/json"}}},
{"request":{"method":"GET","url":"` + srv.URL + `/logo.png","headers":[]},"response":{"content":{"mimeType":"image/png"}}}]}}`
	code, _, stderr = runIO(t, har, "load", "--targets", "-", "--rate", "20", "--duration", "500ms", "-q")
	if code != 0 && code != 3 {
		t.Fatalf("HAR targets: exit %d\n%s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	// Targets of equal weight are drawn at random: one of the two vegeta targets is all 20
	// requests with a chance of 2 in a million.
	if v, d := seen["GET /dragon 8675309"], seen["DELETE /remove "]; v+d != 20 || v == 0 || d == 0 || seen["POST /api har"] != 10 || len(seen) != 3 {
		t.Errorf("requests seen %v; want the 20 vegeta requests split over both its targets, 10 of the HAR's API call and none of its image", seen)
	}
	code, _, stderr = runIO(t, vegeta, "load", "--targets", "-", "--har-assets", "--rate", "20", "--duration", "500ms", "-q")
	if code != 2 || !strings.Contains(stderr, "--har-assets belongs to a HAR; --targets standard input is vegeta") {
		t.Errorf("--har-assets on vegeta targets: exit %d, %s", code, stderr)
	}
}

// TestLoadPerTarget: a mixed run reports each URL pattern apart, ids collapsed, in the table and
// in per_target, and merge keeps the parts.
func TestLoadPerTarget(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			time.Sleep(20 * time.Millisecond)
		}
	}))
	t.Cleanup(srv.Close)
	targets := "GET " + srv.URL + "/fast\n\nGET " + srv.URL + "/slow/1\n\nGET " + srv.URL + "/slow/2\n"
	code, out, stderr := runIO(t, targets, "load", "--targets", "-", "--rate", "60", "--duration", "1s", "--out", "-")
	if code != 0 && code != 3 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"headroom load  3 targets (the first " + srv.URL + "/fast)", "per target", "GET /fast ", "GET /slow/{n} "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("table lacks %q:\n%s", want, stderr)
		}
	}
	l, err := result.ReadLoad(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.PerTarget) != 2 || l.PerTarget[0].Name != "GET /fast" || l.PerTarget[1].Name != "GET /slow/{n}" ||
		l.PerTarget[0].Requests+l.PerTarget[1].Requests != l.Requests {
		t.Fatalf("per_target %+v, %d requests", l.PerTarget, l.Requests)
	}
	// The slow pattern's median is its 20 ms sleep (+ up to 30 ms on a loaded machine); the fast one's is below it.
	if fast, slow := l.PerTarget[0].LatencyMS.P50, l.PerTarget[1].LatencyMS.P50; !(slow >= 20 && slow < 50 && fast < 20) {
		t.Errorf("p50 fast %v ms, slow %v ms; want slow in [20, 50) and fast below 20", fast, slow)
	}
	code, merged, stderr := runIO(t, out, "merge", "-", "--out", "-")
	if code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	m, err := result.ReadLoad(strings.NewReader(merged))
	if err != nil || len(m.PerTarget) != 2 || m.PerTarget[1].Requests != l.PerTarget[1].Requests || m.PerTarget[1].LatencyMS != l.PerTarget[1].LatencyMS {
		t.Errorf("merged per_target %+v (%v), want %+v", m.PerTarget, err, l.PerTarget)
	}
}

// TestLoadSamples: --samples streams every request to a file (atomically: whole once the run
// ends) in the format its extension says, or to standard output.
func TestLoadSamples(t *testing.T) {
	t.Parallel()
	srv := helloServer(t)
	dir := t.TempDir()
	for _, tc := range []struct{ file, first string }{
		{filepath.Join(dir, "s.csv"), "intended,sent,latency_ms,service_ms,status,bytes,error,trace_id,target"},
		{filepath.Join(dir, "s.jsonl"), `{"intended":"`},
	} {
		code, out, stderr := runIO(t, "", "load", srv.URL+"/x", "--rate", "40", "--duration", "500ms", "-q", "--out", "-", "--samples", tc.file)
		if code != 0 && code != 3 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		l, err := result.ReadLoad(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		rows := int64(len(lines))
		if strings.HasSuffix(tc.file, ".csv") {
			rows--
		}
		if !strings.HasPrefix(lines[0], tc.first) || rows != l.Requests || l.Generator.SamplesWritten != l.Requests || !strings.Contains(string(b), "200") {
			t.Errorf("%s: %d rows for %d requests (written %d), first line %q", tc.file, rows, l.Requests, l.Generator.SamplesWritten, lines[0])
		}
	}
	code, out, _ := runIO(t, "", "load", srv.URL, "--rate", "20", "--duration", "500ms", "-q", "--samples", "-", "--samples-format", "jsonl")
	if code != 0 && code != 3 || strings.Count(out, `"status":200`) != 10 {
		t.Errorf("--samples -: exit %d, stdout %q; want 10 JSON lines", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--samples", filepath.Join(dir, "x.csv"), "--samples-format", "xml"}, `--samples-format "xml": want one of csv, jsonl`},
		{[]string{"--samples-format", "csv"}, "--samples-format belongs to --samples FILE"},
		{[]string{"--samples", filepath.Join(dir, "nodir", "x.csv")}, "--samples " + filepath.Join(dir, "nodir", "x.csv")},
	} {
		code, _, stderr := runIO(t, "", append([]string{"load", srv.URL, "--rate", "1", "--duration", "1s"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %s; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestSweepSamples: sweep --samples writes the requests of every step into one file, load's
// fields then the step's index in steps[] and its offered rate, in CSV (one header) or JSON lines;
// "-" is standard output; misuse is exit 2 and leaves no file.
func TestSweepSamples(t *testing.T) {
	t.Parallel()
	srv := helloServer(t)
	dir := t.TempDir()
	sweep := []string{"sweep", srv.URL, "--slo", "p99<1s", "--steps", "20,40", "--step", "500ms", "--warmup", "100ms", "-q"}
	// stepCounts counts the samples of each step, "INDEX,RATE" -> count, from rows of fields.
	stepCounts := func(rows [][]string) map[string]int64 {
		n := map[string]int64{}
		for _, r := range rows {
			n[strings.Join(r[len(r)-2:], ",")]++
		}
		return n
	}
	for _, tc := range []struct{ samples, format, out string }{
		{filepath.Join(dir, "s.csv"), "", "-"},
		{filepath.Join(dir, "s.jsonl"), "", "-"},
		{"-", "jsonl", filepath.Join(dir, "sweep.json")},
	} {
		args := append(slices.Clone(sweep), "--out", tc.out, "--samples", tc.samples)
		if tc.format != "" {
			args = append(args, "--samples-format", tc.format)
		}
		// 1: a step the loaded machine could not drive is run again, and may fail the sweep.
		code, out, stderr := runIO(t, "", args...)
		if code != 0 && code != 1 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		js, samples := []byte(out), []byte(out)
		var err error
		if tc.out != "-" {
			js, err = os.ReadFile(tc.out)
		} else {
			samples, err = os.ReadFile(tc.samples)
		}
		if err != nil {
			t.Fatal(err)
		}
		sw, err := result.ReadSweep(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{}
		for i, st := range sw.Steps {
			want[fmt.Sprintf("%d,%g", i, st.OfferedRPS)] = st.Requests
		}
		var rows [][]string
		if strings.HasSuffix(tc.samples, ".csv") {
			all, err := csv.NewReader(bytes.NewReader(samples)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if h := strings.Join(all[0], ","); !strings.HasSuffix(h, ",target,step,offered_rps") {
				t.Errorf("csv header %q, want load's then step, offered_rps", h)
			}
			rows = all[1:]
		} else {
			for line := range strings.Lines(string(samples)) {
				var m struct {
					Status int     `json:"status"`
					Step   int     `json:"step"`
					Rate   float64 `json:"offered_rps"`
				}
				if err := json.Unmarshal([]byte(line), &m); err != nil || m.Status != 200 {
					t.Fatalf("line %q: %v, status %d", line, err, m.Status)
				}
				rows = append(rows, []string{strconv.Itoa(m.Step), strconv.FormatFloat(m.Rate, 'g', -1, 64)})
			}
		}
		if got := stepCounts(rows); len(want) < 2 || !maps.Equal(got, want) {
			t.Errorf("--samples %s: samples per step %v, want the steps' requests %v", tc.samples, got, want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--samples", filepath.Join(dir, "x.csv"), "--samples-format", "xml"}, `--samples-format "xml": want one of csv, jsonl`},
		{[]string{"--samples-format", "csv"}, "--samples-format belongs to --samples FILE"},
		{[]string{"--samples", filepath.Join(dir, "nodir", "x.csv")}, "--samples " + filepath.Join(dir, "nodir", "x.csv")},
		{[]string{"--samples", "-", "--out", "-"}, "standard output is already taken"},
	} {
		code, _, stderr := runIO(t, "", append(slices.Clone(sweep), tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %s; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	// A target that is down fails the sweep before any step: no samples file.
	down := filepath.Join(dir, "down.csv")
	if code, _, stderr := runIO(t, "", "sweep", "http://127.0.0.1:1/", "--slo", "p99<1s", "--steps", "20", "-q", "--samples", down); code != 3 {
		t.Errorf("unreachable target: exit %d, want 3\n%s", code, stderr)
	}
	if _, err := os.Stat(down); !os.IsNotExist(err) {
		t.Errorf("a failed sweep left %s: %v", down, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
