package diagnose

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchTraces builds n traces of 50 spans each, shaped like the lab's GET /api/posts with the
// antipatterns on: a list query, 20 N+1 author lookups with driver noise between them, three
// HTTP calls, a synchronous log shipment, a pool wait and a cache lookup.
func benchTraces(n int) []*Trace {
	out := make([]*Trace, n)
	for i := range out {
		id := fmt.Sprintf("%032x", i)
		kids := []sp{query("l", "SELECT id, title FROM posts ORDER BY created_at DESC LIMIT 20", 1, 3)}
		for j := range 20 {
			s := 3 + float64(j)*3
			kids = append(kids, query(fmt.Sprint("q", j), fmt.Sprintf("SELECT id, name FROM users WHERE id = %d", (i*20+j)%5000), s, s+2.8),
				sp{id: fmt.Sprint("n", j), parent: "h", name: "sql.conn.reset", kind: KindInternal, start: s + 2.8, end: s + 2.8})
		}
		kids = append(kids, seq(3, 64, 2, userAPI)...)
		kids = append(kids, shipLog("log", 70, 80+float64(i%7)))
		kids = append(kids, sp{id: "w", parent: "h", name: "render", kind: KindInternal, start: 63, end: 64},
			sp{id: "p", parent: "h", name: "pool.acquire", kind: KindInternal, start: 0.5, end: 0.9},
			sp{id: "c", parent: "h", name: "GET", kind: KindClient, start: 0.9, end: 1, attrs: []string{"db.system.name", "redis", "db.query.text", "GET feed"}})
		out[i] = trace(id, "/api/posts", 95+float64(i%7), kids...)
	}
	return out
}

// BenchmarkDiagnose1MSpans: the analysis of 1M spans (20,000 traces of 50), the README's figure.
func BenchmarkDiagnose1MSpans(b *testing.B) {
	trs := benchTraces(20_000)
	spans := 0
	for _, t := range trs {
		spans += len(t.Spans)
	}
	if spans != 1_000_000 {
		b.Fatalf("%d spans, want 1M", spans)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if f := Diagnose(trs, Config{}); len(f.Findings) == 0 {
			b.Fatal("no findings")
		}
	}
	b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	// On a shared machine the wall time says more about the neighbours than about diagnose: the
	// process's CPU time (GC included) per run is the steadier figure.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// benchJSONL is traces written as OTLP JSON lines, one trace per line, as collect --out writes.
func benchJSONL(trs []*Trace) []byte {
	var buf bytes.Buffer
	for _, t := range trs {
		buf.WriteString(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"lab"}}]},"scopeSpans":[{"spans":[`)
		for i, s := range t.Spans {
			if i > 0 {
				buf.WriteByte(',')
			}
			attrs := ""
			for k, v := range s.Attrs {
				if attrs != "" {
					attrs += ","
				}
				attrs += fmt.Sprintf(`{"key":%q,"value":{"stringValue":%q}}`, k, v)
			}
			fmt.Fprintf(&buf, `{"traceId":%q,"spanId":%q,"parentSpanId":%q,"name":%q,"kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s]}`,
				s.TraceID, s.SpanID, s.ParentID, s.Name, s.Kind, s.Start.UnixNano(), s.End.UnixNano(), attrs)
		}
		buf.WriteString("]}]}]}\n")
	}
	return buf.Bytes()
}

// BenchmarkDecodeOTLPLine: the decoder's hot path, one line of OTLP JSON (a trace of 50 spans,
// as bench/diagnose-1m.sh writes them) into Spans.
func BenchmarkDecodeOTLPLine(b *testing.B) {
	lines := bytes.Split(bytes.TrimSpace(benchJSONL(benchTraces(64))), []byte("\n"))
	dec := newLineDecoder(ReadConfig{}.withDefaults())
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if l := dec.decode(lines[i%len(lines)]); l.err != nil || len(l.spans) != 50 {
			b.Fatal(l.err, len(l.spans))
		}
		i++
	}
	b.ReportMetric(50*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkRead1MSpans: decoding 1M spans of OTLP JSON lines (one trace per line).
func BenchmarkRead1MSpans(b *testing.B) {
	raw := benchJSONL(benchTraces(20_000))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		in, err := Read(bytes.NewReader(raw), ReadConfig{})
		if err != nil || in.Spans != 1_000_000 {
			b.Fatal(err, in.Spans)
		}
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkStreamAdd: the stream's per-trace hot path (the analysis of a trace of 50 spans, the
// detectors, the reduction into the endpoint's aggregates), past the warm-up of its bounded sets.
func BenchmarkStreamAdd(b *testing.B) {
	trs := benchTraces(2_000)
	s := NewStream(Config{})
	for _, t := range trs {
		s.Add(t)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(trs[i%len(trs)])
		i++
	}
	b.ReportMetric(50*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkStream1MSpans: headroom diagnose's path over 1M spans: OTLP JSON lines read one
// trace at a time into a Stream, then its findings.
func BenchmarkStream1MSpans(b *testing.B) {
	raw := benchJSONL(benchTraces(20_000))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		s := NewStream(Config{})
		if _, err := s.ReadTraces(bytes.NewReader(raw), ReadConfig{}, nil); err != nil {
			b.Fatal(err)
		}
		if f := s.Findings(); len(f.Findings) == 0 || f.Input.Spans != 1_000_000 {
			b.Fatal("no findings, or not 1M spans")
		}
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
