package redis_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/headroom/headroom/lab/cache/redis"
)

func TestGetSet(t *testing.T) {
	t.Parallel()
	url := os.Getenv("HEADROOM_TEST_REDIS")
	if url == "" {
		t.Skip("HEADROOM_TEST_REDIS is not set (e.g. redis://127.0.0.1:6379/0): skipping Redis tests")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	c, err := redis.New(t.Context(), redis.Config{URL: url, KeyPrefix: "headroom:test:" + hex.EncodeToString(b) + ":"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	if _, ok, err := c.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("Get on empty = %v, %v", ok, err)
	}
	if err := c.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, "k"); !ok || err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	if err := c.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Get(ctx, "k"); ok {
		t.Fatal("hit after Delete")
	}
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	if _, err := redis.New(t.Context(), redis.Config{URL: "http://x"}); err == nil {
		t.Error("http URL: no error")
	}
}
