package diagnose_test

import (
	"fmt"
	"strings"

	"github.com/headroom/headroom/diagnose"
)

// A Stream reads OTLP JSON lines one trace at a time, as headroom diagnose does: memory is
// bounded by the endpoints and operations, not by the size of the input.
func ExampleStream() {
	line := func(trace string, ms int) string {
		return fmt.Sprintf(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":%q,"spanId":"a","name":"GET /api/posts","kind":2,`+
			`"startTimeUnixNano":"0","endTimeUnixNano":"%d","attributes":[{"key":"http.route","value":{"stringValue":"/api/posts"}},`+
			`{"key":"http.request.method","value":{"stringValue":"GET"}}]}]}]}]}`, trace, ms*1_000_000)
	}
	var in strings.Builder
	for i := range 100 {
		fmt.Fprintln(&in, line(fmt.Sprintf("%032x", i), 10+i%10))
	}
	s := diagnose.NewStream(diagnose.Config{})
	if _, err := s.ReadTraces(strings.NewReader(in.String()), diagnose.ReadConfig{}, nil); err != nil {
		fmt.Println(err)
		return
	}
	f := s.Findings()
	for _, ep := range f.Endpoints {
		fmt.Printf("%s: %d requests, p50 %.0f ms, p99 %.0f ms\n", ep.Endpoint, ep.Count, ep.P50MS, ep.P99MS)
	}
	// Output: GET /api/posts: 100 requests, p50 14 ms, p99 19 ms
}
