// Command otlpsend sends OTLP/HTTP protobuf export requests to a receiver as fast as it
// accepts them, from a few concurrent connections, and prints the spans per second it took.
// bench/collect-ingest.sh uses it against `headroom collect`. Traffic goes where -url says;
// the script points it at 127.0.0.1 only. Every run is bounded by -batches.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/headroom/headroom/collect/collecttest"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:4318/v1/traces", "OTLP/HTTP traces endpoint")
	batches := flag.Int("batches", 2000, "export requests to send")
	conc := flag.Int("c", 8, "concurrent connections")
	traces := flag.Int("traces", 32, "traces per request")
	perTrace := flag.Int("spans-per-trace", 16, "spans per trace")
	attrs := flag.Int("attrs", 20, "attributes per span")
	flag.Parse()
	if err := run(*url, *batches, *conc, *traces, *perTrace, *attrs); err != nil {
		fmt.Fprintln(os.Stderr, "otlpsend:", err)
		os.Exit(1)
	}
}

func run(url string, batches, conc, traces, perTrace, attrs int) error {
	p, err := collecttest.New(traces, perTrace, attrs)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: 30 * time.Second}
	var next, refused atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			buf := make([]byte, p.Len())
			for {
				n := next.Add(1)
				if n > int64(batches) {
					return
				}
				body := p.Stamp(buf, uint64(n))
				for {
					code, err := post(client, url, body)
					if err != nil {
						once.Do(func() { firstErr = err })
						return
					}
					if code == http.StatusOK {
						break
					}
					if code != http.StatusTooManyRequests && code != http.StatusServiceUnavailable {
						once.Do(func() { firstErr = fmt.Errorf("status %d", code) })
						return
					}
					refused.Add(1)
					// Overloaded: back off briefly, as an exporter does, then retry the same batch.
					<-time.After(5 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	spans := batches * p.Spans()
	fmt.Printf("sent %d spans (%d requests of %d spans × %d attributes, %d bytes each) in %.2fs: %.0f spans/s; %d retries after 429/503\n",
		spans, batches, p.Spans(), attrs, p.Len(), elapsed.Seconds(), float64(spans)/elapsed.Seconds(), refused.Load())
	return nil
}

func post(client *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
