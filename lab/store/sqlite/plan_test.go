package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/store/sqlite"
)

// TestSearchPlans asks SQLite how it runs the two search statements (taken from their spans, so
// the plan is of the statement that really ran): the scan reads the posts table, the indexed
// search goes through the FTS5 index.
func TestSearchPlans(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lab.db")
	rec := tracetest.NewSpanRecorder()
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path, TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plan := func(mode lab.SearchMode) string {
		before := len(rec.Ended())
		if _, err := s.SearchPosts(t.Context(), "gopher", 20, mode); err != nil {
			t.Fatal(err)
		}
		var query string
		for _, kv := range rec.Ended()[before].Attributes() {
			if kv.Key == "db.query.text" {
				query = kv.Value.AsString()
			}
		}
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		args := []any{"gopher", 20}
		if mode == lab.SearchScan {
			args = []any{"%gopher%", "%gopher%", 20}
		}
		rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		return strings.Join(lines, "; ")
	}
	if p := plan(lab.SearchScan); !strings.Contains(p, "SCAN p") || strings.Contains(p, "VIRTUAL TABLE") {
		t.Errorf("scan plan = %q, want a scan of posts without the FTS index", p)
	} else {
		t.Logf("scan plan: %s", p)
	}
	if p := plan(lab.SearchIndexed); !strings.Contains(p, "VIRTUAL TABLE INDEX") {
		t.Errorf("indexed plan = %q, want the FTS5 index", p)
	} else {
		t.Logf("indexed plan: %s", p)
	}
}
