package collect

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/headroom/headroom/collect/collecttest"
)

// benchPayload is the batch shape: 512 spans (32 traces × 16) × 20 attributes.
func benchPayload(tb testing.TB) *collecttest.Payload {
	tb.Helper()
	p, err := collecttest.New(32, 16, 20)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkIngestHTTP measures the whole receiving path of `headroom collect --out` over
// loopback: OTLP/HTTP protobuf batches of 512 spans × 20 attributes from 8 concurrent
// clients, decoded, assembled into traces and marshalled as OTLP JSON lines (discarded).
// The clock runs until Shutdown has delivered every trace. bench/collect-ingest.sh runs it
// and compares the spans/s figure with the OpenTelemetry Collector's.
func BenchmarkIngestHTTP(b *testing.B) { benchIngest(b, "") }

// BenchmarkIngestHTTPForward is BenchmarkIngestHTTP with --forward to a loopback OTLP/HTTP
// endpoint in this process that reads and discards each request: what forwarding adds (its
// copy, queue and posts, and the destination's reads, in spans/cpu-s). forward_dropped is
// the requests the queue had no room for.
func BenchmarkIngestHTTPForward(b *testing.B) {
	dst := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
	}))
	defer dst.Close()
	benchIngest(b, dst.URL)
}

func benchIngest(b *testing.B, forward string) {
	var written atomic.Int64
	r, err := New(Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: Off, CompleteAfter: 100 * time.Millisecond, MaxIdle: time.Second,
		QueueSize: 256, Forward: forward,
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
	p := benchPayload(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Uint64
	b.SetBytes(int64(p.Len()))
	b.SetParallelism(4)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		own := make([]byte, p.Len())
		for pb.Next() {
			p.Stamp(own, seq.Add(1))
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
	spans := int64(b.N) * int64(p.Spans())
	if got := written.Load(); got != spans {
		b.Fatalf("%d spans written, want %d", got, spans)
	}
	b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
	// On a shared machine wall-clock throughput says more about the neighbours than about
	// collect; spans per CPU-second of this process (clients included) is the per-core figure.
	b.ReportMetric(float64(spans)/(cpuTime(b)-cpu0).Seconds(), "spans/cpu-s")
	b.ReportMetric(float64(r.Stats().RequestsRefused[ReasonOverloaded]), "429s")
	if forward != "" {
		st := r.Stats()
		if st.Forwarded+st.ForwardDropped+st.ForwardFailed != int64(b.N) {
			b.Errorf("forwarded %d, dropped %d, failed %d: want %d in all", st.Forwarded, st.ForwardDropped, st.ForwardFailed, b.N)
		}
		b.ReportMetric(float64(st.ForwardDropped), "forward_dropped")
	}
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
	p := benchPayload(b)
	body := p.Stamp(make([]byte, p.Len()), 1)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		td, err := decodeProtobuf(body)
		if err != nil {
			b.Fatal(err)
		}
		sanitize(td, MaxAttrValueLenDefault)
	}
	b.ReportMetric(float64(b.N*p.Spans())/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkAssembleHeld measures what the spans of open traces cost in memory: it assembles
// 100 batches of 512 spans (none complete) and reports the live heap they take per span
// against their OTLP protobuf size, which Config.MaxBufferedBytes counts; spans with 20
// attributes (the ingest benchmarks') and with 2.
func BenchmarkAssembleHeld(b *testing.B) {
	for _, attrs := range []int{20, 2} {
		b.Run(fmt.Sprintf("attrs=%d", attrs), func(b *testing.B) {
			p, err := collecttest.New(32, 16, attrs)
			if err != nil {
				b.Fatal(err)
			}
			benchHeld(b, p)
		})
	}
}

func benchHeld(b *testing.B, p *collecttest.Payload) {
	body := make([]byte, p.Len())
	const batches = 100
	var heap, counted float64
	for b.Loop() {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		a := newAssembler(Config{}.withDefaults(), &counters{}, func(*Trace) {})
		for i := range batches {
			td, err := decodeProtobuf(p.Stamp(body, uint64(i+1)))
			if err != nil {
				b.Fatal(err)
			}
			a.add(td, time.Time{})
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		_, spans, bytes := a.gauges()
		if spans != batches*p.Spans() {
			b.Fatalf("%d spans held, want %d", spans, batches*p.Spans())
		}
		heap = float64(after.HeapAlloc-before.HeapAlloc) / float64(spans)
		counted = float64(bytes) / float64(spans)
		runtime.KeepAlive(a)
		b.StartTimer()
	}
	b.ReportMetric(heap, "heap-B/span")
	b.ReportMetric(counted, "proto-B/span")
	b.ReportMetric(heap/counted, "heap/proto")
}
