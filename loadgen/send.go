package loadgen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// sender sends one request of a target and reads its answer. Each connection worker owns one.
type sender interface {
	// send sends a request to target and reads its answer: its status and body bytes.
	send(ctx context.Context, target int, traceparent []byte, deadline time.Time) (status int, bytes int64, err error)
	close()
}

// errCanceled marks a request cut short because the run ended early: counted as interrupted.
var errCanceled = errors.New("canceled")

// h1Sender sends over the fast HTTP/1.1 path, one keep-alive connection per target host.
type h1Sender struct {
	ctx     context.Context
	reqs    []*h1Request
	maxBody int64
	mu      sync.Mutex // guards conns against the cancel hook
	conns   map[string]*h1Conn
	stop    func() bool
}

func newH1Sender(ctx context.Context, reqs []*h1Request, maxBody int64) *h1Sender {
	s := &h1Sender{ctx: ctx, reqs: reqs, maxBody: maxBody, conns: map[string]*h1Conn{}}
	// Interrupt reads and writes in flight when the run is canceled.
	s.stop = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			_ = c.c.SetDeadline(time.Unix(1, 0))
		}
	})
	return s
}

func (s *h1Sender) send(ctx context.Context, target int, tp []byte, deadline time.Time) (int, int64, error) {
	r := s.reqs[target]
	for attempt := 0; ; attempt++ {
		c := s.conns[r.addr]
		if c == nil || c.closed {
			var err error
			if c, err = h1Dial(ctx, r.addr, time.Until(deadline)); err != nil {
				return 0, 0, s.canceledOr(err)
			}
			s.mu.Lock()
			s.conns[r.addr] = c
			s.mu.Unlock()
			if ctx.Err() != nil {
				c.close()
				return 0, 0, errCanceled
			}
		}
		reused := c.used
		status, nothingRead, err := c.roundTrip(r, tp, deadline, s.maxBody)
		// A kept-alive connection the server closed while idle fails before any answer byte:
		// send again on a fresh one, as browsers and net/http do.
		if err != nil && reused && nothingRead && attempt == 0 && isStaleClose(err) && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return status, c.p.total, s.canceledOr(err)
		}
		return status, c.p.total, nil
	}
}

func (s *h1Sender) canceledOr(err error) error {
	if s.ctx.Err() != nil {
		return errCanceled
	}
	return err
}

func (s *h1Sender) close() {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.close()
	}
}

func isStaleClose(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// netSender sends through net/http: TLS, HTTP/2.
type netSender struct {
	client  *http.Client
	targets []Target
	maxBody int64
}

func newNetTransport(cfg *Config) *http.Transport {
	tr := &http.Transport{
		Proxy:               nil, // load goes straight to the target
		MaxConnsPerHost:     cfg.Connections,
		MaxIdleConnsPerHost: cfg.Connections,
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: cfg.Insecure}, //nolint:gosec // opt-in by --insecure
		DisableCompression:  true,
		ForceAttemptHTTP2:   true,
		// The fast path's bound on an answer's head, not net/http's 10 MB: a target's headers
		// are data it supplies (docs/limits.md).
		MaxResponseHeaderBytes: maxHead,
	}
	if cfg.HTTP2 {
		var p http.Protocols
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	return tr
}

func (s *netSender) send(ctx context.Context, target int, tp []byte, deadline time.Time) (int, int64, error) {
	t := &s.targets[target]
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var body io.Reader
	if t.Body != "" {
		body = strings.NewReader(t.Body)
	}
	req, err := http.NewRequestWithContext(ctx, t.Method, t.URL, body)
	if err != nil {
		return 0, 0, err
	}
	for k, v := range t.Headers {
		switch http1Canonical(k) {
		case "Host":
			if v != "" {
				req.Host = v
			}
			continue
		case "Content-Length", "Traceparent", "Connection", "Transfer-Encoding":
			continue // set by headroom (and net/http)
		}
		req.Header[k] = []string{v} // the name as given, as the fast path sends it (HTTP/2 lower-cases it)
	}
	if !hasHeader(t.Headers, "User-Agent") {
		req.Header.Set("User-Agent", userAgent)
	}
	req.Header.Set("Traceparent", string(tp))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, netErr(ctx, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, s.maxBody+1))
	if err != nil {
		return resp.StatusCode, n, netErr(ctx, err)
	}
	if n > s.maxBody {
		return resp.StatusCode, n, fmt.Errorf("%w: over %d bytes", errBodyTooLarge, s.maxBody)
	}
	return resp.StatusCode, n, nil
}

func netErr(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return errCanceled
	}
	return err
}

func (s *netSender) close() {}

// errorKind names the kind of a request error for errors_by_kind.
func errorKind(err error) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var verify *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr x509.CertificateInvalidError
	switch {
	case errors.Is(err, errBodyTooLarge):
		return "body_too_large"
	case errors.Is(err, errProtocol):
		return "protocol"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &recErr), errors.As(err, &alert), errors.As(err, &verify),
		errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &certErr),
		errors.Is(err, http.ErrSchemeMismatch), // https:// to a server that speaks plain HTTP
		strings.Contains(err.Error(), "tls:"):
		return "tls"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "closed"
	case strings.Contains(err.Error(), "malformed HTTP"), strings.Contains(err.Error(), "http2:"):
		return "protocol"
	}
	return "other"
}
