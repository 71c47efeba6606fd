package loadgen_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/headroom/headroom/loadgen"
)

// Run drives a target on a schedule and returns the honest latency distribution.
func ExampleRun() {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()

	l, err := loadgen.Run(context.Background(), loadgen.Config{
		Targets:  []loadgen.Target{{URL: srv.URL}},
		Arrival:  loadgen.Arrival{Kind: "constant", Rate: 100},
		Duration: time.Second,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("model:", l.Model, "requests:", l.Requests, "errors:", l.Errors)
	// Output: model: open requests: 100 errors: 0
}
