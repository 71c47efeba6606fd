package collect

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Batches in the ingest benchmark: the shape, 512 spans × 20 attributes.
const (
	benchTraces   = 32
	benchPerTrace = 16
	benchAttrs    = 20
)

// benchMarker fills the first 8 bytes of every trace id in the benchmark body, so each
// request can be stamped with fresh trace ids by overwriting them in place.
var benchMarker = []byte{0xfe, 0xed, 'h', 'r', 'b', 'e', 'n', 'c'}

// benchBody is one protobuf export request of the benchmark shape and the offsets of the
// trace id markers in it.
func benchBody(tb testing.TB) ([]byte, []int) {
	tb.Helper()
	td := batch(0, benchTraces, benchPerTrace, benchAttrs)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := range spans.Len() {
		id := spans.At(i).TraceID()
		copy(id[:8], benchMarker)
		spans.At(i).SetTraceID(id)
	}
	body := protoBody(td)
	var offs []int
	for i := 0; ; {
		j := bytes.Index(body[i:], benchMarker)
		if j < 0 {
			break
		}
		offs = append(offs, i+j)
		i += j + len(benchMarker)
	}
	if len(offs) != benchTraces*benchPerTrace {
		tb.Fatalf("found %d trace id markers, want %d", len(offs), benchTraces*benchPerTrace)
	}
	return body, offs
}

// stamp copies body into dst with the trace ids' first 8 bytes set to n.
func stamp(dst, body []byte, offs []int, n uint64) {
	copy(dst, body)
	for _, o := range offs {
		for k := range 8 {
			dst[o+k] = byte(n >> (8 * k))
		}
	}
}

// BenchmarkIngestHTTP measures the whole receiving path of `headroom collect --out` over
// loopback: OTLP/HTTP protobuf batches of 512 spans × 20 attributes from 8 concurrent
// clients, decoded, assembled into traces and marshalled as OTLP JSON lines (discarded).
// The clock runs until Shutdown has delivered every trace. bench/collect-ingest.sh runs it
// and compares the spans/s figure with the OpenTelemetry Collector's.
func BenchmarkIngestHTTP(b *testing.B) {
	var written atomic.Int64
	r, err := New(Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: Off, CompleteAfter: 100 * time.Millisecond, MaxIdle: time.Second,
		QueueSize: 256,
		OnTrace: func(t *Trace) {
			line, err := t.AppendJSON(nil)
			if err != nil {
				b.Error(err)
			}
			_, _ = io.Discard.Write(line)
			written.Add(int64(t.Spans))
		}})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	url := "http://" + r.HTTPAddr().String() + "/v1/traces"
	body, offs := benchBody(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Uint64
	b.SetBytes(int64(len(body)))
	b.SetParallelism(4)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		own := make([]byte, len(body))
		for pb.Next() {
			stamp(own, body, offs, seq.Add(1))
			for {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(own))
				req.Header.Set("Content-Type", ctProtobuf)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
				if resp.StatusCode != http.StatusTooManyRequests {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				time.Sleep(time.Millisecond) // overloaded: back off a little, as exporters do
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	spans := int64(b.N) * benchTraces * benchPerTrace
	if got := written.Load(); got != spans {
		b.Fatalf("%d spans written, want %d", got, spans)
	}
	b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
	// On a shared machine wall-clock throughput says more about the neighbours than about
	// collect; spans per CPU-second of this process (clients included) is the per-core figure.
	b.ReportMetric(float64(spans)/(cpuTime(b)-cpu0).Seconds(), "spans/cpu-s")
	b.ReportMetric(float64(r.Stats().RequestsRefused[ReasonOverloaded]), "429s")
}

// cpuTime is the user+system CPU time this process used so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeProtobuf is the decoding and checking of one benchmark batch.
func BenchmarkDecodeProtobuf(b *testing.B) {
	body, _ := benchBody(b)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		td, err := decodeProtobuf(body)
		if err != nil {
			b.Fatal(err)
		}
		sanitize(td, DefaultMaxAttrValueLen)
	}
	b.ReportMetric(float64(b.N)*benchTraces*benchPerTrace/b.Elapsed().Seconds(), "spans/s")
}
