package deps

import (
	"bufio"
	"context"
	"net/http"
	"sync/atomic"
)

// LogCollectorConfig configures [StartLogCollector].
type LogCollectorConfig struct {
	// Addr is the listen address. Default 127.0.0.1:0.
	Addr string
	// Latency delays every request (not every line), like a slow remote log service. Default none.
	Latency Latency
	// Seed seeds the latency sampler. Default 1.
	Seed uint64
}

// LogCollector is a remote log service: POST /logs with newline-delimited log lines; it answers 204
// after its latency. It is safe for concurrent use.
type LogCollector struct {
	*httpService
	lat      *sampler
	lines    atomic.Int64
	requests atomic.Int64
}

// StartLogCollector starts a collector on cfg.Addr; ctx bounds only the start.
func StartLogCollector(ctx context.Context, cfg LogCollectorConfig) (*LogCollector, error) {
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	c := &LogCollector{lat: newSampler(cfg.Latency, cfg.Seed)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /logs", c.handle)
	s, err := startHTTP(ctx, "log collector", cfg.Addr, mux)
	if err != nil {
		return nil, err
	}
	c.httpService = s
	return c, nil
}

// Lines returns the number of log lines received.
func (c *LogCollector) Lines() int64 { return c.lines.Load() }

// Requests returns the number of POST /logs requests received.
func (c *LogCollector) Requests() int64 { return c.requests.Load() }

func (c *LogCollector) handle(w http.ResponseWriter, r *http.Request) {
	c.requests.Add(1)
	sc := bufio.NewScanner(http.MaxBytesReader(w, r.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var n int64
	for sc.Scan() {
		if len(sc.Bytes()) > 0 {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if !wait(r.Context(), c.stop, c.lat.next()) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "interrupted"})
		return
	}
	c.lines.Add(n)
	w.WriteHeader(http.StatusNoContent)
}
