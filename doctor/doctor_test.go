package doctor_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/doctor"
	"github.com/headroom/headroom/result"
)

// TestLabBeforeAndAfter runs doctor on the lab in process: every measurement written, and the
// anti-patterns measurably slower than their fixes.
func TestLabBeforeAndAfter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var lines []string
	rep, err := doctor.Run(t.Context(), doctor.Config{
		Endpoints: []string{"GET /api/posts?limit=20", "GET /api/feed"},
		Rate:      20, Duration: time.Second, Warmup: 300 * time.Millisecond, OutDir: dir,
	}, func(s string) { lines = append(lines, s) })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lab == nil || rep.Lab.Users == 0 || !strings.Contains(rep.Lab.Antipatterns, "n_plus_one") {
		t.Fatalf("lab not described: %+v", rep.Lab)
	}
	if len(rep.Measurements) != 4 || len(lines) != 5 {
		t.Fatalf("%d measurements, %d progress lines: want 4 and 5", len(rep.Measurements), len(lines))
	}
	byKey := map[string]result.Measurement{}
	for _, m := range rep.Measurements {
		byKey[m.Endpoint+"|"+m.Condition] = m
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
	rep, err := doctor.Run(t.Context(), doctor.Config{
		URL: srv.URL, Endpoints: []string{"/a", `POST /b {"x":1}`},
		Rate: 20, Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond, OutDir: t.TempDir(),
	}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lab != nil || len(rep.Measurements) != 2 || rep.Measurements[0].Condition != "as is" || rep.Measurements[1].Requests != 10 {
		t.Errorf("report %+v", rep)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg     doctor.Config
		mention string
	}{
		{doctor.Config{URL: "http://127.0.0.1:1"}, "no endpoints"},
		{doctor.Config{URL: "nope", Endpoints: []string{"/a"}}, `"nope"`},
		{doctor.Config{URL: "http://127.0.0.1:1", Endpoints: []string{"api/a"}}, `"api/a"`},
		{doctor.Config{URL: "http://127.0.0.1:1", Endpoints: []string{"POST /a {bad"}}, "not JSON"},
		{doctor.Config{Rate: -1}, "rate -1"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("Validate(%+v) = %v, want an error mentioning %s", tc.cfg, err, tc.mention)
		}
	}
}
