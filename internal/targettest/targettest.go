// Package targettest holds HTTP targets of known behaviour for tests that measure them. It
// imports nothing of headroom.
package targettest

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Workers starts a target of known capacity, closed when t ends: c workers each hold a request
// for s, further requests queue for a worker, so it serves c/s requests per second. A request
// whose client goes away stops waiting, for a worker or its time.
func Workers(t testing.TB, c int, s time.Duration) *httptest.Server {
	t.Helper()
	slots := make(chan struct{}, c)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		defer func() { <-slots }()
		tm := time.NewTimer(s)
		defer tm.Stop()
		select {
		case <-tm.C:
			_, _ = w.Write([]byte("ok"))
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}
