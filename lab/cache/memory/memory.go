package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"
)

// Config configures [New].
type Config struct {
	// MaxEntries bounds the number of entries. Default 10000.
	MaxEntries int
	// TTL is how long an entry lives after it is written. Default 2s.
	TTL time.Duration
}

// Cache maps string keys to byte values in process memory. It is safe for concurrent use.
type Cache struct {
	c *otter.Cache[string, []byte]
}

// New returns an empty cache.
func New(cfg Config) (*Cache, error) {
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.TTL == 0 {
		cfg.TTL = 2 * time.Second
	}
	if cfg.MaxEntries < 0 || cfg.TTL < 0 {
		return nil, fmt.Errorf("memory cache: MaxEntries %d and TTL %v must be positive", cfg.MaxEntries, cfg.TTL)
	}
	c, err := otter.New(&otter.Options[string, []byte]{
		MaximumSize:      cfg.MaxEntries,
		ExpiryCalculator: otter.ExpiryWriting[string, []byte](cfg.TTL),
	})
	if err != nil {
		return nil, fmt.Errorf("memory cache: %w", err)
	}
	return &Cache{c: c}, nil
}

// Get returns the value stored under key, if present and not expired. It never fails.
func (c *Cache) Get(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := c.c.GetIfPresent(key)
	return v, ok, nil
}

// Set stores val under key for the cache's TTL. It never fails.
func (c *Cache) Set(_ context.Context, key string, val []byte) error {
	c.c.Set(key, val)
	return nil
}

// Delete removes key.
func (c *Cache) Delete(_ context.Context, key string) error {
	c.c.Invalidate(key)
	return nil
}
