package flame

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// bombMember is one gzip member of 1 MiB of zeros (about 1 KB); a gzip stream may hold many
// members, so repeating it serves a bomb of any size without building it.
func bombMember(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := zw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bombServer serves at both profile paths gzip that inflates to 1 MiB × members.
func bombServer(t *testing.T, members int) *httptest.Server {
	t.Helper()
	m := bombMember(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range members {
			if _, err := w.Write(m); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestFetchDecompressionBomb: a target serving ~1 MB of gzip that inflates to 1 GiB costs the
// fetch the limit, not the gigabyte. Not parallel, so the allocation count is this test's own.
func TestFetchDecompressionBomb(t *testing.T) {
	srv := bombServer(t, 1024) // 1 GiB inflated
	const limit = 8 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Collect(context.Background(), FetchConfig{Duration: time.Second, MaxBytes: limit}, srv.URL)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	for _, want := range []string{"inflates to more than 8 MiB (8388608 bytes)", "--max-profile-bytes", "cpu profile", "wall profile"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	}
	// Both profiles at once: two bodies of ~1 MB and two inflations stopped at 8 MiB each,
	// with io.ReadAll's doubling; inflating the bomb would allocate a GiB or more.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("fetching two 1 GiB bombs with an 8 MiB limit allocated %d MiB", alloc>>20)
	if alloc > 128<<20 {
		t.Errorf("fetching the bomb allocated %d MiB, want it bounded by the limit (8 MiB per profile)", alloc>>20)
	}
}

func TestProfileLimits(t *testing.T) {
	t.Parallel()
	m := bombMember(t)
	// gzip inside gzip: pprof's own parser would inflate the inner stream without a bound.
	var nested bytes.Buffer
	zw := gzip.NewWriter(&nested)
	_, _ = zw.Write(bytes.Repeat(m, 4))
	_ = zw.Close()
	for _, tc := range []struct {
		name  string
		in    []byte
		limit int64
		want  string
	}{
		{"inflates beyond the limit", bytes.Repeat(m, 20), 16 << 20, "inflates to more than 16 MiB (16777216 bytes), the limit: raise it with --max-profile-bytes"},
		{"larger than the limit as read", make([]byte, 2<<20), 1 << 20, "holds more than 1 MiB (1048576 bytes), the limit"},
		{"gzip inside gzip", nested.Bytes(), 1 << 20, "gzip inside gzip"},
		{"truncated gzip", m[:len(m)/2], 32 << 20, "not a pprof profile: unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseLimit(tc.in, tc.limit)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// The same profile within its limit parses, gzipped or not.
	raw := synthetic(t)
	if _, err := ParseLimit(raw, 1<<20); err != nil {
		t.Errorf("a profile within the limit: %v", err)
	}
	// A saved file: the read is bounded too.
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.pb.gz")
	if err := os.WriteFile(bomb, bytes.Repeat(m, 80), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(bomb, 64<<20); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "bomb.pb.gz: profile too large: inflates to") {
		t.Errorf("ReadFile(bomb) = %v, want ErrTooLarge naming the file", err)
	}
	if _, err := ReadFile(bomb, 64<<10); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "holds more than 65536 bytes") {
		t.Errorf("ReadFile(bomb, 64 KiB) = %v, want ErrTooLarge for the file's size", err)
	}
}
