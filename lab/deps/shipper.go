package deps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// LogShipperConfig configures [NewLogShipper].
type LogShipperConfig struct {
	// URL is the collector's base URL; lines go to URL+"/logs". Required.
	URL string
	// SyncClient makes the synchronous calls ([LogShipper.ShipSync]); give it an instrumented
	// transport so the call shows in the request's trace. Default: http.Client with a 30s timeout.
	SyncClient *http.Client
	// AsyncClient makes the background batch calls. Default: http.Client with a 30s timeout.
	AsyncClient *http.Client
	// QueueSize bounds the lines waiting for the background shipper; when full, new lines are
	// dropped and counted. Default 8192.
	QueueSize int
	// BatchSize is the most lines per background request. Default 1024 (with the embedded
	// collector's 500 ms per request, about 2000 lines/s; beyond that lines are dropped and counted).
	BatchSize int
	// FlushInterval is the longest a queued line waits before its batch is sent. Default 200ms.
	FlushInterval time.Duration
}

// LogShipper sends log lines to a remote collector, either synchronously (the caller waits for the
// collector) or through a bounded queue drained in batches by one background goroutine. It is safe
// for concurrent use. Close it to flush the queue.
type LogShipper struct {
	cfg     LogShipperConfig
	queue   chan []byte
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once

	shipped, dropped, failed atomic.Int64
}

// NewLogShipper returns a shipper and starts its background goroutine.
func NewLogShipper(cfg LogShipperConfig) (*LogShipper, error) {
	if cfg.URL == "" {
		return nil, errors.New("log shipper: empty collector URL")
	}
	if cfg.SyncClient == nil {
		cfg.SyncClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.AsyncClient == nil {
		cfg.AsyncClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8192
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1024
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 200 * time.Millisecond
	}
	s := &LogShipper{cfg: cfg, queue: make(chan []byte, cfg.QueueSize), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s, nil
}

// ShipSync posts one line and waits for the collector's answer.
func (s *LogShipper) ShipSync(ctx context.Context, line []byte) error {
	if err := s.post(ctx, s.cfg.SyncClient, line); err != nil {
		s.failed.Add(1)
		return err
	}
	s.shipped.Add(1)
	return nil
}

// Enqueue queues a line for the background shipper without blocking; it reports false (and counts
// a drop) when the queue is full or the shipper is closed.
func (s *LogShipper) Enqueue(line []byte) bool {
	select {
	case <-s.stop:
		s.dropped.Add(1)
		return false
	default:
	}
	select {
	case s.queue <- line:
		return true
	default:
		s.dropped.Add(1)
		return false
	}
}

// Shipped returns the number of lines the collector accepted.
func (s *LogShipper) Shipped() int64 { return s.shipped.Load() }

// Dropped returns the number of lines dropped because the queue was full.
func (s *LogShipper) Dropped() int64 { return s.dropped.Load() }

// Failed returns the number of lines lost to failed requests.
func (s *LogShipper) Failed() int64 { return s.failed.Load() }

// Queued returns the number of lines waiting in the queue.
func (s *LogShipper) Queued() int { return len(s.queue) }

// QueueCap returns the queue's capacity.
func (s *LogShipper) QueueCap() int { return cap(s.queue) }

// Close stops accepting lines and ships what is queued, until ctx ends.
func (s *LogShipper) Close(ctx context.Context) error {
	s.closing.Do(func() { close(s.stop) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("log shipper: flush: %w", ctx.Err())
	}
}

func (s *LogShipper) run() {
	defer close(s.done)
	ctx := context.Background()
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	var batch [][]byte
	flush := func() {
		if len(batch) == 0 {
			return
		}
		body := bytes.Join(batch, []byte("\n"))
		if err := s.post(ctx, s.cfg.AsyncClient, body); err != nil {
			s.failed.Add(int64(len(batch)))
		} else {
			s.shipped.Add(int64(len(batch)))
		}
		batch = batch[:0]
	}
	for {
		select {
		case line := <-s.queue:
			batch = append(batch, line)
			if len(batch) >= s.cfg.BatchSize {
				flush()
			}
		case <-t.C:
			flush()
		case <-s.stop:
			for {
				select {
				case line := <-s.queue:
					batch = append(batch, line)
					if len(batch) >= s.cfg.BatchSize {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

func (s *LogShipper) post(ctx context.Context, hc *http.Client, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL+"/logs", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("log shipper: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("log shipper: post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("log shipper: collector answered %s", resp.Status)
	}
	return nil
}
