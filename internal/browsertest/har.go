package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// RecordHAR starts a fresh headless Chromium (bin), with a private profile under dir, runs steps
// in its tab, each once the requests of the one before have ended, and returns the tab's
// requests as a HAR 1.2 file (JSON), shaped as DevTools' "Save all as HAR" shapes it from the
// same protocol events: one entry per finished request and per redirect hop, in the order sent;
// the request headers as they went over the wire (Network.requestWillBeSentExtraInfo) when the
// network stack sent them, else those the page asked for (a request the browser's cache
// answered); the request body as postData; the answer's status and headers as received (a
// revalidation's 304, which the protocol's response reports as the cached 200); Chromium's own
// fields _resourceType, _fromCache ("memory" or "disk"), _priority, and in the response
// _transferSize and _error (a failed request's net error, with status 0). It leaves out what a
// replay does not read: the response bodies (content.text) and _initiator. Header fields are
// sorted by name (the protocol gives them as a map). ctx bounds it all.
func RecordHAR(ctx context.Context, bin, dir string, steps ...Step) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	rec := &harRecorder{byID: map[network.RequestID][]*harHop{}, extras: map[network.RequestID][]network.Headers{},
		respExtras: map[network.RequestID][]*network.EventResponseReceivedExtraInfo{}}
	bctx, stop := newTab(ctx, bin, dir, rec.event)
	defer stop()
	if err := chromedp.Do(bctx); err != nil { // start the browser and its tab
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	for i, step := range steps {
		if err := chromedp.Do(bctx, step); err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		if err := rec.settle(ctx); err != nil {
			return nil, err
		}
	}
	if err := rec.fetchPostData(bctx); err != nil {
		return nil, err
	}
	v, err := chromedp.CallBrowser(bctx, browser.GetVersion, cdp.Empty{})
	if err != nil {
		return nil, fmt.Errorf("browser version: %w", err)
	}
	return rec.har(v.Product)
}

// Step is one thing RecordHAR does in its tab.
type Step = chromedp.Action[chromedp.Void]

// Visit opens url in the tab and waits for it to load.
func Visit(url string) Step { return chromedp.Navigate(url) }

// Reload loads the tab's page again, as the browser's reload button does (revalidating it).
func Reload() Step { return chromedp.Reload() }

// Click clicks the first element that selector (CSS) matches, once it is visible.
func Click(selector string) Step { return chromedp.Click(selector) }

// WaitVisible waits until an element that selector (CSS) matches is visible.
func WaitVisible(selector string) Step { return chromedp.WaitVisible(selector) }

// harHop is one request the tab sent: a request, or one hop of a redirected one.
type harHop struct {
	sent       *network.EventRequestWillBeSent
	wire       network.Headers                         // the headers sent over the wire, when the network stack sent it
	wireResp   *network.EventResponseReceivedExtraInfo // the answer's head as received, likewise
	resp       *network.Response
	resType    network.ResourceType
	extraInfo  bool    // a requestWillBeSentExtraInfo belongs to this hop
	fromMemory bool    // the memory cache answered
	end        float64 // monotonic seconds: the end of the answer, or of the failure
	transfer   float64 // bytes received, headers included
	size       int64   // the answer's body, decoded
	errText    string
	done       bool
	postData   []byte
}

// harRecorder collects the Network and Page events of a tab. Its event method runs on chromedp's
// reading goroutine and only records; the HAR is built once the tab has settled.
type harRecorder struct {
	mu   sync.Mutex
	hops []*harHop
	byID map[network.RequestID][]*harHop
	// extras are the wire headers of each request, hop after hop: the protocol sends them
	// before or after the hop's requestWillBeSent, so they are matched to hops at the end.
	extras       map[network.RequestID][]network.Headers
	respExtras   map[network.RequestID][]*network.EventResponseReceivedExtraInfo
	pages        []*harPage
	pageByLoader map[cdp.LoaderID]string
	mainFrame    cdp.FrameID   // the frame of the first document: its navigations are pages
	changed      chan struct{} // closed at the next event, for settle
}

type harPage struct {
	StartedDateTime string         `json:"startedDateTime"`
	ID              string         `json:"id"`
	Title           string         `json:"title"`
	PageTimings     harPageTimings `json:"pageTimings"`
	start           float64        // monotonic seconds
}

type harPageTimings struct {
	OnContentLoad float64 `json:"onContentLoad"`
	OnLoad        float64 `json:"onLoad"`
}

func (r *harRecorder) event(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.signal()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		hops := r.byID[e.RequestID]
		if n := len(hops); n > 0 && e.RedirectResponse != nil {
			prev := hops[n-1]
			prev.resp, prev.done, prev.end, prev.extraInfo = e.RedirectResponse, true, float64(e.Timestamp), e.RedirectHasExtraInfo
			prev.transfer = e.RedirectResponse.EncodedDataLength
		}
		h := &harHop{sent: e, resType: e.Type}
		r.hops = append(r.hops, h)
		r.byID[e.RequestID] = append(hops, h)
		if e.Type == network.ResourceTypeDocument && r.mainFrame == "" {
			r.mainFrame = e.FrameID
		}
		if e.Type == network.ResourceTypeDocument && e.FrameID == r.mainFrame && r.pageByLoader[e.LoaderID] == "" {
			r.newPage(e)
		}
	case *network.EventRequestWillBeSentExtraInfo:
		r.extras[e.RequestID] = append(r.extras[e.RequestID], e.Headers)
	case *network.EventResponseReceivedExtraInfo:
		r.respExtras[e.RequestID] = append(r.respExtras[e.RequestID], e)
	case *network.EventRequestServedFromCache:
		if h := r.last(e.RequestID); h != nil {
			h.fromMemory = true
		}
	case *network.EventResponseReceived:
		if h := r.last(e.RequestID); h != nil {
			h.resp, h.resType, h.extraInfo = e.Response, e.Type, e.HasExtraInfo
		}
	case *network.EventLoadingFinished:
		if h := r.last(e.RequestID); h != nil {
			h.done, h.end, h.transfer = true, float64(e.Timestamp), e.EncodedDataLength
		}
	case *network.EventDataReceived:
		if h := r.last(e.RequestID); h != nil {
			h.size += e.DataLength
		}
	case *network.EventLoadingFailed:
		if h := r.last(e.RequestID); h != nil {
			h.done, h.end, h.errText = true, float64(e.Timestamp), e.ErrorText
			if h.resType == "" {
				h.resType = e.Type
			}
		}
	case *page.EventDomContentEventFired:
		if p := r.currentPage(); p != nil && p.PageTimings.OnContentLoad < 0 {
			p.PageTimings.OnContentLoad = ms(float64(e.Timestamp) - p.start)
		}
	case *page.EventLoadEventFired:
		if p := r.currentPage(); p != nil && p.PageTimings.OnLoad < 0 {
			p.PageTimings.OnLoad = ms(float64(e.Timestamp) - p.start)
		}
	}
}

// newPage starts a page at a navigation of the main frame, as DevTools groups entries by page.
func (r *harRecorder) newPage(e *network.EventRequestWillBeSent) {
	if r.pageByLoader == nil {
		r.pageByLoader = map[cdp.LoaderID]string{}
	}
	p := &harPage{StartedDateTime: wallTime(e.WallTime), ID: "page_" + strconv.Itoa(len(r.pages)+1), Title: e.Request.URL,
		PageTimings: harPageTimings{OnContentLoad: -1, OnLoad: -1}, start: float64(e.Timestamp)}
	r.pages = append(r.pages, p)
	r.pageByLoader[e.LoaderID] = p.ID
}

func (r *harRecorder) currentPage() *harPage {
	if len(r.pages) == 0 {
		return nil
	}
	return r.pages[len(r.pages)-1]
}

// last is the latest hop of a request.
func (r *harRecorder) last(id network.RequestID) *harHop {
	hops := r.byID[id]
	if len(hops) == 0 {
		return nil
	}
	return hops[len(hops)-1]
}

// signal wakes settle. Called with mu held.
func (r *harRecorder) signal() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// wantsWire reports whether the network stack sends a hop's wire headers: not for an answer
// from the browser's cache (whose hasExtraInfo is the cached response's).
func (h *harHop) wantsWire() bool {
	return h.extraInfo && !h.fromMemory && (h.resp == nil || !h.resp.FromDiskCache)
}

// pending counts the hops that have not ended or lack the wire heads they were promised.
func (r *harRecorder) pending() int {
	n := 0
	for id, hops := range r.byID {
		wantReq, wantResp := 0, 0
		for _, h := range hops {
			if !h.done {
				n++
			}
			if h.wantsWire() {
				wantReq++
				if h.resp != nil {
					wantResp++
				}
			}
		}
		n += max(wantReq-len(r.extras[id]), 0) + max(wantResp-len(r.respExtras[id]), 0)
	}
	return n
}

// settle waits until the tab has had nothing pending for a moment (a script may start another
// request as one ends), for at most a few seconds (a request the page dropped may never end:
// DevTools leaves unfinished requests out of a HAR, and so does RecordHAR), or until ctx ends.
func (r *harRecorder) settle(ctx context.Context) error {
	const quiet, most = 250 * time.Millisecond, 5 * time.Second
	limit := time.NewTimer(most)
	defer limit.Stop()
	for {
		r.mu.Lock()
		pending := r.pending()
		ch := make(chan struct{})
		r.changed = ch
		r.mu.Unlock()
		t := time.NewTimer(quiet)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the tab's requests to end: %w", ctx.Err())
		case <-limit.C:
			t.Stop()
			return nil
		case <-ch:
			t.Stop()
		case <-t.C:
			if pending == 0 {
				return nil
			}
		}
	}
}

// fetchPostData asks for the bodies the events left out (the protocol omits large ones).
func (r *harRecorder) fetchPostData(ctx context.Context) error {
	r.mu.Lock()
	var need []*harHop
	for _, h := range r.hops {
		if h.sent.Request.HasPostData {
			for _, e := range h.sent.Request.PostDataEntries {
				h.postData = append(h.postData, e.Bytes...)
			}
			if len(h.postData) == 0 {
				need = append(need, h)
			}
		}
	}
	r.mu.Unlock()
	for _, h := range need {
		res, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: h.sent.RequestID})
		if err != nil {
			return fmt.Errorf("post data of %s: %w", h.sent.Request.URL, err)
		}
		h.postData = res.PostData
	}
	return nil
}

// The HAR 1.2 objects (http://www.softwareishard.com/blog/har-12-spec/), with Chromium's
// extensions (fields starting with _) where DevTools writes them.
type (
	harLog struct {
		Log struct {
			Version string      `json:"version"`
			Creator harCreator  `json:"creator"`
			Browser harCreator  `json:"browser"`
			Pages   []*harPage  `json:"pages"`
			Entries []*harEntry `json:"entries"`
		} `json:"log"`
	}
	harCreator struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	harEntry struct {
		FromCache       string      `json:"_fromCache,omitempty"`
		Priority        string      `json:"_priority,omitempty"`
		ResourceType    string      `json:"_resourceType"`
		Cache           struct{}    `json:"cache"`
		Connection      string      `json:"connection,omitempty"`
		Pageref         string      `json:"pageref,omitempty"`
		Request         harRequest  `json:"request"`
		Response        harResponse `json:"response"`
		ServerIPAddress string      `json:"serverIPAddress"`
		StartedDateTime string      `json:"startedDateTime"`
		Time            float64     `json:"time"`
		Timings         harTimings  `json:"timings"`
	}
	harNV struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	harCookie struct {
		Name     string `json:"name"`
		Value    string `json:"value"`
		Path     string `json:"path,omitempty"`
		Domain   string `json:"domain,omitempty"`
		Expires  string `json:"expires,omitempty"`
		HTTPOnly bool   `json:"httpOnly"`
		Secure   bool   `json:"secure"`
	}
	harPostData struct {
		MimeType string  `json:"mimeType"`
		Text     string  `json:"text"`
		Params   []harNV `json:"params,omitempty"`
	}
	harRequest struct {
		Method      string       `json:"method"`
		URL         string       `json:"url"`
		HTTPVersion string       `json:"httpVersion"`
		Headers     []harNV      `json:"headers"`
		QueryString []harNV      `json:"queryString"`
		Cookies     []harCookie  `json:"cookies"`
		HeadersSize int          `json:"headersSize"`
		BodySize    int          `json:"bodySize"`
		PostData    *harPostData `json:"postData,omitempty"`
	}
	harContent struct {
		Size     int64  `json:"size"`
		MimeType string `json:"mimeType"`
	}
	harResponse struct {
		Status       int64       `json:"status"`
		StatusText   string      `json:"statusText"`
		HTTPVersion  string      `json:"httpVersion"`
		Headers      []harNV     `json:"headers"`
		Cookies      []harCookie `json:"cookies"`
		Content      harContent  `json:"content"`
		RedirectURL  string      `json:"redirectURL"`
		HeadersSize  int         `json:"headersSize"`
		BodySize     int64       `json:"bodySize"`
		TransferSize int64       `json:"_transferSize"`
		Error        *string     `json:"_error"`
	}
	harTimings struct {
		Blocked float64 `json:"blocked"`
		DNS     float64 `json:"dns"`
		SSL     float64 `json:"ssl"`
		Connect float64 `json:"connect"`
		Send    float64 `json:"send"`
		Wait    float64 `json:"wait"`
		Receive float64 `json:"receive"`
	}
)

// har builds the file from what was recorded.
func (r *harRecorder) har(product string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Each request's wire heads, hop after hop, to the hops the protocol promised them to.
	for id, hops := range r.byID {
		extras, respExtras := r.extras[id], r.respExtras[id]
		for _, h := range hops {
			if h.wantsWire() && len(extras) > 0 {
				h.wire, extras = extras[0], extras[1:]
			}
			if h.wantsWire() && h.resp != nil && len(respExtras) > 0 {
				h.wireResp, respExtras = respExtras[0], respExtras[1:]
			}
		}
	}
	var l harLog
	l.Log.Version = "1.2"
	l.Log.Creator = harCreator{Name: "headroom internal/browsertest", Version: "1"}
	name, version, _ := strings.Cut(product, "/")
	l.Log.Browser = harCreator{Name: name, Version: version}
	l.Log.Pages = r.pages
	if l.Log.Pages == nil {
		l.Log.Pages = []*harPage{}
	}
	l.Log.Entries = []*harEntry{}
	for _, h := range r.hops {
		if h.done {
			l.Log.Entries = append(l.Log.Entries, r.entry(h))
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&l); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (r *harRecorder) entry(h *harHop) *harEntry {
	req := h.sent.Request
	e := &harEntry{
		Priority:        string(req.InitialPriority),
		ResourceType:    resourceTypeName(h.resType),
		Pageref:         r.pageByLoader[h.sent.LoaderID],
		StartedDateTime: wallTime(h.sent.WallTime),
	}
	headers := h.wire
	if headers == nil {
		headers = req.Headers
	}
	e.Request = harRequest{
		Method: req.Method, URL: req.URL, Headers: nameValues(headers), QueryString: queryString(req.URL),
		Cookies: requestCookies(headers), HeadersSize: -1, BodySize: len(h.postData),
	}
	if h.sent.Request.HasPostData {
		ctype := header(headers, "Content-Type")
		pd := &harPostData{MimeType: ctype, Text: string(h.postData)}
		if mt, _, _ := mime.ParseMediaType(ctype); mt == "application/x-www-form-urlencoded" {
			if form, err := url.ParseQuery(pd.Text); err == nil {
				pd.Params = formParams(form)
			}
		}
		e.Request.PostData = pd
	}
	e.Response = harResponse{Headers: []harNV{}, Cookies: []harCookie{}, Content: harContent{MimeType: "x-unknown"}, HeadersSize: -1}
	if h.errText != "" {
		e.Response.Error = &h.errText
	}
	if resp := h.resp; resp != nil {
		e.Request.HTTPVersion = httpVersion(resp.Protocol)
		if resp.FromDiskCache || h.fromMemory {
			e.FromCache = "disk"
			if h.fromMemory {
				e.FromCache = "memory"
			}
		}
		e.Response.Status, e.Response.StatusText = resp.Status, resp.StatusText
		e.Response.HTTPVersion = e.Request.HTTPVersion
		e.Response.Headers = nameValues(resp.Headers)
		e.Response.Cookies = responseCookies(resp.Headers)
		e.Response.Content = harContent{Size: h.size, MimeType: resp.MimeType}
		e.Response.RedirectURL = header(resp.Headers, "Location")
		e.ServerIPAddress = strings.Trim(resp.RemoteIPAddress, "[]")
		if resp.ConnectionID != 0 {
			e.Connection = strconv.FormatFloat(resp.ConnectionID, 'f', -1, 64)
		}
		if e.FromCache == "" {
			// The body's size on the wire is the transfer less the head, whose size the
			// events give only with its text (HTTP/1): else -1, "not available".
			e.Response.TransferSize, e.Response.BodySize = int64(h.transfer), -1
		}
		if w := h.wireResp; w != nil {
			// What came over the wire: a revalidation's 304, which the protocol's response
			// reports as the cached 200 it refreshed, and the raw header fields.
			if w.StatusCode != 0 && w.StatusCode != resp.Status {
				e.Response.Status, e.Response.StatusText = w.StatusCode, http.StatusText(int(w.StatusCode))
			}
			e.Response.Headers = nameValues(w.Headers)
			if w.HeadersText != "" {
				e.Response.HeadersSize = len(w.HeadersText)
				e.Response.BodySize = int64(h.transfer) - int64(len(w.HeadersText))
			}
		}
	}
	e.Timings, e.Time = timings(h)
	return e
}

// timings splits a hop's time as DevTools does: queueing and stalls as blocked, then DNS,
// connect (TLS included), send, wait (to the first byte of the answer's head), receive.
func timings(h *harHop) (harTimings, float64) {
	t := harTimings{Blocked: -1, DNS: -1, SSL: -1, Connect: -1}
	issued := float64(h.sent.Timestamp)
	var rt *network.ResourceTiming
	if h.resp != nil && !h.fromMemory && !h.resp.FromDiskCache {
		rt = h.resp.Timing // a cached answer's is that of the request that filled the cache
	}
	if rt == nil {
		t.Receive = math.Max(ms(h.end-issued), 0)
		return t, t.Receive
	}
	t.Blocked = math.Max(ms(rt.RequestTime-issued), 0)
	if first := leastNonNegative(rt.DNSStart, rt.ConnectStart, rt.SendStart); first >= 0 {
		t.Blocked += first
	}
	if rt.DNSStart >= 0 && rt.DNSEnd >= 0 {
		t.DNS = rt.DNSEnd - rt.DNSStart
	}
	if rt.ConnectStart >= 0 && rt.ConnectEnd >= 0 {
		t.Connect = rt.ConnectEnd - rt.ConnectStart
	}
	if rt.SslStart >= 0 && rt.SslEnd >= 0 {
		t.SSL = rt.SslEnd - rt.SslStart
	}
	t.Send = math.Max(rt.SendEnd-rt.SendStart, 0)
	t.Wait = math.Max(rt.ReceiveHeadersEnd-rt.SendEnd, 0)
	t.Receive = math.Max(ms(h.end-rt.RequestTime)-rt.ReceiveHeadersEnd, 0)
	total := t.Send + t.Wait + t.Receive
	for _, v := range []float64{t.Blocked, t.DNS, t.Connect} {
		total += math.Max(v, 0)
	}
	return t, total
}

func leastNonNegative(vs ...float64) float64 {
	least := -1.0
	for _, v := range vs {
		if v >= 0 && (least < 0 || v < least) {
			least = v
		}
	}
	return least
}

func ms(seconds float64) float64 { return seconds * 1000 }

// wallTime formats a protocol wall time as HAR's ISO 8601 with milliseconds.
func wallTime(t cdp.TimeSinceEpoch) string {
	sec, frac := math.Modf(float64(t))
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format("2006-01-02T15:04:05.000Z")
}

// resourceTypeName is DevTools' name of a protocol resource type: lower case, with dashes where
// DevTools has them.
func resourceTypeName(t network.ResourceType) string {
	switch t {
	case network.ResourceTypeSignedExchange:
		return "signed-exchange"
	case network.ResourceTypeCSPViolationReport:
		return "csp-violation-report"
	case "":
		return "other"
	}
	return strings.ToLower(string(t))
}

// httpVersion is a HAR httpVersion from the protocol's ALPN-like name.
func httpVersion(protocol string) string {
	switch protocol {
	case "http/1.1", "http/1.0":
		return strings.ToUpper(protocol)
	case "h2":
		return "http/2.0"
	case "h3":
		return "http/3.0"
	}
	return protocol
}

// nameValues turns protocol headers into HAR fields sorted by name; a value holding several
// lines is several fields of one name, as the protocol joins repeated headers with "\n".
func nameValues(h network.Headers) []harNV {
	out := []harNV{}
	for name, v := range h {
		for line := range strings.SplitSeq(fmt.Sprint(v), "\n") {
			out = append(out, harNV{Name: name, Value: line})
		}
	}
	slices.SortStableFunc(out, func(a, b harNV) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

// header is the value of a header, found in any case.
func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

func queryString(raw string) []harNV {
	out := []harNV{}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	for pair := range strings.SplitSeq(u.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		ku, err1 := url.QueryUnescape(k)
		vu, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			ku, vu = k, v
		}
		out = append(out, harNV{Name: ku, Value: vu})
	}
	return out
}

func formParams(form url.Values) []harNV {
	var out []harNV
	for _, k := range slices.Sorted(maps.Keys(form)) {
		for _, v := range form[k] {
			out = append(out, harNV{Name: k, Value: v})
		}
	}
	return out
}

func requestCookies(h network.Headers) []harCookie {
	out := []harCookie{}
	cs, err := http.ParseCookie(header(h, "Cookie"))
	if err != nil {
		return out
	}
	for _, c := range cs {
		out = append(out, harCookie{Name: c.Name, Value: c.Value})
	}
	return out
}

func responseCookies(h network.Headers) []harCookie {
	out := []harCookie{}
	for line := range strings.SplitSeq(header(h, "Set-Cookie"), "\n") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			continue
		}
		hc := harCookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain, HTTPOnly: c.HttpOnly, Secure: c.Secure}
		if !c.Expires.IsZero() {
			hc.Expires = c.Expires.UTC().Format(time.RFC3339)
		}
		out = append(out, hc)
	}
	return out
}
