package collect_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/headroom/headroom/collect"
)

// A receiver embedded in a program (as doctor does): port 0, a callback per completed trace,
// and Shutdown to write what is still open.
func ExampleReceiver() {
	r, err := collect.New(collect.Config{
		HTTPAddr: "127.0.0.1:0",
		GRPCAddr: collect.Off,
		OnTrace: func(t *collect.Trace) {
			fmt.Printf("trace %s: %d spans (%s)\n", t.ID, t.Spans, t.End)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := r.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	body := `{"resourceSpans":[{"scopeSpans":[{"spans":[
		{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00000000000000aa","name":"GET /api/posts","startTimeUnixNano":"1","endTimeUnixNano":"9"},
		{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00000000000000bb","parentSpanId":"00000000000000aa","name":"SELECT","startTimeUnixNano":"2","endTimeUnixNano":"3"}]}]}]}`
	resp, err := http.Post("http://"+r.HTTPAddr().String()+"/v1/traces", "application/json", strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	s := r.Stats()
	fmt.Printf("%d spans accepted, %d traces written\n", s.SpansAccepted, s.TracesWritten())
	// Output:
	// trace 4bf92f3577b34da6a3ce929d0e0e4736: 2 spans (shutdown)
	// 2 spans accepted, 1 traces written
}
