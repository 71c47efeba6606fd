package diagnose

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"time"
)

// SpanKind is the OTLP span kind (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer).
type SpanKind int

// The OTLP span kinds.
const (
	KindUnspecified SpanKind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

// Span is diagnose's own small span model.
type Span struct {
	TraceID, SpanID, ParentID string
	Name                      string
	Kind                      SpanKind
	Start, End                time.Time
	// Attrs holds the span's attributes, and its resource's (service.name, ...) where the span has
	// none of that key, as strings.
	Attrs map[string]string
}

// Duration is End-Start, never negative.
func (s *Span) Duration() time.Duration { return max(s.End.Sub(s.Start), 0) }

// Trace is the spans of one trace.
type Trace struct {
	ID    string
	Spans []*Span
}

// ReadConfig bounds what [Read] keeps. The zero value uses the defaults documented per field.
type ReadConfig struct {
	// MaxLineBytes is the longest line decoded; longer lines are skipped and counted. Default 64 MiB.
	MaxLineBytes int
	// MaxAttrBytes truncates longer attribute values (counted). Default 4 KiB: statements and URLs
	// fit, a megabyte of request body pasted into an attribute does not.
	MaxAttrBytes int
	// MaxSpans is the most spans held at once (by [Read], all it returns; by [ReadEach], those of
	// the traces its Window holds); more are skipped and counted. Default 5,000,000 (a few GB at
	// most), so a huge or endless file cannot exhaust memory.
	MaxSpans int
	// Window is how many lines [ReadEach] holds a trace after the line it began on, for its late
	// spans (a span that reached collect after it wrote the trace's line) to join it; a span of a
	// trace already handed on is dropped and counted ([ReasonLateSpan]). Default 256.
	Window int
}

func (c ReadConfig) withDefaults() ReadConfig {
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 64 << 20
	}
	if c.MaxAttrBytes <= 0 {
		c.MaxAttrBytes = 4 << 10
	}
	if c.MaxSpans <= 0 {
		c.MaxSpans = 5_000_000
	}
	if c.Window <= 0 {
		c.Window = 256
	}
	return c
}

// The reasons [Input.Tolerated] counts.
const (
	ReasonMalformedLine  = "malformed_json_line"
	ReasonLineTooLong    = "line_too_long"
	ReasonNoIDs          = "span_without_trace_or_span_id"
	ReasonEndBeforeStart = "end_before_start"
	ReasonDuplicateSpan  = "duplicate_span_id"
	ReasonAttrTruncated  = "attribute_value_truncated"
	ReasonSpanLimit      = "span_limit_reached"
	ReasonOrphan         = "parent_span_missing"
	ReasonNoRoot         = "trace_without_root"
	// ReasonLateSpan counts spans [ReadEach] read after it had handed their trace on.
	ReasonLateSpan = "span_after_its_trace"
	// ReasonOutsideRoot counts spans that start before or end after their trace's root, clamped
	// to it by the analysis (counted by [Diagnose], not by [Read]).
	ReasonOutsideRoot = "span_outside_root"
)

// Input is what [Read] decoded: the traces, and the input it tolerated, counted by reason.
type Input struct {
	Traces []*Trace
	Lines  int
	Spans  int
	// Tolerated counts bad input by reason (the Reason… constants); FirstBad names the first line
	// per reason, for the message a user reads.
	Tolerated map[string]int
	FirstBad  map[string]int
}

func (in *Input) tolerate(reason string, line int) {
	if in.Tolerated[reason] == 0 {
		in.FirstBad[reason] = line
	}
	in.Tolerated[reason]++
}

var kindNames = map[string]SpanKind{"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2,
	"SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}

// ErrNoTraces is wrapped by the error [Read] returns when the input holds no span at all (an
// empty file, blank lines, only spans it had to drop): there is nothing to diagnose.
var ErrNoTraces = errors.New("0 traces read")

// ReadJSONL reads traces written one OTLP JSON request per line, with the default [ReadConfig].
// See [Read].
func ReadJSONL(r io.Reader) ([]*Trace, error) {
	in, err := Read(r, ReadConfig{})
	if err != nil {
		return nil, err
	}
	return in.Traces, nil
}

// Read reads traces written one OTLP JSON request per line (the format headroom collect --out
// writes). Spans are grouped by trace id (a trace may span several lines). Bad input is tolerated
// and counted in [Input.Tolerated]: malformed or overlong lines are skipped, spans without ids and
// duplicate span ids dropped, an end before the start set to the start, long attribute values
// truncated. Only a read error, or a file of which not one line decodes, is an error; it names the
// line. An input without one span kept is an error wrapping [ErrNoTraces], returned with the
// Input, which says what was tolerated.
func Read(r io.Reader, cfg ReadConfig) (*Input, error) {
	var traces []*Trace
	in, err := read(r, cfg.withDefaults(), math.MaxInt, decoders(), func(t *Trace) { traces = append(traces, t) })
	if in != nil {
		in.Traces = traces
	}
	return in, err
}

// ReadEach reads traces as [Read] does, but hands each to fn as soon as ReadConfig.Window lines
// have followed the line it began on (at the end, the rest), and keeps none of them: its memory
// is that of the window, not of the file. The Input it returns has no Traces. Its errors are
// Read's.
func ReadEach(r io.Reader, cfg ReadConfig, fn func(*Trace)) (*Input, error) {
	cfg = cfg.withDefaults()
	return read(r, cfg, cfg.Window, decoders(), fn)
}

// doneIDs is how many trace ids handed on read remembers, to count their late spans: two
// generations of this many.
const doneIDs = 1 << 14

// read is Read and ReadEach: it hands each trace to fn once window lines have followed the one
// it began on. workers goroutines decode the lines.
func read(r io.Reader, cfg ReadConfig, window, workers int, fn func(*Trace)) (*Input, error) {
	in := &Input{Tolerated: map[string]int{}, FirstBad: map[string]int{}}
	type reading struct {
		t     *Trace
		line  int
		seen  map[string]struct{} // span ids, for duplicates; a map per trace stays small and fast
		spans int
	}
	byID := map[string]*reading{}
	var pending []*reading // in the order they began
	done, doneBefore := map[string]struct{}{}, map[string]struct{}{}
	held, handed := 0, 0 // spans held, traces handed on
	handOn := func(upTo int) {
		k := 0
		for k < len(pending) && pending[k].line <= upTo {
			rt := pending[k]
			delete(byID, rt.t.ID)
			if len(done) >= doneIDs {
				done, doneBefore = map[string]struct{}{}, done
			}
			done[rt.t.ID] = struct{}{}
			held -= rt.spans
			handed++
			fn(rt.t)
			pending[k] = nil
			k++
		}
		pending = pending[k:]
	}
	var firstErr error
	decoded := 0
	lines := decodeLines(r, cfg, workers)
	for {
		if window < math.MaxInt {
			handOn(in.Lines - window)
		}
		l, more := lines.next()
		if !more {
			if l.err != nil {
				return nil, l.err
			}
			break
		}
		in.Lines++
		line := in.Lines
		if l.tooLong {
			in.tolerate(ReasonLineTooLong, line)
			continue
		}
		if l.blank {
			continue
		}
		if l.err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("traces line %d: not an OTLP JSON request: %w", line, l.err)
			}
			in.tolerate(ReasonMalformedLine, line)
			continue
		}
		decoded++
		for range l.truncated {
			in.tolerate(ReasonAttrTruncated, line)
		}
		for i := range l.spans {
			sp := &l.spans[i]
			if sp.TraceID == "" || sp.SpanID == "" {
				in.tolerate(ReasonNoIDs, line)
				continue
			}
			rt := byID[sp.TraceID]
			if rt == nil {
				_, late := done[sp.TraceID]
				if _, before := doneBefore[sp.TraceID]; late || before {
					in.tolerate(ReasonLateSpan, line)
					continue
				}
			} else if _, dup := rt.seen[sp.SpanID]; dup {
				in.tolerate(ReasonDuplicateSpan, line)
				continue
			}
			if held >= cfg.MaxSpans {
				in.tolerate(ReasonSpanLimit, line)
				continue
			}
			if rt == nil {
				// Sized for the rest of the line, up to a typical trace: a line of many small
				// traces must not reserve the line's size for each.
				hint := min(len(l.spans)-i, 64)
				rt = &reading{t: &Trace{ID: sp.TraceID, Spans: make([]*Span, 0, hint)}, line: line, seen: make(map[string]struct{}, hint)}
				byID[sp.TraceID] = rt
				pending = append(pending, rt)
			}
			rt.seen[sp.SpanID] = struct{}{}
			if sp.End.Before(sp.Start) {
				in.tolerate(ReasonEndBeforeStart, line)
				sp.End = sp.Start
			}
			rt.t.Spans = append(rt.t.Spans, sp)
			rt.spans++
			held++
			in.Spans++
		}
	}
	handOn(math.MaxInt)
	if decoded == 0 && firstErr != nil {
		return nil, firstErr
	}
	if handed == 0 {
		what := "no span"
		if len(in.Tolerated) > 0 {
			what = "only spans it had to drop"
		}
		return in, fmt.Errorf("%w: %d lines, %s", ErrNoTraces, in.Lines, what)
	}
	return in, nil
}

// decodedLine is one line of input as decodeLines decoded it.
type decodedLine struct {
	tooLong, blank bool
	spans          []Span // the resource's attributes copied onto its spans where they have none
	truncated      int
	// err is the line's decoding error, or for the last, the read error that ended the input.
	err error
}

// lineDecoder reads lines on a goroutine of its own and decodes them on others, one per core,
// ahead of the goroutine that analyses them, which receives them in the order read.
type lineDecoder struct {
	batches <-chan *lineBatch // in the order read
	batch   []decodedLine
	end     decodedLine
}

// lineBatch is lines read, then decoded: buf holds the lines (cut at ends), done is closed once
// lines are decoded.
type lineBatch struct {
	buf     []byte
	ends    []int
	tooLong []bool
	lines   []decodedLine
	done    chan struct{}
}

// decodeBatch and decodeBatchBytes bound the lines read into one batch (one line at least, so
// a batch of a long line holds that line only), decodeAhead the decoded batches waiting for the
// analysis. The lines read are held until decoded: those of at most workers+2 batches (being
// decoded, handed to a decoder, being read).
const decodeBatch, decodeBatchBytes, decodeAhead = 64, 1 << 20, 4

// maxDecoders bounds the decoding goroutines: past what one analysing goroutine consumes, more
// only hold more lines in memory.
const maxDecoders = 4

// decoders is how many goroutines decode lines: one per core, up to maxDecoders.
func decoders() int { return min(runtime.GOMAXPROCS(0), maxDecoders) }

func decodeLines(r io.Reader, cfg ReadConfig, workers int) *lineDecoder {
	ordered := make(chan *lineBatch, decodeAhead)
	jobs := make(chan *lineBatch) // unbuffered: a batch is read when a decoder is about to be free
	// The batches' buffers, handed back once decoded: a batch's lines are not garbage for the
	// collector to chase. A long line's is not kept.
	free := make(chan []byte, workers+2)
	ld := &lineDecoder{batches: ordered}
	go func() {
		defer close(jobs)
		defer close(ordered) // the consumer reads ld.end once it is closed
		br := bufio.NewReaderSize(r, 1<<16)
		n := 0
		for more := true; more; {
			b := &lineBatch{done: make(chan struct{})}
			select {
			case b.buf = <-free:
			default:
			}
			for len(b.ends) < decodeBatch && len(b.buf) < decodeBatchBytes {
				tooLong, err := readLine(br, &b.buf, cfg.MaxLineBytes)
				if len(b.buf) == b.end() && !tooLong && err != nil {
					if !errors.Is(err, io.EOF) {
						ld.end.err = fmt.Errorf("traces line %d: %w", n+1, err)
					}
					more = false
					break
				}
				n++
				b.ends, b.tooLong = append(b.ends, len(b.buf)), append(b.tooLong, tooLong)
			}
			if len(b.ends) == 0 {
				break
			}
			ordered <- b
			jobs <- b
		}
	}()
	for range workers {
		go func() {
			dec := newLineDecoder(cfg)
			for b := range jobs {
				b.lines = make([]decodedLine, len(b.ends))
				from := 0
				for i, to := range b.ends {
					b.lines[i].tooLong = b.tooLong[i]
					if !b.tooLong[i] {
						b.lines[i] = dec.decode(b.buf[from:to])
					}
					from = to
				}
				if cap(b.buf) <= 2*decodeBatchBytes {
					select { // the decoded spans hold copies of the lines
					case free <- b.buf[:0]:
					default:
					}
				}
				b.buf = nil
				close(b.done)
			}
		}()
	}
	return ld
}

// end is where the batch's last line ends in buf.
func (b *lineBatch) end() int {
	if len(b.ends) == 0 {
		return 0
	}
	return b.ends[len(b.ends)-1]
}

// lineDec decodes lines, reusing its buffers and intern table from line to line.
type lineDec struct {
	maxAttr int
	intern  *interner
	req     request
}

func newLineDecoder(cfg ReadConfig) *lineDec {
	return &lineDec{maxAttr: cfg.MaxAttrBytes, intern: newInterner()}
}

// decode decodes one line (not too long) into its spans.
func (d *lineDec) decode(b []byte) decodedLine {
	var l decodedLine
	if b = bytes.TrimSpace(b); len(b) == 0 {
		l.blank = true
		return l
	}
	if l.err = decodeRequest(b, d.maxAttr, d.intern, &d.req); l.err == nil {
		l.spans, l.truncated = spansOf(&d.req), d.req.truncated
	}
	return l
}

// spansOf turns the decoded spans of req into Spans, in one allocation; each span's attributes
// map holds its own attributes and those of its resource it has no value of.
func spansOf(req *request) []Span {
	spans := make([]Span, 0, len(req.spans))
	for _, rs := range req.resources {
		res := req.kvs[rs.attrs[0]:rs.attrs[1]]
		for _, os := range req.spans[rs.spans[0]:rs.spans[1]] {
			own := req.kvs[os.attrs[0]:os.attrs[1]]
			attrs := make(map[string]string, len(own)+len(res))
			for _, a := range own {
				attrs[a.k] = a.v
			}
			// Backwards, so that of a resource's repeated key the last value wins, as it does
			// among the span's own.
			for i := len(res) - 1; i >= 0; i-- {
				if _, ok := attrs[res[i].k]; !ok {
					attrs[res[i].k] = res[i].v
				}
			}
			spans = append(spans, Span{TraceID: os.traceID, SpanID: os.spanID, ParentID: os.parentID, Name: os.name,
				Kind: os.kind, Start: time.Unix(0, os.start), End: time.Unix(0, os.end), Attrs: attrs})
		}
	}
	return spans
}

// next returns the next line, or more false at the end, with the read error that ended the
// input if any. The consumer must call it until more is false: the goroutines end then.
func (ld *lineDecoder) next() (l decodedLine, more bool) {
	for len(ld.batch) == 0 {
		b, ok := <-ld.batches
		if !ok {
			return ld.end, false
		}
		<-b.done
		ld.batch = b.lines
	}
	l, ld.batch = ld.batch[0], ld.batch[1:]
	return l, true
}

// readLine appends the next line without its newline to *buf. A line longer than limit is
// consumed and reported as tooLong without being kept, so one huge line cannot exhaust memory.
func readLine(br *bufio.Reader, buf *[]byte, limit int) (tooLong bool, err error) {
	start := len(*buf)
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(*buf)-start+len(chunk) > limit+1 {
				tooLong, *buf = true, (*buf)[:start]
			} else {
				*buf = append(*buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if !tooLong && len(*buf) > start && (*buf)[len(*buf)-1] == '\n' {
			*buf = (*buf)[:len(*buf)-1]
		}
		return tooLong, err
	}
}
