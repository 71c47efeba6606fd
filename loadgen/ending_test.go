package loadgen

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestEveryEndingIsDatedWhenItHappens drives, at 10 req/s, targets whose answers end in each way
// but by length: by the server closing the connection (a valid HTTP/1.1 body, and what a TLS port
// answers an http:// request), and by a reset after the request. At 10 req/s the open model's
// loop sleeps 100 ms between sends; an ending dated when the loop next wakes instead of when it
// came would put the median near 100 ms. The targets answer within a millisecond: the median
// must stay under 20 ms (a tolerance for a loaded machine, far below the 100 ms of late dating).
func TestEveryEndingIsDatedWhenItHappens(t *testing.T) {
	t.Parallel()
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tlsSrv.TLS = &tls.Config{}
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // each request is a handshake error it would log
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	for _, tc := range []struct {
		name string
		addr string
		kind string // the error kind every request must get; "" for none
	}{
		{"close-delimited", serveRaw(t, func(c net.Conn) {
			if readRequest(c) {
				c.Write([]byte("HTTP/1.1 200 OK\r\n\r\nhello"))
			}
		}), ""},
		{"http to a TLS port", tlsSrv.Listener.Addr().String(), "status_400"},
		{"reset", serveRaw(t, func(c net.Conn) {
			if readRequest(c) {
				c.(*net.TCPConn).SetLinger(0)
			}
		}), "reset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachEngine(t, openEngines, func(t *testing.T, ec engineCase) {
				shareCPU(t, false)
				l := run(t, t.Context(), ec.config(Config{Targets: []Target{{URL: "http://" + tc.addr + "/"}}, Arrival: Arrival{Rate: 10},
					Duration: 2 * time.Second, Connections: 4, Timeout: 2 * time.Second}))
				if l.Requests < 18 || l.ErrorsByKind[tc.kind] != l.Errors || tc.kind != "" && l.Errors != l.Requests {
					t.Fatalf("requests %d, errors %v: want 20, each with error kind %q", l.Requests, l.ErrorsByKind, tc.kind)
				}
				t.Logf("latency p50 %.2f ms, p99 %.2f ms (io %s)", l.LatencyMS.P50, l.LatencyMS.P99, l.Generator.IO)
				if l.LatencyMS.P50 >= 20 {
					t.Errorf("latency p50 %.1f ms (service p50 %.1f ms, io %s): want under 20 ms", l.LatencyMS.P50, l.ServiceMS.P50, l.Generator.IO)
				}
			})
		})
	}
}
