package report_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/report"
)

// chromium finds the browser: $HEADROOM_CHROMIUM, else chromium or chromium-browser on PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HEADROOM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH (Debian: apt-get install -y chromium; or set HEADROOM_CHROMIUM): the browser test of the HTML report is skipped")
	return ""
}

// TestDoctorHTMLInBrowser opens the report from a file:// URL in headless Chromium and checks
// that no request leaves the page, nothing logs an error, and every chart drew; it writes a
// screenshot to $HEADROOM_ARTIFACTS (default: a temporary directory) and prints its path.
func TestDoctorHTMLInBrowser(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := atomicfile.Write(page, func(w io.Writer) error { return report.WriteDoctorHTML(w, report.DoctorFixture(t)) }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	actx, cancelA := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.WindowSize(1280, 900))
	defer cancelA()
	url := "file://" + page
	var mu sync.Mutex
	var requests []string
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request.URL != url {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}))
	defer cancelB()
	if err := chromedp.Do(bctx); err != nil { // start the browser and its tab
		t.Fatalf("start chromium %s: %v", bin, err)
	}
	// Subscribe before navigating, so that no message of the page's start is lost.
	console := chromedp.Console(bctx)
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	// Each chart container must hold a drawn canvas, and each inline SVG must have a size.
	const check = `(() => {
	  const bad = [];
	  const charts = document.querySelectorAll(".chart");
	  charts.forEach(c => {
	    const cv = c.querySelector("canvas");
	    if (!cv || cv.width === 0 || cv.height === 0) bad.push("chart " + c.id + " has no drawn canvas");
	  });
	  const svgs = document.querySelectorAll("svg");
	  svgs.forEach((s, i) => { const r = s.getBoundingClientRect(); if (r.width === 0 || r.height === 0) bad.push("svg " + i + " has no size"); });
	  return {charts: charts.length, svgs: svgs.length, bad: bad};
	})()`
	type drawn struct {
		Charts int      `json:"charts"`
		SVGs   int      `json:"svgs"`
		Bad    []string `json:"bad"`
	}
	got, err := chromedp.Run(bctx, chromedp.Evaluate[drawn](check))
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// A marker ends the console stream: every message before it has arrived.
	const done = "headroom-browser-test-done"
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[any](`console.info("`+done+`")`)); err != nil {
		t.Fatal(err)
	}
	var problems []string
	for m, err := range console {
		if err != nil {
			t.Fatalf("console: %v", err)
		}
		if m.Text == done {
			break
		}
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.Type == chromedp.ConsoleException {
			problems = append(problems, fmt.Sprintf("%s: %s", m.Type, m.Text))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requests) > 0 {
		t.Errorf("the page made %d network requests, want none: %v", len(requests), requests)
	}
	if len(problems) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(problems, "\n"))
	}
	if got.Charts != 5 {
		t.Errorf("%d chart containers, want the fixture's 5 (timeline, percentiles, histogram, sweep, utilization)", got.Charts)
	}
	if got.SVGs < 2 {
		t.Errorf("%d inline SVGs, want the waterfall and the flame graph", got.SVGs)
	}
	for _, b := range got.Bad {
		t.Error(b)
	}
	out := os.Getenv("HEADROOM_ARTIFACTS")
	if out == "" {
		out = filepath.Join(os.TempDir(), "headroom-artifacts")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(out, "report-browser-test.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil { //nolint:gosec // an artifact for people to open
		t.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "browser test screenshot: %s\n", png)
}
