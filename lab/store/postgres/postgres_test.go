package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/store/postgres"
	"github.com/headroom/headroom/lab/store/storetest"
)

// testURL returns the server named by HEADROOM_TEST_POSTGRES or skips the test.
func testURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("HEADROOM_TEST_POSTGRES")
	if url == "" {
		t.Skip("HEADROOM_TEST_POSTGRES is not set (e.g. postgres://127.0.0.1:5432/test?sslmode=disable): skipping PostgreSQL tests")
	}
	return url
}

// openIsolated opens a store in a fresh schema that the test's cleanup drops.
func openIsolated(t *testing.T, url string) *postgres.Store {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "headroom_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	s, err := postgres.Open(t.Context(), postgres.Config{URL: url, Schema: schema, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	storetest.Exercise(t, func(t *testing.T) lab.Store { return openIsolated(t, url) })
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	if _, err := postgres.Open(t.Context(), postgres.Config{}); err == nil {
		t.Error("Open with empty URL: no error")
	}
}
