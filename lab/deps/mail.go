package deps

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/textproto"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// MailServerConfig configures [StartMailServer].
type MailServerConfig struct {
	// Addr is the listen address. Default 127.0.0.1:0 (a free loopback port).
	Addr string
	// Listener, when set, is served instead of listening on Addr; the server closes it. It lets a
	// caller keep a port across a restart without a window in which another socket can take it.
	Listener net.Listener
	// Latency delays the answer to each message's DATA, like a slow provider. Default none.
	Latency Latency
	// Seed seeds the latency sampler. Default 1.
	Seed uint64
	// Keep is how many received messages Messages returns (the most recent). Default 100.
	Keep int
	// Remember is how many Message-IDs the server remembers to drop repeats of (the most recent).
	// Default 100,000.
	Remember int
}

// Message is a mail the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
}

// MailServer is an SMTP server that accepts every message after a delay. Like a transactional
// mail provider's idempotency key, a message whose Message-ID it has already delivered is
// accepted and dropped (counted by [MailServer.Duplicates]), so a sender that crashed mid-send
// and sends again does not mail twice. It is safe for concurrent use.
type MailServer struct {
	srv      *smtp.Server
	ln       net.Listener
	lat      *sampler
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	keep     int

	delivered  atomic.Int64
	duplicates atomic.Int64
	mu         sync.Mutex
	msgs       []Message
	remember   int
	seen       map[string]bool
	seenOrder  []string // Message-IDs in arrival order, for forgetting the oldest
}

// StartMailServer listens on cfg.Addr, or takes cfg.Listener, and serves SMTP until Close; ctx
// bounds only the start.
func StartMailServer(ctx context.Context, cfg MailServerConfig) (*MailServer, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 100
	}
	if cfg.Remember <= 0 {
		cfg.Remember = 100_000
	}
	ln := cfg.Listener
	if ln == nil {
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(ctx, "tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("mail server: listen %s: %w", cfg.Addr, err)
		}
	}
	m := &MailServer{ln: ln, lat: newSampler(cfg.Latency, cfg.Seed), stop: make(chan struct{}), done: make(chan struct{}), keep: cfg.Keep,
		remember: cfg.Remember, seen: map[string]bool{}}
	m.srv = smtp.NewServer(backend{m})
	m.srv.Domain = "mail.lab.localhost"
	m.srv.AllowInsecureAuth = true
	m.srv.MaxMessageBytes = 1 << 20
	m.srv.ReadTimeout = 30 * time.Second
	m.srv.WriteTimeout = 30 * time.Second
	m.srv.ErrorLog = log.New(io.Discard, "", 0)
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(ln)
	}()
	return m, nil
}

// Addr returns the host:port the server listens on.
func (m *MailServer) Addr() string { return m.ln.Addr().String() }

// Delivered returns the number of messages delivered so far (repeats of a Message-ID not counted).
func (m *MailServer) Delivered() int64 { return m.delivered.Load() }

// Duplicates returns the number of messages dropped as repeats of a delivered Message-ID.
func (m *MailServer) Duplicates() int64 { return m.duplicates.Load() }

// firstDelivery records id and reports whether it is new; a message without one always is.
func (m *MailServer) firstDelivery(id string) bool {
	if id == "" {
		return true
	}
	if m.seen[id] {
		return false
	}
	m.seen[id] = true
	m.seenOrder = append(m.seenOrder, id)
	if len(m.seenOrder) > m.remember {
		delete(m.seen, m.seenOrder[0])
		m.seenOrder = m.seenOrder[1:]
	}
	return true
}

// messageID returns the Message-ID header of a message, "" when it has none or is malformed.
func messageID(data []byte) string {
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(data))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return ""
	}
	return h.Get("Message-Id")
}

// Messages returns copies of the most recent accepted messages, oldest first.
func (m *MailServer) Messages() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Message(nil), m.msgs...)
}

// Close stops the server, interrupting delayed messages, and waits for it to finish or ctx to end.
func (m *MailServer) Close(ctx context.Context) error {
	m.stopOnce.Do(func() { close(m.stop) })
	// Stop accepting first and let Serve return: go-smtp's Shutdown waits on a WaitGroup that
	// Serve adds to for each accepted connection, which must not happen concurrently.
	_ = m.ln.Close()
	select {
	case <-m.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := m.srv.Shutdown(ctx)
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

type backend struct{ m *MailServer }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{m: b.m}, nil }

type session struct {
	m    *MailServer
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if !wait(context.Background(), s.m.stop, s.m.lat.next()) {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "server shutting down"}
	}
	s.m.mu.Lock()
	if !s.m.firstDelivery(messageID(data)) {
		s.m.mu.Unlock()
		s.m.duplicates.Add(1)
		return nil
	}
	s.m.delivered.Add(1)
	s.m.msgs = append(s.m.msgs, Message{From: s.from, To: append([]string(nil), s.to...), Data: data})
	if len(s.m.msgs) > s.m.keep {
		s.m.msgs = s.m.msgs[len(s.m.msgs)-s.m.keep:]
	}
	s.m.mu.Unlock()
	return nil
}

// MailerConfig configures [NewMailer].
type MailerConfig struct {
	// Addr is the SMTP server's host:port. Required.
	Addr string
	// From is the envelope sender. Default lab@lab.localhost.
	From string
	// Timeout bounds one send when the context has no earlier deadline. Default 30s.
	Timeout time.Duration
	// TracerProvider receives a client span per message. Default: no spans.
	TracerProvider trace.TracerProvider
}

// Mailer sends mail over SMTP, one connection per message (like most transactional senders). It is
// safe for concurrent use.
type Mailer struct {
	cfg MailerConfig
	tr  trace.Tracer
}

// NewMailer returns a Mailer for cfg.
func NewMailer(cfg MailerConfig) (*Mailer, error) {
	if cfg.Addr == "" {
		return nil, errors.New("mailer: empty SMTP address")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("mailer: SMTP address %q: want host:port: %w", cfg.Addr, err)
	}
	if cfg.From == "" {
		cfg.From = "lab@lab.localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &Mailer{cfg: cfg, tr: tp.Tracer("github.com/headroom/headroom/lab/deps")}, nil
}

// Send delivers one message with the given subject and body to to. The context bounds the whole
// SMTP conversation. The Message-ID is derived from the recipient, subject and body, so sending
// the same message again (a job run again after a crash mid-send) carries the same id, which the
// lab's mail server treats as an idempotency key.
func (m *Mailer) Send(ctx context.Context, to, subject, body string) (err error) {
	host, port, _ := net.SplitHostPort(m.cfg.Addr)
	p, _ := strconv.Atoi(port)
	ctx, span := m.tr.Start(ctx, "smtp send", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("server.address", host), attribute.Int("server.port", p),
		attribute.String("network.protocol.name", "smtp"), attribute.Int("smtp.recipients", 1)))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.cfg.Timeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.cfg.Addr)
	if err != nil {
		return fmt.Errorf("mailer: dial %s: %w", m.cfg.Addr, err)
	}
	// The SMTP client has no context: the deadline and a watcher that closes the connection on
	// cancellation bound it instead.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c := smtp.NewClient(conn)
	defer c.Close()
	var msg bytes.Buffer
	sum := sha256.Sum256([]byte(to + "\x00" + subject + "\x00" + body))
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@lab.localhost>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		m.cfg.From, to, subject, hex.EncodeToString(sum[:16]), body)
	if err := c.SendMail(m.cfg.From, []string{to}, &msg); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("mailer: send to %s: %w", to, ctx.Err())
		}
		return fmt.Errorf("mailer: send to %s: %w", to, err)
	}
	_ = c.Quit()
	return nil
}
