package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// The fast path: a lean HTTP/1.1 client over plain TCP. Each connection worker owns its
// connections, writes a request prepared once per target (only the traceparent changes) in one
// write, and parses just what framing needs from the answer, discarding the body without keeping
// it. No allocation per request in the steady state.

// errProtocol marks an answer that is not valid HTTP/1.1.
var errProtocol = errors.New("protocol error")

// errBodyTooLarge marks a body over Config.MaxBody.
var errBodyTooLarge = errors.New("response body too large")

// maxHeaderLines bounds the header lines of one answer.
const maxHeaderLines = 256

// h1Request is a Target rendered once into bytes: head, then the traceparent line, then tail.
type h1Request struct {
	addr  string // host:port to dial
	head  []byte // request line and headers, up to the traceparent
	tail  []byte // the rest of the headers, the blank line and the body
	head0 bool   // HEAD request: the answer has no body
}

func newH1Request(t Target, userAgent string) (*h1Request, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return nil, err
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var fields bytes.Buffer
	host, hasUA, hasAuth := u.Host, false, false
	for k, v := range t.Headers {
		switch http1Canonical(k) {
		case "Host":
			if v != "" {
				host = v // a virtual host other than the URL's, as vegeta and net/http allow
			}
			continue
		case "Content-Length", "Traceparent", "Connection", "Transfer-Encoding":
			continue // set by headroom
		case "User-Agent":
			hasUA = true
		case "Authorization":
			hasAuth = true
		}
		fmt.Fprintf(&fields, "%s: %s\r\n", k, v) // the name as given: some servers care for its case
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", t.Method, u.RequestURI(), host)
	b.Write(fields.Bytes())
	if !hasUA {
		fmt.Fprintf(&b, "User-Agent: %s\r\n", userAgent)
	}
	if u.User != nil && !hasAuth {
		b.WriteString("Authorization: Basic " + basicAuth(u.User) + "\r\n")
	}
	head := bytes.Clone(b.Bytes())
	b.Reset()
	if t.Body != "" || t.Method == http.MethodPost || t.Method == http.MethodPut || t.Method == http.MethodPatch {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(t.Body))
	}
	b.WriteString("\r\n")
	b.WriteString(t.Body)
	return &h1Request{addr: addr, head: head, tail: bytes.Clone(b.Bytes()), head0: t.Method == http.MethodHead}, nil
}

// basicAuth is the credentials of a URL's user information (user:password@) for an
// Authorization: Basic header (RFC 7617), as net/http's client sends them.
func basicAuth(u *url.Userinfo) string {
	p, _ := u.Password()
	return base64.StdEncoding.EncodeToString([]byte(u.Username() + ":" + p))
}

// http1Canonical canonicalizes a header name without allocating for the common case.
func http1Canonical(k string) string {
	b := []byte(k)
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - 32
		} else if !upper && 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
		upper = c == '-'
	}
	return string(b)
}

// h1Conn is one keep-alive connection. Not safe for concurrent use.
type h1Conn struct {
	c      net.Conn
	rb     readBuf // answers arrive here
	p      respParser
	wbuf   []byte
	used   bool // has carried a request: a failure before any answer byte may be a stale close
	closed bool
}

// h1Dial opens a connection to addr within timeout, or until ctx ends.
func h1Dial(ctx context.Context, addr string, timeout time.Duration) (*h1Conn, error) {
	c, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &h1Conn{c: c, rb: newReadBuf(), wbuf: make([]byte, 0, 1024)}, nil
}

func (h *h1Conn) close() {
	if !h.closed {
		h.closed = true
		_ = h.c.Close()
	}
}

// roundTrip sends r with traceparent tp and reads the answer, discarding its body. It returns the
// status and whether no byte of the answer arrived (so a retry on a fresh connection is safe).
// After an error, or an answer that ends the connection, the connection is closed.
func (h *h1Conn) roundTrip(r *h1Request, tp []byte, deadline time.Time, maxBody int64) (status int, nothingRead bool, err error) {
	if err := h.c.SetDeadline(deadline); err != nil {
		h.close()
		return 0, true, err
	}
	h.used = true
	w := append(h.wbuf[:0], r.head...)
	w = append(w, "Traceparent: "...)
	w = append(w, tp...)
	w = append(w, "\r\n"...)
	w = append(w, r.tail...)
	h.wbuf = w
	if _, err := h.c.Write(w); err != nil {
		h.close()
		return 0, true, err
	}
	status, keep, nothingRead, err := h.readResponse(r.head0, maxBody)
	if err != nil || !keep {
		h.close()
	}
	return status, nothingRead, err
}

// readResponse reads one answer (skipping 1xx interim answers) and reports whether the
// connection can carry another request.
func (h *h1Conn) readResponse(isHead bool, maxBody int64) (status int, keep, nothingRead bool, err error) {
	p := &h.p
	p.reset(isHead, maxBody)
	for {
		n, done, err := p.feed(h.rb.unparsed())
		h.rb.r += n
		if err != nil {
			return p.status, false, false, err
		}
		if done {
			return p.status, p.keep, false, nil
		}
		room := h.rb.free()
		m, rerr := h.c.Read(room)
		h.rb.add(m, room)
		if rerr != nil {
			if m > 0 {
				continue // consume what came with the error first
			}
			if errors.Is(rerr, io.EOF) && p.eof() {
				return p.status, false, false, nil
			}
			return p.status, false, !p.gotAny, readErr(rerr)
		}
	}
}

// readErr turns a clean end of stream in the middle of an answer into io.ErrUnexpectedEOF.
func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func atoi3(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// trimLine shortens a line for an error message.
func trimLine(b []byte) string {
	b = bytes.TrimRight(b, "\r\n")
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}
