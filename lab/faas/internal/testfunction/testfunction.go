// Package testfunction is lab/faas's test function, one source for both runtimes: the tests
// serve Init from the test binary re-executed as a process, and build ./module (its wasip1
// main) into the wasm runtime's module. Not shipped.
package testfunction

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/lab/faas/guest"
)

// sink keeps /alloc's memory live.
var sink [][]byte

// calls counts the handler's calls in this instance.
var calls int

// Init is the test function's init; its handler's behaviour is chosen by the path: /echo
// answers the method and the body, /env the FAAS_* variables, /block waits until the file
// named by ?file= exists (at most 20 s; processes only: a module has no file system), /sleep
// sleeps ?ms= milliseconds, /loop spins for ever, /crash exits with status 3 mid-request,
// /panic panics, /alloc allocates (and touches) up to 2 GiB, /calls answers how many times this
// instance's handler has been called, this call included. TEST_INIT_FAIL makes init fail.
func Init(context.Context) (guest.Handler, error) {
	if os.Getenv("TEST_INIT_FAIL") != "" {
		return nil, errors.New("cannot open the database")
	}
	return func(_ context.Context, req guest.Request) guest.Response {
		calls++
		q, _ := url.ParseQuery(req.Query)
		switch req.Path {
		case "/calls":
			return guest.Response{Body: []byte(strconv.Itoa(calls))}
		case "/echo":
			return guest.Response{Body: append([]byte(req.Method+" "), req.Body...)}
		case "/env":
			return guest.Response{Body: []byte(os.Getenv("FAAS_FUNCTION_NAME") + " " + os.Getenv("FAAS_MEMORY_MB"))}
		case "/block":
			for range 20000 {
				if _, err := os.Stat(q.Get("file")); err == nil {
					break
				}
				time.Sleep(time.Millisecond) //nolint:forbidigo // a function polling, as functions do
			}
			return guest.Response{Body: []byte("released")}
		case "/sleep":
			ms, _ := strconv.Atoi(q.Get("ms"))
			time.Sleep(time.Duration(ms) * time.Millisecond) //nolint:forbidigo // what the platform must interrupt in a module
			return guest.Response{Body: []byte("slept")}
		case "/loop":
			for n := 0; ; n++ {
				_ = strconv.Itoa(n)
			}
		case "/crash":
			os.Exit(3)
		case "/panic":
			panic("the test function panics on purpose")
		case "/alloc":
			for range 2048 {
				b := make([]byte, 1<<20)
				for i := 0; i < len(b); i += 4096 {
					b[i] = 1
				}
				sink = append(sink, b)
			}
			return guest.Response{Body: []byte("allocated 2 GiB")}
		}
		return guest.Response{Status: 404, Body: []byte("no route " + strings.TrimSpace(req.Path))}
	}, nil
}
