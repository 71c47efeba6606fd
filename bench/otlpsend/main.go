// Command otlpsend sends OTLP/HTTP protobuf export requests to a receiver from a few concurrent
// connections and prints the spans per second the receiver took. Without -rate it sends
// -batches requests as fast as they are accepted (bench/collect-ingest.sh: throughput); with
// -rate it paces them at that many spans per second for -duration (bench/collect-10m.sh:
// memory over a long run), and reports the rate it really achieved. Traffic goes where -url
// says; the scripts point it at 127.0.0.1 only. Every run is bounded by -batches or -duration.
package main

import (
	"bytes"
	"context"
	"errors"
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

type config struct {
	url                     string
	batches, conc           int
	traces, perTrace, attrs int
	rate                    float64       // spans/s; 0: as fast as accepted
	duration, interval      time.Duration // with rate
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "http://127.0.0.1:4318/v1/traces", "OTLP/HTTP traces endpoint")
	flag.IntVar(&c.batches, "batches", 2000, "export requests to send (without -rate)")
	flag.IntVar(&c.conc, "c", 8, "concurrent connections")
	flag.IntVar(&c.traces, "traces", 32, "traces per request")
	flag.IntVar(&c.perTrace, "spans-per-trace", 16, "spans per trace")
	flag.IntVar(&c.attrs, "attrs", 20, "attributes per span")
	flag.Float64Var(&c.rate, "rate", 0, "spans per second to pace the requests at, for -duration (0: -batches as fast as accepted)")
	flag.DurationVar(&c.duration, "duration", time.Minute, "how long to send at -rate")
	flag.DurationVar(&c.interval, "interval", 30*time.Second, "with -rate: a progress line on stderr this often")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "otlpsend:", err)
		os.Exit(1)
	}
}

// sender posts the payload's requests, each with trace ids of its own, retrying those refused
// as overloaded.
type sender struct {
	url     string
	p       *collecttest.Payload
	client  *http.Client
	next    atomic.Int64 // the last request number taken
	sent    atomic.Int64 // requests accepted (200)
	retries atomic.Int64 // 429/503 answers, each retried
	giveUp  time.Time    // when set, a request refused past it is not retried (bounds a paced run)
}

func run(c config) error {
	if c.rate < 0 || (c.rate > 0 && c.duration <= 0) || c.conc <= 0 || c.batches <= 0 {
		return fmt.Errorf("-rate %g, -duration %v, -c %d, -batches %d: want a rate ≥ 0, a positive duration, connections and batches", c.rate, c.duration, c.conc, c.batches)
	}
	p, err := collecttest.New(c.traces, c.perTrace, c.attrs)
	if err != nil {
		return err
	}
	s := &sender{url: c.url, p: p, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.conc}, Timeout: 30 * time.Second}}
	if c.rate > 0 {
		return s.paced(c)
	}
	return s.flood(c)
}

// flood sends c.batches requests as fast as the receiver takes them.
func (s *sender) flood(c config) error {
	start := time.Now()
	err := s.workers(c.conc, func(n int64) (time.Time, bool) { return time.Time{}, n <= int64(c.batches) })
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	spans := s.sent.Load() * int64(s.p.Spans())
	fmt.Printf("sent %d spans (%d requests of %d spans × %d attributes, %d bytes each) in %.2fs: %.0f spans/s; %d retries after 429/503\n",
		spans, s.sent.Load(), s.p.Spans(), c.attrs, s.p.Len(), elapsed.Seconds(), float64(spans)/elapsed.Seconds(), s.retries.Load())
	return nil
}

// paced sends request n at start + n/(requests per second) until c.duration has passed: an
// open model, so a receiver that falls behind shows as an achieved rate below the target,
// never as a longer run. A request whose time has come while every connection is busy goes
// as soon as one is free.
func (s *sender) paced(c config) error {
	every := time.Duration(float64(time.Second) * float64(s.p.Spans()) / c.rate)
	start := time.Now()
	end := start.Add(c.duration)
	s.giveUp = end.Add(10 * time.Second)
	var late atomic.Int64 // requests sent more than `every` after their time
	stop := make(chan struct{})
	var progress sync.WaitGroup
	progress.Go(func() {
		t := time.NewTicker(c.interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				el := now.Sub(start).Seconds()
				fmt.Fprintf(os.Stderr, "otlpsend: %4.0fs  %d spans  %.0f spans/s\n", el, s.sent.Load()*int64(s.p.Spans()), float64(s.sent.Load()*int64(s.p.Spans()))/el)
			}
		}
	})
	err := s.workers(c.conc, func(n int64) (time.Time, bool) {
		due := start.Add(time.Duration(n-1) * every)
		if !due.Before(end) || !time.Now().Before(end) {
			return due, false
		}
		if time.Since(due) > every {
			late.Add(1)
		}
		return due, true
	})
	elapsed := time.Since(start)
	close(stop)
	progress.Wait()
	if err != nil {
		return err
	}
	spans := s.sent.Load() * int64(s.p.Spans())
	achieved := float64(spans) / elapsed.Seconds()
	fmt.Printf("sent %d spans (%d requests of %d spans × %d attributes, %d bytes each) in %.2fs: %.0f spans/s achieved of %.0f asked (%.2f×); %d requests late, %d retries after 429/503\n",
		spans, s.sent.Load(), s.p.Spans(), c.attrs, s.p.Len(), elapsed.Seconds(), achieved, c.rate, achieved/c.rate, late.Load(), s.retries.Load())
	return nil
}

// workers runs conc connections, each taking the next request number n and asking take(n) when
// it is due and whether to send it at all; it returns the first error.
func (s *sender) workers(conc int, take func(n int64) (due time.Time, ok bool)) error {
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			buf := make([]byte, s.p.Len())
			for {
				n := s.next.Add(1)
				due, ok := take(n)
				if !ok {
					return
				}
				if wait := time.Until(due); wait > 0 {
					<-time.After(wait)
				}
				if err := s.send(s.p.Stamp(buf, uint64(n))); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// send posts one request until it is accepted.
func (s *sender) send(body []byte) error {
	for {
		code, err := post(s.client, s.url, body)
		if err != nil {
			return err
		}
		switch code {
		case http.StatusOK:
			s.sent.Add(1)
			return nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			s.retries.Add(1)
			if !s.giveUp.IsZero() && time.Now().After(s.giveUp) {
				return fmt.Errorf("a request still refused (%d) 10s after the end of the run: the receiver stopped taking spans", code)
			}
			// Overloaded: back off briefly, as an exporter does, then retry the same batch.
			<-time.After(5 * time.Millisecond)
		default:
			return errors.New(http.StatusText(code) + fmt.Sprintf(" (%d)", code))
		}
	}
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
