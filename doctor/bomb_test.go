package doctor_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/doctor"
)

// TestProfileDecompressionBomb: a target whose profile endpoints serve gzip that inflates to
// 1 GiB costs doctor its profile limit, and the report's note says which limit and flag.
func TestProfileDecompressionBomb(t *testing.T) {
	t.Parallel()
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	bomb := func(w http.ResponseWriter, _ *http.Request) {
		for range 1024 { // 1024 gzip members of 1 MiB of zeros each
			if _, err := w.Write(member.Bytes()); err != nil {
				return
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/debug/pprof/profile", bomb)
	mux.HandleFunc("/debug/fgprof", bomb)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	rep := runDoctor(t, doctor.Config{
		URL: srv.URL, Endpoints: []string{"/a"}, OTLP: "off", MaxProfileBytes: 4 << 20,
		Rate: 20, Duration: time.Second, Warmup: 100 * time.Millisecond, OutDir: t.TempDir(),
	}, func(string) {})
	notes := strings.Join(rep.Notes, "\n")
	if !strings.Contains(notes, "inflates to more than 4 MiB (4194304 bytes), the limit: raise it with --max-profile-bytes") {
		t.Errorf("notes %q, want one naming the profile limit and its flag", notes)
	}
	if len(rep.Profiles) != 0 {
		t.Errorf("profiles %+v from a bomb", rep.Profiles)
	}
}
