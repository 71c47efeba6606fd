package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/felixge/fgprof"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/headroom/headroom/internal/labbin"
	labcli "github.com/headroom/headroom/lab/cli"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script")

// TestScripts runs the end-to-end CLI scripts in testdata/script. Each script gets $URL, a
// loopback server (/ answers "hello", /slow after 20 ms, /fail with 500, and the CPU and
// wall-clock profiles of the test process at /debug/pprof/profile and /debug/fgprof, /bomb a
// gzip that inflates to 1 GiB), $HOSTPORT, its address without the scheme, and $DOWN, an address
// where nothing listens.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:           "../../testdata/script",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			mux := http.NewServeMux()
			mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) })
			mux.HandleFunc("/slow", func(http.ResponseWriter, *http.Request) { time.Sleep(20 * time.Millisecond) })
			mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.Handle("/debug/fgprof", fgprof.Handler())
			mux.HandleFunc("/bomb", serveBomb)
			srv := httptest.NewServer(mux)
			env.Defer(srv.Close)
			env.Setenv("URL", srv.URL)
			env.Setenv("HOSTPORT", strings.TrimPrefix(srv.URL, "http://"))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			env.Setenv("DOWN", "http://"+ln.Addr().String())
			return ln.Close()
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"hr":       cmdHeadroom,
			"jsonkeys": cmdJSONKeys,
		},
	})
}

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"headroom": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
		// headroom lab and doctor run the lab's binary, found next to headroom.
		"headroom-lab": func() { os.Exit(labcli.Run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// cmdHeadroom runs the CLI as a process in the script's directory and checks its exit code:
// hr EXIT-CODE ARGS... EXIT-CODE may list codes joined by |, such as 0|3 for an open-model run
// whose verdict a loaded machine can make invalid (the generator sent late) and that is not what
// the script checks.
func cmdHeadroom(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: hr EXIT-CODE ARGS...")
	}
	// EXIT-CODE may list codes, such as 0|3: doctor exits 3, its report written, when a loaded
	// machine left a measurement invalid, which scripts about something else accept.
	var want []int
	for c := range strings.SplitSeq(args[0], "|") {
		n, err := strconv.Atoi(c)
		if err != nil {
			ts.Fatalf("hr: exit code %q is not a number", c)
		}
		want = append(want, n)
	}
	var bin string
	for dir := range strings.SplitSeq(ts.Getenv("PATH"), string(os.PathListSeparator)) {
		if p := filepath.Join(dir, "headroom"); fileExists(p) {
			bin = p
			break
		}
	}
	if bin == "" {
		ts.Fatalf("hr: headroom not on the script's PATH")
	}
	cmd := exec.Command(bin, args[1:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
	for _, k := range []string{"PATH", "HOME", "WORK", "TMPDIR"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	if v := ts.Getenv(labbin.Env); v != "" {
		cmd.Env = append(cmd.Env, labbin.Env+"="+v)
	}
	err := cmd.Run()
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("hr: %v", err)
	}
	if !slices.Contains(want, got) {
		ts.Fatalf("headroom %s: exit code %d, want %s", strings.Join(args[1:], " "), got, args[0])
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// cmdJSONKeys checks that a JSON file has each dotted key: jsonkeys FILE KEY...
func cmdJSONKeys(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: jsonkeys FILE KEY...")
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc); err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
	for _, key := range args[1:] {
		var cur any = doc
		for part := range strings.SplitSeq(key, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[part]
			if _, present := m[part]; !present {
				cur = nil
				break
			}
		}
		if (cur == nil) != neg {
			ts.Fatalf("%s: key %s present = %v", args[0], key, cur != nil)
		}
	}
}

// bombMember is a gzip member of 1 MiB of zeros (about 1 KB); a gzip stream may hold many.
var bombMember = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	return b.Bytes()
})

// serveBomb answers with a decompression bomb: about 1 MB of gzip that inflates to 1 GiB.
func serveBomb(w http.ResponseWriter, _ *http.Request) {
	for range 1024 {
		if _, err := w.Write(bombMember()); err != nil {
			return
		}
	}
}
