package collect

import (
	"cmp"
	"io"
	"os"
	"runtime"
	"sync"
	"time"
)

// TraceLines carries completed traces from a Receiver to an output, where WriteAll marshals
// them as OTLP/JSON lines on every core: one trace per line, in no particular order (readers
// group spans by trace id). It is the format of `headroom collect --out`, which diagnose reads.
//
// Add is a Config.OnTrace; Close ends the stream. Add and Close are safe for concurrent use.
type TraceLines struct {
	mu     sync.Mutex // guards closed against a send after close: Shutdown may time out with a delivery in flight
	closed bool
	ch     chan *Trace
}

// NewTraceLines returns an open TraceLines. One trace per writer may wait before Add blocks:
// a trace Add took is out of the receiver's count of Config.MaxBufferedBytes, so few are, and a
// slow writer pushes back on the receiver's assembly (and through its queue on exporters).
func NewTraceLines() *TraceLines { return &TraceLines{ch: make(chan *Trace, runtime.GOMAXPROCS(0))} }

// Add queues t for writing; after Close it drops t. It blocks while the writer is behind.
func (l *TraceLines) Add(t *Trace) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.ch <- t
	}
}

// Close ends the stream: WriteAll returns once the queued traces are written. Closing twice is
// harmless.
func (l *TraceLines) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.ch)
	}
}

// WriteAll writes the traces to w until Close. After an error it keeps draining, so that the
// receiver never blocks on a failed output, and returns the first error. Call it once, from its
// own goroutine.
func (l *TraceLines) WriteAll(w io.Writer) error { return l.write(w, nil, 0) }

// WriteStream writes the traces to w as WriteAll does, and every `every` (when positive) writes
// out the lines waiting, so that a reader at the other end of a pipe gets traces as they
// complete rather than in batches of a megabyte.
func (l *TraceLines) WriteStream(w io.Writer, every time.Duration) error {
	return l.write(w, nil, every)
}

// WriteFile writes the traces to f as WriteAll does, so that f is usable as it grows and after
// a crash: it appends whole lines only, and every `every` (when positive) writes out the lines
// waiting and syncs f to stable storage. A SIGKILL or power loss keeps every trace completed up
// to the last sync; traces still being assembled (within Config.CompleteAfter of their root,
// or Config.MaxIdle for orphans) are lost with the process.
func (l *TraceLines) WriteFile(f *os.File, every time.Duration) error {
	return l.write(f, f.Sync, every)
}

// lineBatch is how many bytes of whole lines wait before they are written out.
const lineBatch = 1 << 20

func (l *TraceLines) write(w io.Writer, syncw func() error, every time.Duration) error {
	var (
		mu      sync.Mutex // guards pending, err and writes to w
		pending []byte
		err     error
		wg      sync.WaitGroup
	)
	// flush writes the pending lines in one call, so that w only ever receives whole lines; mu
	// is held.
	flush := func() {
		if err == nil && len(pending) > 0 {
			_, err = w.Write(pending)
		}
		pending = pending[:0]
	}
	syncNow := func() {
		mu.Lock()
		flush()
		failed := err != nil
		mu.Unlock()
		if syncw != nil && !failed {
			serr := syncw() // outside the lock: marshalling goes on while the disk catches up
			mu.Lock()
			err = cmp.Or(err, serr)
			mu.Unlock()
		}
	}
	stop := make(chan struct{})
	var ticker sync.WaitGroup
	if every > 0 {
		ticker.Go(func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					syncNow()
				}
			}
		})
	}
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var line []byte
			for t := range l.ch {
				var merr error
				line, merr = t.AppendJSON(line[:0])
				line = append(line, '\n')
				mu.Lock()
				err = cmp.Or(err, merr)
				if err == nil {
					pending = append(pending, line...)
					if len(pending) >= lineBatch {
						flush()
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	ticker.Wait()
	syncNow()
	return err
}
