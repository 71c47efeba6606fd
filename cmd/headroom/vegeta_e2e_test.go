package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// vegetaEnv names the variable holding the path of a vegeta binary, the one tools/vegeta/go.mod
// pins (.ci/run builds it).
const vegetaEnv = "HEADROOM_TEST_VEGETA"

// TestVegetaTargetsFiles: vegeta's own example targets files, fed to the real `vegeta attack` and
// to `headroom load --targets`, make both send the same requests — method, request target, header
// names as written (vegeta keeps their case) with their values, and body — seen byte by byte by
// a loopback server. The files in testdata/vegeta are the examples of vegeta v12.13.0's README
// ("-format", http and json), verbatim; the test points their host goku and their /path/to/ body
// files at its own. What each tool adds by itself is left out of the comparison: its User-Agent,
// the Accept-Encoding: gzip of Go's transport and the X-Vegeta-Seq counter (vegeta), the traceparent
// (headroom).
func TestVegetaTargetsFiles(t *testing.T) {
	t.Parallel()
	bin := os.Getenv(vegetaEnv)
	if bin == "" {
		t.Skip(vegetaEnv + " is not set (build it: go build -modfile=tools/vegeta/go.mod -o DIR/vegeta github.com/tsenart/vegeta/v12): skipping the comparison with the real vegeta")
	}
	for _, tc := range []struct {
		file, vegetaFormat, headroomFormat string
		targets                            int
	}{
		{"simple.txt", "http", "vegeta", 3},
		{"headers.txt", "http", "vegeta", 2},
		{"bodies.txt", "http", "vegeta", 2},
		{"bodies-headers.txt", "http", "vegeta", 1},
		{"comments.txt", "http", "vegeta", 1},
		{"json.jsonl", "json", "vegeta-json", 1},
		{"targeter-doc.txt", "http", "vegeta", 2},
		{"header-lines.txt", "http", "vegeta", 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			rec := startRawRecorder(t)
			targets := vegetaExample(t, tc.file, rec.addr, dir)

			out, err := exec.CommandContext(t.Context(), bin, "attack", "-targets", targets, "-format", tc.vegetaFormat,
				"-rate", "30/1s", "-duration", "1s", "-output", filepath.Join(dir, "results.bin")).CombinedOutput()
			if err != nil {
				t.Fatalf("vegeta attack: %v\n%s", err, out)
			}
			v := distinct(rec.take(t), "Go-http-client/1.1")
			if len(v) != tc.targets {
				t.Fatalf("vegeta sent %d distinct requests, want the file's %d targets:\n%s", len(v), tc.targets, strings.Join(v, "\n---\n"))
			}
			// The format named, then told from the content (what the docs promise).
			for _, format := range []string{tc.headroomFormat, "auto"} {
				// Targets are drawn at random by weight: with 60 requests, a target of
				// three is never drawn with a chance of 3 in 10 million.
				code, _, stderr := runIO(t, "", "load", "--targets", targets, "--targets-format", format, "-n", "60", "--rate", "200", "-q")
				if code != 0 && code != 3 { // 3: on a loaded machine, the generator's verdict may say it sent late
					t.Fatalf("headroom load --targets-format %s: exit %d\n%s", format, code, stderr)
				}
				if h := distinct(rec.take(t), "headroom"); !slices.Equal(v, h) {
					t.Errorf("--targets-format %s: headroom sent:\n%s\n=== want what vegeta sent:\n%s", format, strings.Join(h, "\n---\n"), strings.Join(v, "\n---\n"))
				}
			}
		})
	}
}

// vegetaExample writes testdata/vegeta/name into dir with the examples' hosts (goku, foo.bar)
// replaced by addr and each /path/to/… body file by one in dir, which it writes, and returns its
// path.
func vegetaExample(t *testing.T, name, addr, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vegeta", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "goku:9090", "goku") // the JSON example has no port
	s = strings.NewReplacer("goku", addr, "https://foo.bar", "http://"+addr, "@/path/to/", "@"+dir+"/").Replace(s)
	for line := range strings.Lines(s) {
		if body, ok := strings.CutPrefix(strings.TrimSpace(line), "@"); ok {
			if err := os.MkdirAll(filepath.Dir(body), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(body, []byte(`{"file": "`+filepath.Base(body)+`"}`+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawRequest is a request as it came over the wire: its request line, its header fields in
// order with their names as written, its body.
type rawRequest struct {
	line   string
	fields [][2]string
	body   string
}

// rawRecorder is an HTTP/1.1 server on loopback that keeps every request as it arrived (net/http
// would canonicalize the header names) and answers each with an empty 200.
type rawRecorder struct {
	addr string
	mu   sync.Mutex
	reqs []rawRequest
	errs []error
}

func startRawRecorder(t *testing.T) *rawRecorder {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rawRecorder{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { r.serve(c) })
		}
	})
	return r
}

func (r *rawRecorder) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := readRawRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.mu.Lock()
				r.errs = append(r.errs, err)
				r.mu.Unlock()
			}
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.mu.Unlock()
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); err != nil {
			return
		}
	}
}

// readRawRequest reads one request with a Content-Length body or none (neither tool chunks a
// body of known length).
func readRawRequest(br *bufio.Reader) (rawRequest, error) {
	var req rawRequest
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && req.line == "" && line == "" {
				return req, io.EOF
			}
			return req, fmt.Errorf("reading the head: %w", err)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if req.line == "" {
			req.line = line
			continue
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return req, fmt.Errorf("header line %q", line)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			if length, err = strconv.Atoi(value); err != nil {
				return req, fmt.Errorf("content-length %q", value)
			}
		case "transfer-encoding":
			return req, fmt.Errorf("transfer-encoding %q: not expected", value)
		}
		req.fields = append(req.fields, [2]string{name, value})
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		return req, fmt.Errorf("reading the body: %w", err)
	}
	req.body = string(body)
	return req, nil
}

// take returns the requests received since the last take, failing the test on a malformed one.
func (r *rawRecorder) take(t *testing.T) []rawRequest {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Fatalf("malformed requests: %v", r.errs)
	}
	reqs := r.reqs
	r.reqs = nil
	return reqs
}

// distinct renders each request as text — the request line, the header fields sorted by name
// with the values of a repeated name joined by ", " (RFC 9110 §5.3: the same field), the body —
// without the sender's own fields (a User-Agent of ua, Accept-Encoding: gzip, vegeta's X-Vegeta-Seq,
// headroom's Traceparent), and
// returns the distinct texts, sorted.
func distinct(reqs []rawRequest, ua string) []string {
	var out []string
	for _, req := range reqs {
		var names []string
		values := map[string][]string{}
		for _, f := range req.fields {
			switch {
			case strings.EqualFold(f[0], "User-Agent") && f[1] == ua,
				strings.EqualFold(f[0], "Accept-Encoding") && f[1] == "gzip",
				strings.EqualFold(f[0], "X-Vegeta-Seq"), strings.EqualFold(f[0], "Traceparent"):
				continue
			}
			if _, ok := values[f[0]]; !ok {
				names = append(names, f[0])
			}
			values[f[0]] = append(values[f[0]], f[1])
		}
		slices.Sort(names)
		var b strings.Builder
		b.WriteString(req.line + "\n")
		for _, n := range names {
			fmt.Fprintf(&b, "%s: %s\n", n, strings.Join(values[n], ", "))
		}
		b.WriteString("\n" + req.body)
		if s := b.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
