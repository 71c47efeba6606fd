package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/headroom/headroom/internal/atomicfile"
)

func TestWholeOrNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := atomicfile.Write(path, func(w io.Writer) error { _, err := io.WriteString(w, "v1"); return err }); err != nil {
		t.Fatal(err)
	}
	// A failed write leaves the old content and no temporary file.
	err := atomicfile.Write(path, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half of v2")
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("failed write reported success")
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("output mode %v (%v), want -rw-r--r--", st.Mode(), err)
	}
	if b, _ := os.ReadFile(path); string(b) != "v1" {
		t.Errorf("content %q after a failed write, want v1", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only out.json", len(entries))
	}
	f, err := atomicfile.Create(filepath.Join(dir, "aborted"))
	if err != nil {
		t.Fatal(err)
	}
	f.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("abort left %d entries", len(entries))
	}
}

func TestBadPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, p := range []string{dir, filepath.Join(dir, "missing", "x.json")} {
		if _, err := atomicfile.Create(p); err == nil {
			t.Errorf("Create(%s) succeeded", p)
		}
	}
}
