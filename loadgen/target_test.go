package loadgen

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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

// TestSendersSendTheTargetsHeaders: both senders (the fast path, net/http for TLS and HTTP/2)
// send a target's headers and no Content-Type of their own, take a Host header for the virtual
// host and the URL's user information as Basic credentials, as net/http's client and vegeta do.
func TestSendersSendTheTargetsHeaders(t *testing.T) {
	t.Parallel()
	shareCPU(t, false)
	type seen struct{ host, auth, ctype, lower, ua, body string }
	var mu sync.Mutex
	var got []seen
	h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{r.Host, r.Header.Get("Authorization"), strings.Join(r.Header.Values("Content-Type"), "|"),
			r.Header.Get("X-Lower"), strings.Join(r.Header.Values("User-Agent"), "|"), string(b)})
	})
	plain, tlsSrv := httptest.NewServer(h), httptest.NewTLSServer(h)
	t.Cleanup(plain.Close)
	t.Cleanup(tlsSrv.Close)
	want := seen{host: "example.test", auth: "Basic YWxpY2U6cHc=", lower: "v", ua: "headroom", body: "a=1"}
	for _, srv := range []*httptest.Server{plain, tlsSrv} {
		u := strings.Replace(srv.URL, "://", "://alice:pw@", 1) + "/x"
		l := run(t, t.Context(), Config{Targets: []Target{{Method: "POST", URL: u, Headers: map[string]string{"Host": "example.test", "x-lower": "v"}, Body: "a=1"}},
			Arrival: Arrival{Rate: 20}, Duration: 200 * time.Millisecond, Insecure: true})
		mu.Lock()
		if l.Requests == 0 || len(got) == 0 || got[0] != want {
			t.Errorf("%s: %d requests, the server saw %+v; want %+v", srv.URL, l.Requests, got, want)
		}
		got = nil
		mu.Unlock()
	}
}

// TestWithJSONContentType: headroom's own targets lines send a body as JSON unless they name a
// type; vegeta's formats send the headers they name and no other.
func TestWithJSONContentType(t *testing.T) {
	t.Parallel()
	in := `{"url":"http://h/a","body":"{}"}` + "\n" + `{"url":"http://h/b","body":"x=1","headers":{"content-type":"application/x-www-form-urlencoded"}}` + "\n" + `{"url":"http://h/c"}`
	got, err := ReadTargets(strings.NewReader(in), "")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []map[string]string{{"Content-Type": "application/json"}, {"content-type": "application/x-www-form-urlencoded"}, nil} {
		if !maps.Equal(got[i].Headers, want) {
			t.Errorf("target %d headers %v, want %v", i, got[i].Headers, want)
		}
	}
	vg, _, err := ReadTargetsAs(strings.NewReader("POST http://h/\n@<<EOF\n{}\nEOF\n"), TargetsOptions{Format: TargetsVegeta})
	if err != nil || len(vg[0].Headers) != 0 {
		t.Errorf("vegeta target %+v, %v: want no header", vg, err)
	}
}
