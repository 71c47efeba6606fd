package flame

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"strings"
	"testing"
	"time"

	"github.com/felixge/fgprof"
)

func folded(t *testing.T, s string) *Folded {
	t.Helper()
	f, err := ParseFolded(strings.NewReader(s), "nanoseconds")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestTree(t *testing.T) {
	t.Parallel()
	root := folded(t, "a;b;c 5\na;b 3\na;d 2\ne 10\n").Tree()
	if root.Total != 20 || len(root.Children) != 2 {
		t.Fatalf("root total %d, %d children; want 20, 2", root.Total, len(root.Children))
	}
	a := root.find([]string{"a"})
	b := root.find([]string{"a", "b"})
	if a.Total != 10 || a.Self != 0 || b.Total != 8 || b.Self != 3 || root.find([]string{"a", "b", "c"}).Self != 5 {
		t.Errorf("a %+v, b %+v: want a total 10 self 0, b total 8 self 3", *a, *b)
	}
	if root.find([]string{"a", "x"}) != nil {
		t.Error("found a path that is not in the stacks")
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	// base: b is half of a's time; next (twice as long a run): b is 3/4. Shares, not raw values,
	// are compared, so the longer run does not make everything look like growth.
	base := folded(t, "a;b 50\na;c 50\n")
	next := folded(t, "a;b 150\na;c 50\n")
	d := Diff(base, next)
	near := func(x, want float64) bool { return math.Abs(x-want) < 1e-9 }
	b, c, a := d.find([]string{"a", "b"}), d.find([]string{"a", "c"}), d.find([]string{"a"})
	if !near(b.Delta, 0.25) || !near(c.Delta, -0.25) || !near(a.Delta, 0) {
		t.Errorf("deltas a %v b %v c %v; want 0, +0.25, −0.25", a.Delta, b.Delta, c.Delta)
	}
	if b.BaseTotal != 50 || b.Total != 150 {
		t.Errorf("b base %d, new %d; want 50, 150", b.BaseTotal, b.Total)
	}
	// A path new in next has its whole share as delta.
	d = Diff(base, folded(t, "a;b 50\na;c 50\na;n 100\n"))
	if n := d.find([]string{"a", "n"}); !near(n.Delta, 0.5) || n.BaseTotal != 0 {
		t.Errorf("new path delta %v base %d; want 0.5, 0", n.Delta, n.BaseTotal)
	}
}

func TestSVG(t *testing.T) {
	t.Parallel()
	p, err := Parse(synthetic(t))
	if err != nil {
		t.Fatal(err)
	}
	f := p.Fold(FoldOptions{})
	var b bytes.Buffer
	if err := WriteSVG(&b, f.Tree(), SVGOptions{Title: "CPU <test>", Subtitle: "synthetic", Unit: f.Unit}); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, b.Bytes())
	golden(t, "synthetic.svg", b.Bytes())
	s := b.String()
	for _, want := range []string{"CPU &lt;test&gt;", "work.(*T).Run", "example.com/app/work.helper: 500.0 ms, 50.00 %"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	var d bytes.Buffer
	diff := Diff(folded(t, "main.main;a 50\nmain.main;b 50\n"), folded(t, "main.main;a 90\nmain.main;b 10\n"))
	if err := WriteSVG(&d, diff, SVGOptions{Diff: true, Unit: "nanoseconds"}); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, d.Bytes())
	// a grew the most (fully red), b shrank the most (fully blue).
	if !strings.Contains(d.String(), "rgb(255,35,35)") || !strings.Contains(d.String(), "rgb(35,35,255)") {
		t.Errorf("differential SVG lacks full red and full blue frames:\n%s", d.String())
	}
	var e bytes.Buffer
	if err := WriteSVG(&e, (&Folded{}).Tree(), SVGOptions{}); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, e.Bytes())
	if !strings.Contains(e.String(), "no samples") {
		t.Error("empty graph does not say no samples")
	}
}

// checkSVG fails unless b is well-formed XML with an <svg> root and no reference outside itself.
func checkSVG(t *testing.T, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			for _, a := range se.Attr {
				if a.Name.Local == "href" || strings.Contains(a.Value, "url(") {
					t.Errorf("SVG refers outside itself: %s=%q", a.Name.Local, a.Value)
				}
			}
		}
	}
	if root != "svg" {
		t.Errorf("root element %q, want svg", root)
	}
}

func TestShortNameAndLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"github.com/x/y/lab/api.(*API).list": "api.(*API).list",
		"runtime.mallocgc":                   "runtime.mallocgc",
		"net/http.(*conn).serve":             "http.(*conn).serve",
		"main.f.func1":                       "main.f.func1",
	} {
		if got := shortName(in); got != want {
			t.Errorf("shortName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := fitLabel("runtime.mallocgc", 60); got != "runtim.." {
		t.Errorf("fitLabel = %q", got)
	}
	if fitLabel("abc", 10) != "" {
		t.Error("label drawn in a frame too narrow for it")
	}
}

func TestHotspots(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, stacks string
		cfg          HotspotConfig
		want         []string // functions, in order
		remedy       string   // a word the first remedy must contain
	}{
		{"one hot leaf", "main;hash 60\nmain;io 31\nmain 9\n", HotspotConfig{}, []string{"hash", "io"}, "cheaper"},
		{"threshold", "main;hash 60\nmain;io 30\nmain 10\n", HotspotConfig{MinShare: 0.5}, []string{"hash"}, "cheaper"},
		{"max", "a 25\nb 25\nc 25\nd 25\n", HotspotConfig{Max: 2}, []string{"a", "b"}, ""},
		{"flat share, not cum", "main;a;b;c 5\nmain;d 5\nmain 90\n", HotspotConfig{}, []string{"main"}, ""},
		{"gc", "main;runtime.mallocgc 80\nmain 20\n", HotspotConfig{}, []string{"runtime.mallocgc", "main"}, "allocate less"},
		{"syscalls", "main;syscall.Syscall6 80\nmain 20\n", HotspotConfig{}, []string{"syscall.Syscall6", "main"}, "system calls"},
		{"none above", "a 5\nb 5\nc 5\nd 5\ne 5\nf 5\ng 5\nh 5\ni 5\nj 5\nk 5\n", HotspotConfig{}, nil, ""},
		{"empty", "", HotspotConfig{}, nil, ""},
		{"too few samples", "main;f 90000000\nmain 10000000\n", HotspotConfig{}, nil, ""},
		{"preemption is not a hot spot", "main;runtime.asyncPreempt 50\nmain;f 40\nmain;0xdead 10\n", HotspotConfig{}, []string{"f"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := ParseFolded(strings.NewReader(tc.stacks), "samples")
			if strings.HasPrefix(tc.name, "too few") {
				in, err = ParseFolded(strings.NewReader(tc.stacks), "nanoseconds")
			}
			if err != nil {
				t.Fatal(err)
			}
			fs := Hotspots(in, "GET /x", tc.cfg)
			var got []string
			for _, f := range fs {
				got = append(got, f.Evidence.Statement)
				if f.Kind != "cpu_hotspot" || f.Endpoint != "GET /x" || f.Evidence.CPUShare < 0.1 || f.Remedy == "" {
					t.Errorf("finding %+v", f)
				}
				// A profile has no P99 to weigh against: the share and the saving are not known.
				if f.ShareOfP99Known || f.EstimatedSavingKnown || f.ShareOfP99 != 0 || f.EstimatedSavingMS != 0 {
					t.Errorf("finding %+v: want share of P99 and saving unknown (0)", f)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("hot spots %v, want %v", got, tc.want)
			}
			if tc.remedy != "" && !strings.Contains(fs[0].Remedy, tc.remedy) {
				t.Errorf("remedy %q lacks %q", fs[0].Remedy, tc.remedy)
			}
		})
	}
	f := Hotspots(folded(t, "main;hash 600000000\nmain 400000000\n"), "", HotspotConfig{})[0]
	if f.Evidence.TotalMS != 600 || f.Evidence.CPUShare != 0.6 || !strings.Contains(f.Summary, "60 %") {
		t.Errorf("evidence %+v, summary %q: want 600 ms, share 0.6", f.Evidence, f.Summary)
	}
}

// TestFetch profiles a real server: net/http/pprof and fgprof on loopback, with a handler that
// burns CPU meanwhile.
func TestFetch(t *testing.T) {
	t.Parallel()
	cpuProfiling.Lock()
	defer cpuProfiling.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.Handle("/debug/fgprof", fgprof.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { // CPU work for the profile to see
		x := 0
		for ctx.Err() == nil {
			for i := range 1_000_000 {
				x += i * i
			}
		}
		_ = x
	}()
	cfg := FetchConfig{Duration: time.Second}
	type got struct {
		p   *Profile
		raw []byte
		err error
	}
	res := make(chan got, 2)
	for _, k := range []Kind{CPU, Wall} {
		go func() {
			p, raw, err := Fetch(t.Context(), cfg, srv.URL+"/api/ignored?x=1", k)
			res <- got{p, raw, err}
		}()
	}
	for range 2 {
		g := <-res
		if g.err != nil {
			t.Fatal(g.err)
		}
		if f := g.p.Fold(FoldOptions{}); f.Total <= 0 || len(g.raw) == 0 {
			t.Errorf("fetched profile: total %d, %d bytes", f.Total, len(g.raw))
		}
	}
	_, _, err := Fetch(t.Context(), FetchConfig{Duration: time.Second, CPUPath: "/nope"}, srv.URL, CPU)
	if !errors.Is(err, ErrNoEndpoint) || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing endpoint: %v, want ErrNoEndpoint naming the 404", err)
	}
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "<!doctype html><p>welcome</p>")
	}))
	t.Cleanup(html.Close)
	if _, _, err := Fetch(t.Context(), cfg, html.URL, CPU); !errors.Is(err, ErrNoEndpoint) || !strings.Contains(err.Error(), "HTML") {
		t.Errorf("HTML answer: %v, want ErrNoEndpoint saying HTML", err)
	}
}

func TestProfileURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target string
		d      time.Duration
		kind   Kind
		want   string // URL, or an error substring prefixed with "error:"
	}{
		{"http://127.0.0.1:8080/api/posts?limit=2", 10 * time.Second, CPU, "http://127.0.0.1:8080/debug/pprof/profile?seconds=10"},
		{"https://h:1", 2 * time.Second, Wall, "https://h:1/debug/fgprof?seconds=2"},
		{"127.0.0.1:8080", time.Second, CPU, "error:want an http:// or https:// URL"},
		{"ftp://h/", time.Second, CPU, "error:want an http://"},
		{"http://h/", 1500 * time.Millisecond, CPU, "error:whole seconds"},
		{"http://h/", 0, CPU, "error:at least 1s"},
		{"http://h/", time.Second, "heap", "error:profile kind"},
	} {
		got, err := FetchConfig{Duration: tc.d}.ProfileURL(tc.target, tc.kind)
		if want, isErr := strings.CutPrefix(tc.want, "error:"); isErr {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ProfileURL(%q, %v) error %v, want %q", tc.target, tc.d, err, want)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ProfileURL(%q) = %q, %v; want %q", tc.target, got, err, tc.want)
		}
	}
}

func TestTrimLeaves(t *testing.T) {
	t.Parallel()
	got := folded(t, "main;wait;runtime.selectgo;runtime.gopark 10\nmain;wait 5\nruntime.goexit 3\nmain;f 1\n").TrimLeaves("runtime.")
	var b bytes.Buffer
	if err := got.WriteFolded(&b); err != nil {
		t.Fatal(err)
	}
	if want := "main;f 1\nmain;wait 15\nruntime.goexit 3\n"; b.String() != want {
		t.Errorf("TrimLeaves:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestDiffTopAndWriteTop(t *testing.T) {
	t.Parallel()
	base := folded(t, "main;a 50\nmain;b 50\n")
	next := folded(t, "main;a 80\nmain;b 10\nmain;c 10\n")
	got := DiffTop(base, next, 0)
	if len(got) != 3 || got[0].Name != "b" || math.Abs(got[0].Delta+0.4) > 1e-9 || got[1].Name != "a" || got[2].Name != "c" {
		t.Errorf("DiffTop = %+v; want b −0.4, a +0.3, c +0.1", got)
	}
	var b bytes.Buffer
	if err := WriteTop(&b, next, 2); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[1], "  a") || !strings.Contains(lines[1], "80.0%") {
		t.Errorf("WriteTop:\n%s\nwant a header and a (80.0%%) first of two rows", b.String())
	}
}
