package memory_test

import (
	"testing"

	"github.com/headroom/headroom/lab/cache/memory"
)

func TestGetSet(t *testing.T) {
	t.Parallel()
	c, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, ok, _ := c.Get(ctx, "k"); ok {
		t.Fatal("hit on an empty cache")
	}
	_ = c.Set(ctx, "k", []byte("v"))
	if v, ok, err := c.Get(ctx, "k"); !ok || err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	_ = c.Delete(ctx, "k")
	if _, ok, _ := c.Get(ctx, "k"); ok {
		t.Fatal("hit after Delete")
	}
	if _, err := memory.New(memory.Config{MaxEntries: -1}); err == nil {
		t.Error("negative MaxEntries: no error")
	}
}
