package loadgen

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadTargets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "body.json"), []byte(`{"n":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	in := `# mixed traffic
{"url":"http://127.0.0.1:8080/api/posts","weight":3}

{"method":"post","url":"http://127.0.0.1:8080/api/checkout","headers":{"X-Key":"k"},"body_file":"body.json"}
`
	got, err := ReadTargets(strings.NewReader(in), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d targets, want 2", len(got))
	}
	if got[0].Method != http.MethodGet || got[0].Weight != 3 {
		t.Errorf("first target %+v, want GET weight 3", got[0])
	}
	if got[1].Method != http.MethodPost || got[1].Body != `{"n":1}` || got[1].Headers["X-Key"] != "k" || got[1].Weight != 1 {
		t.Errorf("second target %+v", got[1])
	}
}

func TestReadTargetsErrorsNameTheLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, mention string }{
		{"", "no target"},
		{"# only a comment\n", "no target"},
		{`{"url":"http://h/"}` + "\n" + `{"url":`, "line 2"},
		{`{"url":"http://h/","wieght":2}`, `"wieght"`},
		{`{"url":"http://h/"} {"url":"http://h/"}`, "more than one"},
		{`{"url":"notaurl"}`, `"notaurl"`},
		{`{"url":"http://h/","weight":-1}`, "weight -1"},
		{`{"url":"http://h/","headers":{"Bad Name":"x"}}`, `"Bad Name"`},
		{`{"url":"http://h/","body":"x","body_file":"y"}`, "not both"},
		{`{"url":"http://h/","body_file":"missing.json"}`, "missing.json"},
	} {
		_, err := ReadTargets(strings.NewReader(tc.in), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.mention) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ReadTargets(%q) = %v, want a one-line error mentioning %s", tc.in, err, tc.mention)
		}
	}
}

func FuzzReadTargets(f *testing.F) {
	f.Add(`{"url":"http://127.0.0.1/","weight":2}`)
	f.Add(`{"method":"POST","url":"http://h:1/x?y=1","headers":{"A":"b"},"body":"{}"}`)
	f.Add("# c\n\n{}")
	f.Fuzz(func(t *testing.T, in string) {
		ts, err := ReadTargets(strings.NewReader(in), t.TempDir())
		if err != nil {
			return
		}
		for _, tg := range ts {
			if _, err := newH1Request(tg, userAgent); err != nil {
				t.Fatalf("accepted target %+v cannot be prepared: %v", tg, err)
			}
			if tg.Weight <= 0 {
				t.Fatalf("accepted weight %v", tg.Weight)
			}
		}
	})
}
