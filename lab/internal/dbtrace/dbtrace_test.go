package dbtrace

import "testing"

func TestOperation(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"SELECT 1":                 "SELECT",
		"\n\tinsert into x values": "INSERT",
		"WITH(x) AS":               "WITH",
		"":                         "",
	} {
		if got := Operation(q); got != want {
			t.Errorf("Operation(%q) = %q, want %q", q, got, want)
		}
	}
}

func TestCollection(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"SELECT id FROM users WHERE id = ?":                 "users",
		"SELECT (SELECT COUNT(*) FROM users), 1":            "users",
		"INSERT INTO posts (a) VALUES (?)":                  "posts",
		"UPDATE orders SET status = ?":                      "orders",
		"DELETE FROM users WHERE id = $1":                   "users",
		"COPY comments (id) FROM STDIN":                     "comments",
		"SELECT 1":                                          "",
		`SELECT p.id FROM posts p WHERE p.id IN (SELECT 1)`: "posts",
	} {
		if got := Collection(q); got != want {
			t.Errorf("Collection(%q) = %q, want %q", q, got, want)
		}
	}
}
