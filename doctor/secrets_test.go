package doctor_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
