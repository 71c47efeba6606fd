package collect

import (
	"bufio"
	"io"
	"runtime"
	"sync"
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

// traceLinesBuffer is how many traces may wait for the writer before Add blocks, which pushes
// back on the receiver's assembly (and through its queue on exporters).
const traceLinesBuffer = 1024

// NewTraceLines returns an open TraceLines.
func NewTraceLines() *TraceLines { return &TraceLines{ch: make(chan *Trace, traceLinesBuffer)} }

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

// WriteAll writes the traces to w until Close, then flushes. After an error it keeps draining,
// so that the receiver never blocks on a failed output, and returns the first error. Call it
// once, from its own goroutine.
func (l *TraceLines) WriteAll(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var (
		mu  sync.Mutex // guards bw and err
		err error
		wg  sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var line []byte
			for t := range l.ch {
				var merr error
				line, merr = t.AppendJSON(line[:0])
				line = append(line, '\n')
				mu.Lock()
				if err == nil {
					err = merr
				}
				if err == nil {
					_, err = bw.Write(line)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err != nil {
		return err
	}
	return bw.Flush()
}
