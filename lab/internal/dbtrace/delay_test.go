package dbtrace_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/headroom/headroom/lab/internal/dbtrace"
)

func openDelayed(t *testing.T, d time.Duration) *sql.DB {
	t.Helper()
	c, err := sqlite.NewConnector("file:" + filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(dbtrace.Delay(c, d))
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestDelayWaitsPerRoundTrip runs statements in every form the lab's store uses and checks they
// took at least one delay each. Only a lower bound: a timer never fires early, and a shared
// machine may add any time on top.
func TestDelayWaitsPerRoundTrip(t *testing.T) {
	t.Parallel()
	const d = 5 * time.Millisecond
	db := openDelayed(t, d)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	stmt, err := db.PrepareContext(ctx, `INSERT INTO t (v) VALUES (?)`)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()

	start, trips := time.Now(), 0
	for range 5 { // direct executions
		if _, err := db.ExecContext(ctx, `INSERT INTO t (v) VALUES ('a')`); err != nil {
			t.Fatal(err)
		}
		trips++
	}
	for range 5 { // prepared executions
		if _, err := stmt.ExecContext(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		trips++
	}
	for range 5 { // queries; their rows come with the answer
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		trips++
	}
	tx, err := db.BeginTx(ctx, nil) // BEGIN, a statement, COMMIT
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM t WHERE v = 'a'`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	trips += 3
	if got, want := time.Since(start), time.Duration(trips)*d; got < want {
		t.Errorf("%d round trips took %v, want ≥ %v (%d × %v)", trips, got, want, trips, d)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 5 {
		t.Errorf("rows left = %d, %v; want the 5 prepared inserts (the committed DELETE removed the others)", n, err)
	}
}

// TestDelayZeroIsTheBareDriver: no delay means the driver's own connector, not a wrapper that
// waits for nothing.
func TestDelayZeroIsTheBareDriver(t *testing.T) {
	t.Parallel()
	c, err := sqlite.NewConnector("file:" + filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, -time.Millisecond} {
		if got := dbtrace.Delay(c, d); got != c {
			t.Errorf("Delay(c, %v) = %T; want c itself", d, got)
		}
	}
}

// TestDelayEndsWithTheContext: a statement whose context ends during the wait returns the
// context's error instead of waiting the delay out.
func TestDelayEndsWithTheContext(t *testing.T) {
	t.Parallel()
	db := openDelayed(t, time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER)`); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exec = %v; want context.DeadlineExceeded", err)
	}
}
