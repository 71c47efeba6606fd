package report_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/internal/browsertest"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// TestDoctorHTMLInBrowser opens the report from a file:// URL in headless Chromium and checks
// that no request leaves the page, nothing logs an error, and every chart drew; it writes a
// screenshot to $HEADROOM_ARTIFACTS (default: a temporary directory) and prints its path.
func TestDoctorHTMLInBrowser(t *testing.T) {
	t.Parallel()
	bin, err := browsertest.Find()
	if errors.Is(err, browsertest.ErrNoBrowser) {
		t.Skip("the browser test of the HTML report is skipped: ", err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	p := report.DoctorFixture(t)
	// A second endpoint whose latencies span 2–3 ms: no decade mark falls on its histogram's axis.
	const narrow = "GET /narrow"
	p.Steady[narrow] = report.NarrowLoad(t)
	p.Doctor.Measurements = append(p.Doctor.Measurements, result.Measurement{Endpoint: narrow, Condition: result.ConditionAsIs, Requests: 40,
		AchievedRPS: 10, LatencyMS: p.Steady[narrow].LatencyMS, Valid: true})
	if err := atomicfile.Write(page, func(w io.Writer) error { return report.WriteDoctorHTML(w, p) }); err != nil {
		t.Fatal(err)
	}
	got, err := browsertest.Open(t.Context(), bin, dir, page,
		`Array.from(document.querySelectorAll(".u-legend .u-value")).map(e => e.textContent)`,
		`HEADROOM_PLOTS.map(u => ({title: u.root.parentNode.querySelector(".title").textContent,
		  x: (u.axes[0]._values || []).map(String), y: (u.axes[1]._values || []).map(String)}))`)
	if err != nil {
		t.Fatal(err)
	}
	var legends []string
	if err := json.Unmarshal(got.Probes[0], &legends); err != nil {
		t.Fatal(err)
	}
	if len(legends) == 0 {
		t.Error("no legend values on the page")
	}
	for i, v := range legends {
		if v == "--" || v == "" {
			t.Errorf("legend value %d is %q before any hover, want the chart's last or summary point: %q", i, v, legends)
			break
		}
	}
	var axes []struct {
		Title string
		X, Y  []string
	}
	if err := json.Unmarshal(got.Probes[1], &axes); err != nil {
		t.Fatal(err)
	}
	histograms := 0
	for _, a := range axes {
		if labeled := slices.DeleteFunc(slices.Clone(a.X), func(s string) bool { return s == "" }); len(labeled) < 2 {
			t.Errorf("%s: x axis labels %q, want at least two", a.Title, a.X)
		}
		if !strings.HasPrefix(a.Title, "Latency histogram") {
			continue
		}
		histograms++
		for _, y := range a.Y {
			if strings.Contains(y, ".") {
				t.Errorf("%s: y axis labels %q, want whole requests", a.Title, a.Y)
				break
			}
		}
	}
	if histograms != 2 {
		t.Errorf("%d histograms drawn, want 2 (the fixture's and the narrow one)", histograms)
	}
	if len(got.Requests) > 0 {
		t.Errorf("the page made %d network requests, want none: %v", len(got.Requests), got.Requests)
	}
	if len(got.Problems) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(got.Problems, "\n"))
	}
	if got.Charts != 8 {
		t.Errorf("%d chart containers, want 8: the fixture's 5 (timeline, percentiles, histogram, sweep, utilization) and the narrow endpoint's 3", got.Charts)
	}
	if got.SVGs < 2 {
		t.Errorf("%d inline SVGs, want the waterfall and the flame graph", got.SVGs)
	}
	for _, b := range got.Undrawn {
		t.Error(b)
	}
	out, err := browsertest.ArtifactDir()
	if err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(out, "report-browser-test.png")
	if err := os.WriteFile(png, got.Screenshot, 0o644); err != nil { //nolint:gosec // an artifact for people to open
		t.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "browser test screenshot: %s\n", png)
}
