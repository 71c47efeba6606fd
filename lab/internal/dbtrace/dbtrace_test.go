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
