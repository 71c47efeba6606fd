package flame

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// synthetic builds a small CPU profile: main calls work (hot) and io; work calls an inlined
// helper; samples are labelled by route.
func synthetic(t testing.TB) []byte {
	t.Helper()
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	mainF, work, helper, io, rt := fn(1, "main.main"), fn(2, "example.com/app/work.(*T).Run"), fn(3, "example.com/app/work.helper"), fn(4, "main.io"), fn(5, "runtime.mallocgc")
	loc := func(id uint64, fns ...*profile.Function) *profile.Location {
		l := &profile.Location{ID: id, Address: 0x1000 + id}
		for _, f := range fns {
			l.Line = append(l.Line, profile.Line{Function: f, Line: 1})
		}
		return l
	}
	lMain, lWork, lHelperInWork, lIO, lRT := loc(1, mainF), loc(2, work), loc(3, helper, work), loc(4, io), loc(5, rt)
	lRaw := &profile.Location{ID: 6, Address: 0xdead}
	s := func(v int64, route string, locs ...*profile.Location) *profile.Sample {
		smp := &profile.Sample{Location: locs, Value: []int64{v / 10_000_000, v}}
		if route != "" {
			smp.Label = map[string][]string{"http.route": {route}}
		}
		return smp
	}
	p := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10_000_000,
		DurationNanos: 1e9,
		Function:      []*profile.Function{mainF, work, helper, io, rt},
		Location:      []*profile.Location{lMain, lWork, lHelperInWork, lIO, lRT, lRaw},
		Sample: []*profile.Sample{
			s(500_000_000, "GET /a", lHelperInWork, lMain), // leaf first: helper inlined into work
			s(200_000_000, "GET /a", lWork, lMain),
			s(100_000_000, "GET /b", lRT, lIO, lMain),
			s(100_000_000, "GET /b", lRT, lIO, lMain), // same stack again: folded into one line
			s(50_000_000, "", lRaw, lMain),
			s(50_000_000, "", lMain),
		},
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestFoldGolden(t *testing.T) {
	t.Parallel()
	p, err := Parse(synthetic(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opt  FoldOptions
	}{
		{"synthetic.folded", FoldOptions{}},
		{"synthetic-a.folded", FoldOptions{LabelKey: "http.route", LabelValue: "GET /a"}},
	} {
		var b bytes.Buffer
		if err := p.Fold(tc.opt).WriteFolded(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, tc.name, b.Bytes())
	}
	if got := strings.Join(p.LabelValues("http.route"), ","); got != "GET /a,GET /b" {
		t.Errorf("LabelValues = %q, want GET /a,GET /b", got)
	}
}

func TestFoldRoundTrip(t *testing.T) {
	t.Parallel()
	p, err := Parse(synthetic(t))
	if err != nil {
		t.Fatal(err)
	}
	f := p.Fold(FoldOptions{})
	var b bytes.Buffer
	if err := f.WriteFolded(&b); err != nil {
		t.Fatal(err)
	}
	g, err := ParseFolded(&b, f.Unit)
	if err != nil {
		t.Fatal(err)
	}
	if g.Total != f.Total || len(g.Stacks) != len(f.Stacks) {
		t.Errorf("round trip: total %d, %d stacks; want %d, %d", g.Total, len(g.Stacks), f.Total, len(f.Stacks))
	}
	if f.Total != 1_000_000_000 || f.Unit != "nanoseconds" {
		t.Errorf("total %d %s, want 1e9 nanoseconds", f.Total, f.Unit)
	}
}

func TestParseBadInput(t *testing.T) {
	t.Parallel()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("hello"))
	_ = zw.Close()
	good := synthetic(t)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "empty input"},
		{"html", "<html><body>404 page not found</body></html>", "got HTML"},
		{"text", "404 page not found\n", "not a pprof profile"},
		{"gzip of text", gz.String(), "not a pprof profile"},
		{"truncated", string(good[:len(good)/2]), "not a pprof profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%s) error %v, want one containing %q", tc.name, err, tc.want)
			}
		})
	}
	// Uncompressed protocol buffers are accepted as well as gzipped ones.
	p, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if err := p.p.WriteUncompressed(&raw); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(raw.Bytes()); err != nil {
		t.Errorf("uncompressed profile: %v", err)
	}
}

func TestParseFoldedBadInput(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"a;b", "a;b x", "a;b -3", ";a 1", "a;;b 1", "a; 1", " 5", "a 9223372036854775807\nb 1\n"} {
		if _, err := ParseFolded(strings.NewReader(in), "samples"); err == nil {
			t.Errorf("ParseFolded(%q) accepted bad input", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(synthetic(f))
	for _, name := range []string{"lab-cpu.pb.gz", "lab-wall.pb.gz"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("<html>"))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses must fold, draw and render without panicking.
		fd := p.Fold(FoldOptions{})
		_ = fd.Top(5)
		var out bytes.Buffer
		if err := WriteSVG(&out, fd.Tree(), SVGOptions{Unit: fd.Unit}); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseFolded(f *testing.F) {
	f.Add("a;b;c 10\na;b 5\n")
	f.Add("x 1")
	f.Fuzz(func(t *testing.T, in string) {
		fd, err := ParseFolded(strings.NewReader(in), "samples")
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := fd.WriteFolded(&b); err != nil {
			t.Fatal(err)
		}
		again, err := ParseFolded(&b, "samples")
		if err != nil {
			t.Fatalf("re-parse of written folded output: %v", err)
		}
		if again.Total != fd.Total {
			t.Fatalf("total %d after round trip, want %d", again.Total, fd.Total)
		}
	})
}

func readProfile(tb testing.TB, name string) *Profile {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestRealProfiles folds the lab's CPU and wall profiles (captured under load, see
// testdata/README.md): the per-route CPU profiles must add up to at most the whole, and the
// lab's handlers must show up in them.
func TestRealProfiles(t *testing.T) {
	t.Parallel()
	cpu := readProfile(t, "lab-cpu.pb.gz")
	all := cpu.Fold(FoldOptions{})
	routes := cpu.LabelValues("http.route")
	if len(routes) < 2 {
		t.Fatalf("routes %v: want the lab's labelled routes", routes)
	}
	var sum int64
	for _, r := range routes {
		f := cpu.Fold(FoldOptions{LabelKey: "http.route", LabelValue: r})
		if f.Total <= 0 {
			t.Errorf("route %s: no samples", r)
		}
		sum += f.Total
	}
	if sum > all.Total {
		t.Errorf("routes sum to %d > whole profile %d", sum, all.Total)
	}
	wall := readProfile(t, "lab-wall.pb.gz").Fold(FoldOptions{})
	if wall.Unit != "nanoseconds" || wall.Total <= all.Total {
		t.Errorf("wall profile total %d %s: want nanoseconds, more than the CPU total %d", wall.Total, wall.Unit, all.Total)
	}
	found := false
	for _, s := range wall.Stacks {
		if strings.Contains(strings.Join(s.Frames, ";"), "lab/api.") {
			found = true
			break
		}
	}
	if !found {
		t.Error("wall profile has no lab/api frame")
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "lab-cpu.pb.gz"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFold(b *testing.B) {
	p := readProfile(b, "lab-wall.pb.gz")
	for b.Loop() {
		_ = p.Fold(FoldOptions{})
	}
}

func BenchmarkTreeSVG(b *testing.B) {
	f := readProfile(b, "lab-wall.pb.gz").Fold(FoldOptions{})
	for b.Loop() {
		if err := WriteSVG(io.Discard, f.Tree(), SVGOptions{Unit: f.Unit}); err != nil {
			b.Fatal(err)
		}
	}
}
