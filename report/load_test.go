package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func sample() *result.Load {
	return &result.Load{
		Schema: result.LoadSchema, Target: "http://127.0.0.1:8080/api/posts", Model: "open",
		OfferedRPS: 2000, AchievedRPS: 1998.5, DurationS: 30, Requests: 59955, Errors: 12,
		ErrorsByKind: map[string]int64{"status_503": 9, "timeout": 3},
		LatencyMS:    result.Summary{Min: 0.21, Mean: 4.2, P50: 1.9, P90: 6.1, P95: 11.5, P99: 48.2, P999: 230, Max: 1012},
		ServiceMS:    result.Summary{Min: 0.2, Mean: 2.1, P50: 1.8, P90: 3.9, P95: 5.2, P99: 9.9, P999: 41, Max: 1011},
		SendLagMS:    result.Summary{Max: 1.2, P99: 1.1},
		Exemplars:    []result.Exemplar{{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", LatencyMS: 1012, Why: "slowest"}},
		Generator:    result.Generator{CPUSeconds: 9.1, CPUUtilization: 0.15, Cores: 2, Connections: 64, IO: "epoll", AchievedRatio: 0.99925, QueuedShare: 0.02, QueueWaitMS: result.Summary{P99: 210}},
		Verdict:      result.Verdict{Valid: true, Reasons: []string{}, Notes: []string{"2.0% of requests waited for one of the 64 connections"}},
		SLO: &result.SLO{Expr: "p99<50ms,errors<0.01%", Checks: []result.Check{
			{Expr: "p99<50ms", Actual: 48.2, Unit: "ms", Pass: true},
			{Expr: "errors<0.01%", Actual: 0.02, Unit: "%", Pass: false},
		}},
		Config: json.RawMessage(`{"arrival":{"kind":"constant","rate":2000},"warmup":2000000000,"connections":64}`),
	}
}

func TestWriteLoadGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := report.WriteLoad(&buf, sample(), report.Options{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "load.txt", buf.Bytes())
}

func TestWriteLoadInvalidInColor(t *testing.T) {
	t.Parallel()
	l := sample()
	l.Verdict = result.Verdict{Valid: false, Reasons: []string{"the generator used 97% of its 2 cores"}}
	var buf bytes.Buffer
	if err := report.WriteLoad(&buf, l, report.Options{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("\x1b[31;1mINVALID")) || !bytes.Contains(buf.Bytes(), []byte("97% of its 2 cores")) {
		t.Errorf("invalid verdict not printed in red with its reason:\n%s", buf.Bytes())
	}
}

func TestWriteLoadClosedModel(t *testing.T) {
	t.Parallel()
	l := sample()
	l.Model, l.OfferedRPS = "closed", 0
	l.Config = json.RawMessage(`{"users":50,"think":100000000}`)
	var buf bytes.Buffer
	if err := report.WriteLoad(&buf, l, report.Options{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "load-closed.txt", buf.Bytes())
}

func TestWriteLoadPerTarget(t *testing.T) {
	t.Parallel()
	l := sample()
	l.Config = json.RawMessage(`{"arrival":{"kind":"constant","rate":2000},"connections":64,"targets":[{},{},{}]}`)
	l.PerTarget = []result.TargetStats{
		{Name: "GET /api/posts/{n}", Requests: 39970, AchievedRPS: 1332.3, LatencyMS: result.Summary{P50: 1.5, P99: 30.1, P999: 120, Max: 800}},
		{Name: "POST /api/orders", Requests: 19985, Errors: 12, AchievedRPS: 666.2, LatencyMS: result.Summary{P50: 3.1, P99: 60.2, P999: 230, Max: 1012}},
		{Name: "GET https://a-very-long-host-name.example.com/api/search/{uuid}", Requests: 0},
	}
	var buf bytes.Buffer
	if err := report.WriteLoad(&buf, l, report.Options{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "load-targets.txt", buf.Bytes())
}
