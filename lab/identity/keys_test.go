package identity_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/headroom/headroom/lab/identity"
)

func sameKeys(a, b identity.Keys) bool {
	return bytes.Equal(a.Ed25519, b.Ed25519) && bytes.Equal(a.HS256, b.HS256) && bytes.Equal(a.Identity, b.Identity)
}

func TestNewKeys(t *testing.T) {
	t.Parallel()
	a, b := identity.NewKeys(), identity.NewKeys()
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if sameKeys(a, b) || bytes.Equal(a.HS256, a.Identity) {
		t.Error("NewKeys returned repeated secrets")
	}
	if err := (identity.Keys{}).Validate(); err == nil {
		t.Error("zero Keys validate")
	}
	short := identity.NewKeys()
	short.Identity = short.Identity[:16]
	if err := short.Validate(); err == nil {
		t.Error("a 16-byte identity key validates")
	}
}

func TestKeysFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	k := identity.NewKeys()
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("keys file mode %v, %v; want 0600", st.Mode(), err)
	}
	got, err := identity.LoadKeys(path)
	if err != nil || !sameKeys(got, k) {
		t.Fatalf("LoadKeys = %v; want the saved keys", err)
	}
	if err := identity.NewKeys().Save(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Save over existing keys: %v, want fs.ErrExist", err)
	}
	if _, err := identity.LoadKeys(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadKeys of a missing file: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// TestLoadOrCreateKeysRace: processes starting together on one path share one set of keys.
func TestLoadOrCreateKeysRace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	const n = 8
	var (
		wg      sync.WaitGroup
		keys    [n]identity.Keys
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { keys[i], created[i], errs[i] = identity.LoadOrCreateKeys(path) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if created[i] {
			creators++
		}
		if !sameKeys(keys[i], keys[0]) {
			t.Errorf("caller %d got other keys", i)
		}
	}
	if creators != 1 {
		t.Errorf("%d callers created the keys, want 1", creators)
	}
}

func TestKeysJSONStrict(t *testing.T) {
	t.Parallel()
	good, err := json.Marshal(identity.NewKeys())
	if err != nil {
		t.Fatal(err)
	}
	var k identity.Keys
	if err := json.Unmarshal(good, &k); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{
		`{}`,
		`{"ed25519_seed":"AAAA","hs256_secret":"AAAA","identity_key":"AAAA"}`,
		string(good[:len(good)-1]) + `,"extra":1}`,
		string(good) + `{}`,
		`[]`,
	} {
		if err := k.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("UnmarshalJSON(%s): no error", bad)
		}
	}
}

// FuzzKeysJSON: the keys file parser never panics, and what it accepts validates and encodes
// back to keys it reads the same.
func FuzzKeysJSON(f *testing.F) {
	good, _ := json.Marshal(fixedKeys(3))
	f.Add(good)
	f.Add([]byte(`{"ed25519_seed":"AAAA","hs256_secret":"AAAA","identity_key":"AAAA"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var k identity.Keys
		if err := k.UnmarshalJSON(b); err != nil {
			return
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("accepted invalid keys: %v", err)
		}
		again, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		var k2 identity.Keys
		if err := json.Unmarshal(again, &k2); err != nil || !sameKeys(k, k2) {
			t.Fatalf("re-encoded keys read as other keys: %v", err)
		}
	})
}
