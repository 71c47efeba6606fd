package loadgen

import (
	"bufio"
	"cmp"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SamplesFormat is how Config.Samples writes each request.
type SamplesFormat string

// The samples formats.
const (
	// SamplesCSV is comma-separated values with a header line (SamplesHeader).
	SamplesCSV SamplesFormat = "csv"
	// SamplesJSONL is one JSON object per line, with SamplesHeader's names as keys.
	SamplesJSONL SamplesFormat = "jsonl"
)

// SamplesFormats lists the formats.
var SamplesFormats = []SamplesFormat{SamplesCSV, SamplesJSONL}

// SamplesFormatList returns SamplesFormats as a comma-separated list, for messages.
func SamplesFormatList() string { return list(SamplesFormats) }

// SamplesHeader names the fields of a sample, in order: intended is the request's due time and
// sent when it was written (RFC 3339 with nanoseconds, UTC); latency_ms is measured from the
// intended time less the generator's own dispatch lag, as the result's latency_ms;
// service_ms from the send; status is the HTTP status (0 when none came); bytes the
// answer's body bytes; error the error kind (errors_by_kind's names, empty for success);
// trace_id the request's W3C trace id; target the index of its target (in config.targets).
var SamplesHeader = []string{"intended", "sent", "latency_ms", "service_ms", "status", "bytes", "error", "trace_id", "target"}

// SamplesField is a field of Config.SamplesFields: a name and the value every sample of a run
// carries under it.
type SamplesField struct {
	Name  string
	Value float64
}

// samplesFieldName is what a SamplesField's name may be: a CSV column and a JSON key that need
// no quoting.
var samplesFieldName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// validSamplesFields reports the first field that Config.SamplesFields cannot hold.
func validSamplesFields(fields []SamplesField) error {
	seen := map[string]bool{}
	for _, f := range SamplesHeader {
		seen[f] = true
	}
	for _, f := range fields {
		switch {
		case !samplesFieldName.MatchString(f.Name):
			return fmt.Errorf("name %q: want lower-case letters, digits and _, starting with a letter", f.Name)
		case seen[f.Name]:
			return fmt.Errorf("name %q: a sample already has this field", f.Name)
		case math.IsNaN(f.Value) || math.IsInf(f.Value, 0):
			return fmt.Errorf("%s = %v: want a finite number", f.Name, f.Value)
		}
		seen[f.Name] = true
	}
	return nil
}

// samplesBatch bounds the samples waiting to be written: the recorder holds at most two batches
// (about 5 MiB each). A writer that falls further behind loses samples, counted in
// result.Generator.SamplesDropped, rather than slowing the requests it measures.
const samplesBatch = 1 << 16

// samplesEvery is how often the writer takes the recorded samples.
const samplesEvery = 100 * time.Millisecond

// sampleRec is what the recorder keeps of a sample for the writer.
type sampleRec struct {
	due, sent, latency, service time.Duration
	status                      int
	bytes                       int64
	kind                        string
	trace                       [16]byte
	target                      int
}

// samplesWriter streams the recorder's samples to w in format, from its own goroutine.
type samplesWriter struct {
	rec    *recorder
	start  time.Time
	format SamplesFormat
	w      *bufio.Writer
	buf    []byte
	spare  []sampleRec
	// extra is Config.SamplesFields as they end every sample, formatted once.
	extra []byte
	err   error
	n     int64
}

func newSamplesWriter(rec *recorder, cfg *Config, start time.Time) *samplesWriter {
	format := cmp.Or(cfg.SamplesFormat, SamplesCSV)
	sw := &samplesWriter{rec: rec, start: start, format: format, w: bufio.NewWriterSize(cfg.Samples, 64<<10), spare: make([]sampleRec, 0, samplesBatch)}
	header := slices.Clone(SamplesHeader)
	for _, f := range cfg.SamplesFields {
		header = append(header, f.Name)
		if format == SamplesJSONL {
			sw.extra = append(sw.extra, `,"`+f.Name+`":`...)
		} else {
			sw.extra = append(sw.extra, ',')
		}
		sw.extra = strconv.AppendFloat(sw.extra, f.Value, 'f', -1, 64)
	}
	if format == SamplesCSV && !cfg.SamplesContinue {
		sw.writeString(strings.Join(header, ",") + "\n")
	}
	return sw
}

// run writes batches every samplesEvery until stop is closed, then the last batch, and flushes.
func (sw *samplesWriter) run(stop <-chan struct{}) {
	t := time.NewTicker(samplesEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			sw.drain()
			if sw.err == nil {
				sw.err = sw.w.Flush()
			}
			return
		case <-t.C:
			sw.drain()
		}
	}
}

// drain takes the recorded samples (swapping in an empty batch) and writes them.
func (sw *samplesWriter) drain() {
	batch := sw.rec.takeSamples(sw.spare[:0])
	for i := range batch {
		sw.write(&batch[i])
	}
	sw.spare = batch
}

func (sw *samplesWriter) write(s *sampleRec) {
	if sw.err != nil {
		return
	}
	b := sw.buf[:0]
	ms := func(b []byte, d time.Duration) []byte {
		return strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 3, 64)
	}
	stamp := func(b []byte, d time.Duration) []byte {
		return sw.start.Add(d).UTC().AppendFormat(b, time.RFC3339Nano)
	}
	switch sw.format {
	case SamplesJSONL:
		b = append(b, `{"intended":"`...)
		b = stamp(b, s.due)
		b = append(b, `","sent":"`...)
		b = stamp(b, s.sent)
		b = append(b, `","latency_ms":`...)
		b = ms(b, s.latency)
		b = append(b, `,"service_ms":`...)
		b = ms(b, s.service)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(s.status), 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, s.bytes, 10)
		b = append(b, `,"error":`...)
		b = strconv.AppendQuote(b, s.kind)
		b = append(b, `,"trace_id":"`...)
		b = hex.AppendEncode(b, s.trace[:])
		b = append(b, `","target":`...)
		b = strconv.AppendInt(b, int64(s.target), 10)
		b = append(b, sw.extra...)
		b = append(b, "}\n"...)
	default:
		b = stamp(b, s.due)
		b = append(b, ',')
		b = stamp(b, s.sent)
		b = append(b, ',')
		b = ms(b, s.latency)
		b = append(b, ',')
		b = ms(b, s.service)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(s.status), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, s.bytes, 10)
		b = append(b, ',')
		b = append(b, s.kind...) // kinds are [a-z0-9_]: nothing to quote
		b = append(b, ',')
		b = hex.AppendEncode(b, s.trace[:])
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(s.target), 10)
		b = append(b, sw.extra...)
		b = append(b, '\n')
	}
	sw.buf = b
	if _, err := sw.w.Write(b); err != nil {
		sw.err = err
		return
	}
	sw.n++
}

func (sw *samplesWriter) writeString(s string) {
	if _, err := sw.w.WriteString(s); err != nil && sw.err == nil {
		sw.err = err
	}
}

// note says, for the verdict's notes, what went wrong with the samples; "" when nothing did.
func (sw *samplesWriter) note(dropped int64) string {
	switch {
	case sw.err != nil:
		return fmt.Sprintf("samples: writing stopped after %d: %v", sw.n, sw.err)
	case dropped > 0:
		return fmt.Sprintf("samples: %d not written: the samples output fell behind the requests", dropped)
	}
	return ""
}

// validSamplesFormat reports whether f is a SamplesFormat ("" is the default, CSV).
func validSamplesFormat(f SamplesFormat) bool {
	return f == "" || slices.Contains(SamplesFormats, f)
}
