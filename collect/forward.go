package collect

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The OTLP/HTTP paths of the three signals.
const (
	pathTraces  = "/v1/traces"
	pathMetrics = "/v1/metrics"
	pathLogs    = "/v1/logs"
)

// forwardWorkers is how many requests are sent on at once: enough to hide one round trip to a
// collector nearby, few enough not to compete with assembly for two cores.
const forwardWorkers = 2

// forwardAttempts is how many times a request the destination refuses as retryable (429, 502,
// 503, 504, or no answer) is sent before it counts as failed; the waits between are the
// destination's Retry-After, else 100 ms doubling, at most forwardMaxWait each.
const (
	forwardAttempts = 3
	forwardMaxWait  = 5 * time.Second
)

// forwardBase checks a --forward URL and returns the base the signal paths are appended to:
// the URL an OTLP exporter's OTEL_EXPORTER_OTLP_ENDPOINT names, a trailing /v1/traces allowed.
func forwardBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want the http:// or https:// URL of an OTLP/HTTP receiver, such as http://127.0.0.1:4318", raw)
	}
	return strings.TrimSuffix(strings.TrimSuffix(u.String(), "/"), pathTraces), nil
}

// forwardItem is one request to send on: its body as received (decompressed) or re-encoded.
type forwardItem struct {
	path, contentType string
	body              []byte
}

// forwarder sends requests on to another OTLP/HTTP receiver from a bounded queue. Enqueueing
// never blocks: when the queue holds ForwardQueue requests or ForwardQueueBytes, the request
// is dropped and counted, so a slow or dead destination never slows the receiver.
type forwarder struct {
	base     string
	client   *http.Client
	timeout  time.Duration
	maxBytes int64
	c        *counters
	queue    chan forwardItem
	queued   atomic.Int64 // bytes in queue
	wg       sync.WaitGroup
	// ctx ends every send when close gives up waiting.
	ctx    context.Context
	cancel context.CancelFunc
}

func newForwarder(cfg Config, c *counters) *forwarder {
	base, _ := forwardBase(cfg.Forward) // validated
	ctx, cancel := context.WithCancel(context.Background())
	f := &forwarder{base: base, client: &http.Client{}, timeout: cfg.ForwardTimeout, maxBytes: cfg.ForwardQueueBytes,
		c: c, queue: make(chan forwardItem, cfg.ForwardQueue), ctx: ctx, cancel: cancel}
	for range forwardWorkers {
		f.wg.Go(f.run)
	}
	return f
}

// enqueue queues body for path, or drops it (counted) when the queue is full. body must not
// be changed afterwards.
func (f *forwarder) enqueue(path, contentType string, body []byte) {
	n := int64(len(body))
	if f.queued.Add(n) > f.maxBytes {
		f.queued.Add(-n)
		f.c.add(cForwardDropped, 1)
		return
	}
	select {
	case f.queue <- forwardItem{path: path, contentType: contentType, body: body}:
	default:
		f.queued.Add(-n)
		f.c.add(cForwardDropped, 1)
	}
}

func (f *forwarder) run() {
	for it := range f.queue {
		f.queued.Add(-int64(len(it.body)))
		if f.ctx.Err() == nil && f.send(it) {
			f.c.add(cForwarded, 1)
		} else {
			f.c.add(cForwardFailed, 1)
		}
	}
}

// send posts it, retrying what OTLP calls retryable; it reports whether the destination took it.
func (f *forwarder) send(it forwardItem) bool {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		retry, after := f.post(it)
		if !retry {
			return after == 0
		}
		if attempt == forwardAttempts {
			return false
		}
		if after > 0 {
			wait = after
		}
		select {
		case <-time.After(min(wait, forwardMaxWait)):
		case <-f.ctx.Done():
			return false
		}
		wait *= 2
	}
}

// post sends it once. It returns retry when the failure is one OTLP retries, with the
// destination's Retry-After if any; !retry with after 0 is success, with after -1 a permanent
// failure.
func (f *forwarder) post(it forwardItem) (retry bool, after time.Duration) {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base+it.path, bytes.NewReader(it.body))
	if err != nil {
		return false, -1
	}
	req.Header.Set("Content-Type", it.contentType)
	resp, err := f.client.Do(req)
	if err != nil {
		return true, 0
	}
	// The answer's body is small (an Export…ServiceResponse or a Status); read a bounded part
	// so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return false, 0
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			return true, time.Duration(s) * time.Second
		}
		return true, 0
	}
	return false, -1
}

// close sends what is queued until ctx ends, then gives up on the rest (counted as failed).
func (f *forwarder) close(ctx context.Context) error {
	close(f.queue)
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		f.cancel()
		return nil
	case <-ctx.Done():
		f.cancel() // ends the sends in flight; the rest of the queue counts as failed
		<-done
		return fmt.Errorf("collect: forwarding: requests still queued: %w", ctx.Err())
	}
}
