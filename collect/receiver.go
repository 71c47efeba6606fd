package collect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
)

// ErrListen is wrapped by Start's error when an address cannot be listened on (for example it
// is in use; errors.Is(err, syscall.EADDRINUSE) tells that case).
var ErrListen = errors.New("cannot listen")

// errOverloaded and errShuttingDown are why a whole request is refused.
var (
	errOverloaded   = errors.New("ingest queue full: retry later")
	errShuttingDown = errors.New("receiver shutting down")
)

// Receiver is an OTLP trace receiver. Create it with New, run it with Start (or Serve) and
// stop it with Shutdown. Its methods are safe for concurrent use.
type Receiver struct {
	cfg Config
	c   counters

	lnMu           sync.Mutex // guards the listeners: Serve's caller may ask for the addresses meanwhile
	httpLn, grpcLn net.Listener
	httpSrv        *http.Server
	grpcSrv        *grpc.Server

	// qmu guards closing and the queue's close: handlers send under the read lock, so the
	// queue is never sent to after it is closed.
	qmu     sync.RWMutex
	closing bool
	queue   chan ptrace.Traces
	// slots holds one token per request reserved a place in queue, taken before the body is
	// read, so that an overloaded receiver refuses cheaply instead of decoding first; the
	// assembler returns the token when it takes the request off the queue.
	slots chan struct{}

	fwd *forwarder // nil without Config.Forward

	completed chan *Trace
	// waiting holds the encoded bytes of the completed traces not yet through OnTrace, to a
	// quarter of Config.MaxBufferedBytes: a slow OnTrace makes the assembler wait rather than
	// pile them up.
	waiting   *semaphore.Weighted
	delivered chan struct{} // closed when every completed trace went to OnTrace
	open      atomic.Int64
	buffered  atomic.Int64
	bytes     atomic.Int64

	started  atomic.Bool // Start was called
	running  atomic.Bool // Start succeeded: servers and goroutines run until Shutdown
	stopOnce sync.Once
	stopErr  error
}

// New fills in cfg's defaults, validates it and returns a Receiver that is not yet listening.
// Errors wrap ErrConfig; one about a field is a *fielderr.Error naming it.
func New(cfg Config) (*Receiver, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Receiver{cfg: cfg, queue: make(chan ptrace.Traces, cfg.QueueSize), slots: make(chan struct{}, cfg.QueueSize),
		completed: make(chan *Trace, 1024), waiting: semaphore.NewWeighted(cfg.maxWaitingBytes()), delivered: make(chan struct{})}, nil
}

// Config returns the configuration in effect, defaults filled in.
func (r *Receiver) Config() Config { return r.cfg }

// Start listens on the configured addresses and serves in the background until Shutdown.
// ctx bounds only the listening. It fails, listening on nothing, if any address cannot be
// listened on (the error wraps ErrListen and names the address); Shutdown is then a no-op.
// Start may be called once.
func (r *Receiver) Start(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("collect: receiver already started")
	}
	var lc net.ListenConfig
	listen := func(name, addr string) (net.Listener, error) {
		if addr == Off {
			return nil, nil
		}
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%w: OTLP/%s on %s: %w", ErrListen, name, addr, err)
		}
		return ln, nil
	}
	httpLn, err := listen("HTTP", r.cfg.HTTPAddr)
	if err != nil {
		return err
	}
	grpcLn, err := listen("gRPC", r.cfg.GRPCAddr)
	if err != nil {
		if httpLn != nil {
			_ = httpLn.Close()
		}
		return err
	}
	r.lnMu.Lock()
	r.httpLn, r.grpcLn = httpLn, grpcLn
	r.lnMu.Unlock()
	r.running.Store(true)
	if r.cfg.Forward != "" {
		r.fwd = newForwarder(r.cfg, &r.c)
	}
	go r.assemble()
	go r.deliver()
	if r.httpLn != nil {
		mux := http.NewServeMux()
		mux.HandleFunc(pathTraces, r.serveHTTP)
		mux.HandleFunc(pathMetrics, r.serveOther(pathMetrics, cMetricsRequests, decodeMetrics))
		mux.HandleFunc(pathLogs, r.serveOther(pathLogs, cLogsRequests, decodeLogs))
		// serveHTTP bounds the body by BodyTimeout (a slow upload holds a place in the ingest
		// queue while it lasts); ReadTimeout is the backstop for the whole request.
		r.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: r.cfg.HeaderTimeout,
			ReadTimeout: r.cfg.HeaderTimeout + r.cfg.BodyTimeout, IdleTimeout: 2 * time.Minute}
		go func() { _ = r.httpSrv.Serve(r.httpLn) }()
	}
	if r.grpcLn != nil {
		r.grpcSrv = newGRPCServer(r)
		go func() { _ = r.grpcSrv.Serve(r.grpcLn) }()
	}
	return nil
}

// Serve starts the receiver, serves until ctx is done, then shuts down, giving in-flight
// requests and the last traces up to grace to finish. It returns Start's error, or
// Shutdown's.
func (r *Receiver) Serve(ctx context.Context, grace time.Duration) error {
	if err := r.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	return r.Shutdown(sctx)
}

// HTTPAddr is the address OTLP/HTTP listens on (the actual port when configured with port
// 0), or nil when it is off or not started.
func (r *Receiver) HTTPAddr() net.Addr { return r.addrOf(&r.httpLn) }

// GRPCAddr is the address OTLP/gRPC listens on, or nil when it is off or not started.
func (r *Receiver) GRPCAddr() net.Addr { return r.addrOf(&r.grpcLn) }

func (r *Receiver) addrOf(ln *net.Listener) net.Addr {
	r.lnMu.Lock()
	defer r.lnMu.Unlock()
	if *ln == nil {
		return nil
	}
	return (*ln).Addr()
}

// Stats returns a snapshot of the counters.
func (r *Receiver) Stats() Stats {
	s := r.c.snapshot()
	s.OpenTraces, s.BufferedSpans, s.BufferedBytes = r.open.Load(), r.buffered.Load(), r.bytes.Load()
	return s
}

// Shutdown stops accepting requests, lets in-flight ones finish, writes every open trace to
// OnTrace (early, counted as EndShutdown or EndOrphan) and returns when all are delivered.
// ctx bounds the wait; when it ends first, open connections are closed and ctx's error is
// returned (traces not yet delivered are lost). Later calls return the first call's result.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.stopOnce.Do(func() { r.stopErr = r.shutdown(ctx) })
	return r.stopErr
}

func (r *Receiver) shutdown(ctx context.Context) error {
	if !r.running.Load() {
		return nil
	}
	var wg sync.WaitGroup
	if r.httpSrv != nil {
		wg.Go(func() {
			if r.httpSrv.Shutdown(ctx) != nil {
				_ = r.httpSrv.Close()
			}
		})
	}
	if r.grpcSrv != nil {
		wg.Go(func() {
			stopped := make(chan struct{})
			go func() { r.grpcSrv.GracefulStop(); close(stopped) }()
			select {
			case <-stopped:
			case <-ctx.Done():
				r.grpcSrv.Stop()
			}
		})
	}
	wg.Wait()
	r.qmu.Lock()
	r.closing = true
	close(r.queue)
	r.qmu.Unlock()
	var fwdErr error
	if r.fwd != nil {
		fwdErr = r.fwd.close(ctx)
	}
	select {
	case <-r.delivered:
		return fwdErr
	case <-ctx.Done():
		return fmt.Errorf("collect: shutdown: traces still being delivered: %w", ctx.Err())
	}
}

// reserve takes a place in the ingest queue for one request, or says why there is none
// (errShuttingDown, errOverloaded) and counts the refusal. It never blocks: a full queue
// refuses the request so that the exporter backs off.
func (r *Receiver) reserve() error {
	r.qmu.RLock()
	closing := r.closing
	r.qmu.RUnlock()
	if closing {
		r.c.add(cShuttingDown, 1)
		return errShuttingDown
	}
	select {
	case r.slots <- struct{}{}:
		return nil
	default:
		r.c.add(cOverloaded, 1)
		return errOverloaded
	}
}

// unreserve gives back a place reserved for a request that is not queued after all.
func (r *Receiver) unreserve() { <-r.slots }

// ingest checks a decoded request and queues it for assembly in the place the caller
// reserved, which it keeps (until the assembler takes the request) or gives back.
func (r *Receiver) ingest(td ptrace.Traces) (checked, error) {
	c := sanitize(td, r.cfg.MaxAttrValueLen)
	r.qmu.RLock()
	defer r.qmu.RUnlock()
	if r.closing {
		r.unreserve()
		r.c.add(cShuttingDown, 1)
		return c, errShuttingDown
	}
	if c.accepted > 0 {
		r.queue <- td // never blocks: the reserved place is free
	} else {
		r.unreserve()
	}
	r.c.add(cSpansAccepted, int64(c.accepted))
	r.c.add(cInvalidTraceID, int64(c.badTrace))
	r.c.add(cInvalidSpanID, int64(c.badSpan))
	r.c.add(cEndBeforeStart, int64(c.skewed))
	r.c.add(cTruncated, int64(c.truncations))
	return c, nil
}

// assemble is the one goroutine that owns the assembler.
func (r *Receiver) assemble() {
	a := newAssembler(r.cfg, &r.c, func(t *Trace) {
		// Never fails: the context has no end, and deliver releases what it takes.
		_ = r.waiting.Acquire(context.Background(), r.held(t))
		r.completed <- t
	})
	// Sweeping a few times per CompleteAfter keeps completion within ~25 % of it.
	every := max(r.cfg.CompleteAfter/4, 10*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	defer close(r.completed)
	for {
		select {
		case td, ok := <-r.queue:
			if !ok {
				a.flush()
				r.setGauges(a)
				return
			}
			r.unreserve()
			a.add(td, r.cfg.Now())
		case <-tick.C:
			a.sweep(r.cfg.Now())
		}
		r.setGauges(a)
	}
}

func (r *Receiver) setGauges(a *assembler) {
	o, s, b := a.gauges()
	r.open.Store(int64(o))
	r.buffered.Store(int64(s))
	r.bytes.Store(b)
}

// held is what t takes of the waiting bytes: its size, or all of them for a trace larger,
// which then waits alone.
func (r *Receiver) held(t *Trace) int64 { return min(t.bytes, r.cfg.maxWaitingBytes()) }

// deliver hands completed traces to OnTrace off the assembler's goroutine, so marshalling
// and writing them runs in parallel with assembly.
func (r *Receiver) deliver() {
	defer close(r.delivered)
	for t := range r.completed {
		if r.cfg.OnTrace != nil {
			r.cfg.OnTrace(t)
		}
		r.waiting.Release(r.held(t))
	}
}
