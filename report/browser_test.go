package report_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/internal/browsertest"
	"github.com/headroom/headroom/report"
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
	if err := atomicfile.Write(page, func(w io.Writer) error { return report.WriteDoctorHTML(w, report.DoctorFixture(t)) }); err != nil {
		t.Fatal(err)
	}
	got, err := browsertest.Open(t.Context(), bin, dir, page)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Requests) > 0 {
		t.Errorf("the page made %d network requests, want none: %v", len(got.Requests), got.Requests)
	}
	if len(got.Problems) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(got.Problems, "\n"))
	}
	if got.Charts != 5 {
		t.Errorf("%d chart containers, want the fixture's 5 (timeline, percentiles, histogram, sweep, utilization)", got.Charts)
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
