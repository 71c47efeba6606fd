package faas_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/faas"
	"github.com/headroom/headroom/lab/faas/guest"
)

// asFunctionEnv makes this test binary, started by the platform, an instance of testFunction.
const asFunctionEnv = "HEADROOM_FAAS_TEST_AS_FUNCTION"

// TestMain runs the tests, or a function instance when the platform started this binary as
// one (go test starts it with -test.* flags, the platform without: the variable is inherited).
func TestMain(m *testing.M) {
	byGoTest := slices.ContainsFunc(os.Args[1:], func(a string) bool { return strings.HasPrefix(a, "-test.") })
	if os.Getenv(asFunctionEnv) == "1" && !byGoTest {
		if err := guest.Serve(context.Background(), initTestFunction); err != nil {
			fmt.Fprintln(os.Stderr, "test function:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// sink keeps /alloc's memory live.
var sink [][]byte

// calls counts the handler's calls in this instance.
var calls int

// initTestFunction is the test function's init; its handler's behaviour is chosen by the path:
// /echo answers the body, /block waits until the file named by ?file= exists (at most 20 s),
// /loop spins for ever, /crash exits mid-request, /alloc allocates (and touches) up to 2 GiB,
// /calls answers how many times this instance's handler has been called, this call included.
func initTestFunction(context.Context) (guest.Handler, error) {
	if os.Getenv("TEST_INIT_FAIL") != "" {
		return nil, fmt.Errorf("cannot open the database")
	}
	return func(_ context.Context, req guest.Request) guest.Response {
		calls++
		switch req.Path {
		case "/calls":
			return guest.Response{Body: []byte(strconv.Itoa(calls))}
		case "/echo":
			return guest.Response{Body: append([]byte(req.Method+" "), req.Body...)}
		case "/block":
			file := strings.TrimPrefix(req.Query, "file=")
			for range 20000 {
				if _, err := os.Stat(file); err == nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
			return guest.Response{Body: []byte("released")}
		case "/loop":
			for n := 0; ; n++ {
				_ = strconv.Itoa(n)
			}
		case "/crash":
			os.Exit(3)
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
		return guest.Response{Status: 404, Body: []byte("no route " + req.Path)}
	}, nil
}

// testFunction configures a function served by this test binary.
func testFunction(t testing.TB, name string) faas.Function {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return faas.Function{Name: name, Command: []string{self}, Env: []string{asFunctionEnv + "=1"}}
}
