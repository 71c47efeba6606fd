package labbin

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
}

// TestFind: $HEADROOM_LAB wins and must be an executable file; without it the lab is looked
// for on PATH (next to the test binary there is none).
func TestFind(t *testing.T) {
	dir := t.TempDir()
	lab := filepath.Join(dir, Name)
	writeFile(t, lab, 0o755)
	plain := filepath.Join(dir, "plain")
	writeFile(t, plain, 0o644)

	t.Setenv(Env, lab)
	if got, err := Find(); err != nil || got != lab {
		t.Errorf("Find with %s=%s = %q, %v", Env, lab, got, err)
	}
	for _, bad := range []string{plain, dir, filepath.Join(dir, "missing")} {
		t.Setenv(Env, bad)
		if _, err := Find(); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find with %s=%s = %v, want ErrNotFound", Env, bad, err)
		}
	}

	t.Setenv(Env, "")
	t.Setenv("PATH", dir)
	if got, err := Find(); err != nil || got != lab {
		t.Errorf("Find on PATH = %q, %v; want %s", got, err, lab)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Find(); !errors.Is(err, ErrNotFound) {
		t.Errorf("Find with no lab anywhere = %v, want ErrNotFound", err)
	}
}
