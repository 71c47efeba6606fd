package deps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpService is an HTTP server on a listener with a stop channel that interrupts injected delays.
type httpService struct {
	srv      *http.Server
	ln       net.Listener
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func startHTTP(ctx context.Context, name, addr string, h http.Handler) (*httpService, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen %s: %w", name, addr, err)
	}
	s := &httpService{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		ln:   ln,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// URL returns the service's base URL, e.g. http://127.0.0.1:40123.
func (s *httpService) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops accepting requests, interrupts injected delays, and waits for in-flight requests or ctx.
func (s *httpService) Close(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	<-s.done
	return err
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
