// Command workers is a target of known capacity for sweep benchmarks: -c workers each hold a
// request for -s, further requests queue for a worker, so the capacity is c/s requests per second.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address (loopback)")
	c := flag.Int("c", 4, "workers")
	s := flag.Duration("s", 10*time.Millisecond, "time each request holds a worker")
	flag.Parse()
	slots := make(chan struct{}, *c)
	srv := &http.Server{
		Addr:              *addr,
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case slots <- struct{}{}:
			case <-r.Context().Done():
				return
			}
			t := time.NewTimer(*s)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
			<-slots
			_, _ = w.Write([]byte("ok"))
		}),
	}
	log.Fatal(srv.ListenAndServe())
}
