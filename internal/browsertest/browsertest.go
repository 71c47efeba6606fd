// Package browsertest opens a page in headless Chromium for tests: it reports every network
// request the page makes, every console error, warning and uncaught exception, which chart
// containers hold a drawn canvas and which inline SVGs have a size, and takes a screenshot; and
// it records a tab's traffic as a HAR file (RecordHAR). It is the only importer of chromedp, and
// only tests import it.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// ErrNoBrowser is returned by Find when no Chromium is installed.
var ErrNoBrowser = errors.New("no chromium on PATH (Debian: apt-get install -y chromium; or set HEADROOM_CHROMIUM)")

// Find returns the browser to use: $HEADROOM_CHROMIUM, else chromium or chromium-browser on PATH.
func Find() (string, error) {
	if p := os.Getenv("HEADROOM_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Page is what opening a page showed.
type Page struct {
	// Requests are the URLs the page fetched besides itself.
	Requests []string
	// Problems are console errors and warnings and uncaught exceptions, as "type: text".
	Problems []string
	// Charts counts the elements of class "chart"; SVGs the svg elements.
	Charts, SVGs int
	// Undrawn names each chart without a drawn canvas and each svg without a size.
	Undrawn []string
	// Screenshot is a PNG of the whole page.
	Screenshot []byte
	// Probes holds the JSON value of each probe expression passed to Open, in order.
	Probes []json.RawMessage
}

// Open loads the file at path from a file:// URL in a fresh headless Chromium (bin), with a
// private profile under dir, and reports what the page did. Each probe is a JavaScript expression
// evaluated once the page has drawn; its JSON value goes to Page.Probes. ctx bounds it all.
func Open(ctx context.Context, bin, dir, path string, probes ...string) (*Page, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	url := "file://" + abs
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	p := &Page{}
	bctx, stop := newTab(ctx, bin, dir, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request.URL != url {
			mu.Lock()
			p.Requests = append(p.Requests, e.Request.URL)
			mu.Unlock()
		}
	})
	defer stop()
	if err := chromedp.Do(bctx); err != nil { // start the browser and its tab
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	// Subscribe before navigating, so that no message of the page's start is lost.
	console := chromedp.Console(bctx)
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitReady("body")); err != nil {
		return nil, fmt.Errorf("open %s: %w", url, err)
	}
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
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	p.Charts, p.SVGs, p.Undrawn = got.Charts, got.SVGs, got.Bad
	for _, expr := range probes {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[json.RawMessage](expr))
		if err != nil {
			return nil, fmt.Errorf("probe %q: %w", expr, err)
		}
		p.Probes = append(p.Probes, v)
	}
	if p.Screenshot, err = chromedp.Run(bctx, chromedp.FullScreenshot(100)); err != nil {
		return nil, fmt.Errorf("screenshot: %w", err)
	}
	// A marker ends the console stream: every message before it has arrived.
	const done = "headroom-browsertest-done"
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[any](`console.info("`+done+`")`)); err != nil {
		return nil, err
	}
	for m, err := range console {
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		if m.Text == done {
			break
		}
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.Type == chromedp.ConsoleException {
			p.Problems = append(p.Problems, fmt.Sprintf("%s: %s", m.Type, m.Text))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	p.Requests = append([]string(nil), p.Requests...)
	return p, nil
}

// newTab prepares a fresh headless Chromium (bin) with a private profile under dir, which the
// first action on the returned context starts; listen sees every event of its tab, from the
// start, on the goroutine that reads them (it must only record). stop ends the browser.
func newTab(ctx context.Context, bin, dir string, listen func(ev any)) (tab context.Context, stop func()) {
	actx, cancelA := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(filepath.Join(dir, "chromium-profile")), chromedp.WindowSize(1280, 900))
	tab, cancelB := chromedp.NewContext(actx, chromedp.WithListener(listen))
	return tab, func() { cancelB(); cancelA() }
}

// ArtifactDir is where tests write screenshots: $HEADROOM_ARTIFACTS, else a headroom-artifacts
// directory in the system's temporary directory. It is created.
func ArtifactDir() (string, error) {
	out := os.Getenv("HEADROOM_ARTIFACTS")
	if out == "" {
		out = filepath.Join(os.TempDir(), "headroom-artifacts")
	}
	return out, os.MkdirAll(out, 0o755)
}
