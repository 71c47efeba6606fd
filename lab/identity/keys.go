package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// MinSecretBytes is the shortest HS256 secret and identity key [Keys.Validate] accepts: the
// output size of SHA-256, as RFC 7518 §3.2 requires for HS256.
const MinSecretBytes = 32

// Keys are the secrets the origin and the edge share. The zero value is not usable: make them
// with [NewKeys] or [LoadKeys]. A Keys is read-only once made, so safe for concurrent use.
type Keys struct {
	// Ed25519 signs EdDSA tokens (the origin); its public half verifies them (origin and edge).
	Ed25519 ed25519.PrivateKey
	// HS256 is the HMAC secret of HS256 tokens.
	HS256 []byte
	// Identity is the HMAC-SHA256 key of the Headroom-Edge-Identity header ([Sign], [Verify]).
	Identity []byte
}

// NewKeys returns fresh random keys: an Ed25519 key pair and two 32-byte secrets.
func NewKeys() Keys {
	// crypto/rand.Read never fails (it crashes the program if the system's source does).
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed)
	k := Keys{Ed25519: ed25519.NewKeyFromSeed(seed), HS256: make([]byte, 32), Identity: make([]byte, 32)}
	_, _ = rand.Read(k.HS256)
	_, _ = rand.Read(k.Identity)
	return k
}

// Public returns the public half of the Ed25519 key, which verifies EdDSA tokens.
func (k Keys) Public() ed25519.PublicKey {
	if len(k.Ed25519) != ed25519.PrivateKeySize {
		return nil
	}
	return k.Ed25519.Public().(ed25519.PublicKey)
}

// Validate reports the first field of k that is unusable: an Ed25519 key of the wrong size or
// whose public half does not match its seed, or a secret shorter than [MinSecretBytes].
func (k Keys) Validate() error {
	if len(k.Ed25519) != ed25519.PrivateKeySize {
		return fmt.Errorf("identity: Keys.Ed25519 has %d bytes: want %d", len(k.Ed25519), ed25519.PrivateKeySize)
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(k.Ed25519.Seed()), k.Ed25519) {
		return errors.New("identity: Keys.Ed25519: the public half does not match the seed")
	}
	if len(k.HS256) < MinSecretBytes {
		return fmt.Errorf("identity: Keys.HS256 has %d bytes: want at least %d", len(k.HS256), MinSecretBytes)
	}
	if len(k.Identity) < MinSecretBytes {
		return fmt.Errorf("identity: Keys.Identity has %d bytes: want at least %d", len(k.Identity), MinSecretBytes)
	}
	return nil
}

// keysFile is the JSON form of Keys: base64url without padding, the Ed25519 key as its seed.
type keysFile struct {
	Ed25519Seed string `json:"ed25519_seed"`
	HS256       string `json:"hs256_secret"`
	Identity    string `json:"identity_key"`
}

// MarshalJSON encodes k as {"ed25519_seed":…,"hs256_secret":…,"identity_key":…}, each base64url
// without padding.
func (k Keys) MarshalJSON() ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding.EncodeToString
	return json.Marshal(keysFile{Ed25519Seed: enc(k.Ed25519.Seed()), HS256: enc(k.HS256), Identity: enc(k.Identity)})
}

// UnmarshalJSON decodes what MarshalJSON writes, strictly: unknown or missing fields, bad
// base64 and keys that fail [Keys.Validate] are errors.
func (k *Keys) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f keysFile
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("identity: keys JSON: %w", err)
	}
	if dec.More() {
		return errors.New("identity: keys JSON: data after the object")
	}
	dec64 := func(name, s string) ([]byte, error) {
		v, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("identity: keys JSON: %s: want base64url without padding: %w", name, err)
		}
		return v, nil
	}
	seed, err := dec64("ed25519_seed", f.Ed25519Seed)
	if err != nil {
		return err
	}
	if len(seed) != ed25519.SeedSize {
		return fmt.Errorf("identity: keys JSON: ed25519_seed has %d bytes: want %d", len(seed), ed25519.SeedSize)
	}
	var nk Keys
	nk.Ed25519 = ed25519.NewKeyFromSeed(seed)
	if nk.HS256, err = dec64("hs256_secret", f.HS256); err != nil {
		return err
	}
	if nk.Identity, err = dec64("identity_key", f.Identity); err != nil {
		return err
	}
	if err := nk.Validate(); err != nil {
		return err
	}
	*k = nk
	return nil
}

// maxKeysFileBytes bounds what LoadKeys reads: a keys file is about 150 bytes.
const maxKeysFileBytes = 64 << 10

// LoadKeys reads keys that [Keys.Save] wrote.
func LoadKeys(path string) (Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return Keys{}, fmt.Errorf("identity: load keys: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeysFileBytes+1))
	if err != nil {
		return Keys{}, fmt.Errorf("identity: load keys %s: %w", path, err)
	}
	if len(b) > maxKeysFileBytes {
		return Keys{}, fmt.Errorf("identity: load keys %s: over %d bytes: not a keys file", path, maxKeysFileBytes)
	}
	var k Keys
	if err := k.UnmarshalJSON(b); err != nil {
		return Keys{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

// Save writes k to path, readable by its owner only (0600). It fails if path exists: keys
// another process may be using are never replaced.
func (k Keys) Save(path string) error {
	b, err := k.MarshalJSON()
	if err != nil {
		return err
	}
	// Written beside path and linked into place: a reader never sees a partial file, and the
	// link fails if path exists, so two processes creating keys at once agree on one set.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	if err != nil {
		return fmt.Errorf("identity: save keys: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	_, werr := tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("identity: save keys: %w", werr)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("identity: save keys: %w", err)
	}
	return nil
}

// LoadOrCreateKeys loads the keys at path, or creates new ones there if the file does not exist;
// created says which. Processes that start together with the same path end up with the same keys.
func LoadOrCreateKeys(path string) (k Keys, created bool, err error) {
	k, err = LoadKeys(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k = NewKeys()
	if err := k.Save(path); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race: use its keys
			k, err = LoadKeys(path)
			return k, false, err
		}
		return Keys{}, false, err
	}
	return k, true, nil
}
