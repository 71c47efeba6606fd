package doctor_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/doctor"
)

// TestCredentialsRedacted: a URL's user:password@ never reaches doctor's files unless
// KeepSecrets, on the report and on every load and sweep result beside it.
func TestCredentialsRedacted(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	for _, keep := range []bool{false, true} {
		dir := t.TempDir()
		target := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1)
		_, err := doctor.Run(t.Context(), doctor.Config{
			URL: target, Endpoints: []string{"/a"}, OTLP: "off", NoProfiles: true, KeepSecrets: keep,
			Rate: 20, Duration: time.Second, Warmup: 100 * time.Millisecond, OutDir: dir,
		}, func(string) {})
		if err != nil && !strings.Contains(err.Error(), "invalid") {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		if len(files) == 0 {
			t.Fatal("doctor wrote no JSON")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			leaked := strings.Contains(string(b), "hunter2")
			if leaked != keep {
				t.Errorf("keep secrets %v: %s holds the credentials: %v", keep, filepath.Base(f), leaked)
			}
		}
	}
}

// TestHeadersReachTheTarget: Config.Headers go with every request to the target, the load runs'
// and the profile fetches', and stay out of the files (redacted).
func TestHeadersReachTheTarget(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{} // "path authorized?" → requests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := r.Header.Get("Authorization") == "Bearer s3cret" && r.Header.Get("X-Tenant") == "t1"
		mu.Lock()
		seen[fmt.Sprintf("%s %v", r.URL.Path, ok)]++
		mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/debug/pprof/profile" {
			pprof.Profile(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	_, err := doctor.Run(t.Context(), doctor.Config{
		URL: srv.URL, Endpoints: []string{"/a", `POST /b {"x":1}`}, OTLP: "off",
		Headers: map[string]string{"Authorization": "Bearer s3cret", "X-Tenant": "t1"},
		Rate:    20, Duration: time.Second, Warmup: 100 * time.Millisecond, OutDir: dir,
	}, func(string) {})
	if err != nil && !strings.Contains(err.Error(), "invalid") {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["/a true"] == 0 || seen["/b true"] == 0 || seen["/debug/pprof/profile true"] != 1 {
		t.Errorf("authorized requests %v: want /a, /b and one CPU profile", seen)
	}
	for k, n := range seen {
		if strings.HasSuffix(k, "false") && k != "/debug/fgprof false" {
			t.Errorf("%d requests without the headers: %s", n, k)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "s3cret") {
			t.Errorf("%s holds the Authorization header's value", filepath.Base(f))
		}
	}
}
