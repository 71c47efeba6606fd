package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab/store/postgres"
)

// EnvVar names the environment variable holding the test server's URL.
const EnvVar = "HEADROOM_TEST_POSTGRES"

// URL returns the test server's URL or skips the test when EnvVar is unset.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(EnvVar)
	if url == "" {
		t.Skip(EnvVar + " is not set (e.g. postgres://127.0.0.1:5432/test?sslmode=disable): skipping PostgreSQL tests")
	}
	return url
}

// Open returns a store in a fresh schema, closed and dropped by the test's cleanup. It skips the
// test when EnvVar is unset.
func Open(t testing.TB, tp trace.TracerProvider) *postgres.Store {
	t.Helper()
	url, schema := Schema(t)
	s, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema, MaxConns: 4, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Schema returns the test server's URL and the name of a fresh schema that the test's cleanup
// drops (whoever creates it). It skips the test when EnvVar is unset.
func Schema(t testing.TB) (url, schema string) {
	t.Helper()
	url = URL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = "headroom_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
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
	return url, schema
}
