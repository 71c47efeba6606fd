package cpusample

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestProcReadsItsOwnProcess(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	p := Proc{PID: os.Getpid()}
	a, err := p.CPUSeconds(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Burn a little CPU; the counter must not go backwards.
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	_ = x
	b, err := p.CPUSeconds(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if b < a || b <= 0 {
		t.Errorf("cpu seconds %v then %v, want positive and not decreasing", a, b)
	}
	if _, err := (Proc{PID: 1 << 30}).CPUSeconds(t.Context()); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing pid: %v, want ErrNotFound", err)
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     float64
		err      string
	}{
		{"plain", "42 (hello) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0", 3, ""},
		{"name with spaces and parens", "42 (a b) c)) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 0 0", 0.1, ""},
		{"no name", "42 hello", 0, "no command name"},
		{"short", "42 (x) S 1 2", 0, "fields after the command"},
		{"bad number", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 ab 3 0", 0, `cpu time "ab"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseStat(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseStat = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestParseCPUCounter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     float64
		err      string
	}{
		{"client_golang output", "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\nprocess_max_fds 1024\n", 12.5, ""},
		{"labels and timestamp", "process_cpu_seconds_total{job=\"a\"} 1.5 1700000000000\nprocess_cpu_seconds_total{job=\"b\"} 2\n", 3.5, ""},
		{"longer name ignored", "process_cpu_seconds_total_other 9\nprocess_cpu_seconds_total 1e1\n", 10, ""},
		{"missing", "go_goroutines 7\n", 0, "not found"},
		{"bad value", "process_cpu_seconds_total abc\n", 0, `value "abc"`},
		{"unterminated labels", "process_cpu_seconds_total{a=\"b\" 3\n", 0, "unterminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCPUCounter(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseCPUCounter = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("process_cpu_seconds_total 4.25\n"))
	}))
	t.Cleanup(srv.Close)
	got, err := Metrics{URL: srv.URL + "/metrics"}.CPUSeconds(t.Context())
	if err != nil || got != 4.25 {
		t.Errorf("CPUSeconds = %v, %v; want 4.25", got, err)
	}
	if _, err := (Metrics{URL: srv.URL + "/nope"}).CPUSeconds(t.Context()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: err %v", err)
	}
}

func FuzzParseCPUCounter(f *testing.F) {
	f.Add("process_cpu_seconds_total 12.5\n")
	f.Add("process_cpu_seconds_total{job=\"a\"} 1.5 1700000000000\n")
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseCPUCounter(strings.NewReader(s)) })
}

func FuzzParseStat(f *testing.F) {
	f.Add("42 (hello) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0")
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseStat(s) })
}
