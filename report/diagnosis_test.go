package report_test

import (
	"bytes"
	"testing"

	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

func TestWriteDiagnosis(t *testing.T) {
	t.Parallel()
	f := &result.Findings{Schema: result.FindingsSchema,
		Findings: []result.Finding{{Kind: "sync_remote_call", Endpoint: "GET /api/posts",
			Summary:  "synchronous logging call — POST http://127.0.0.1:9/logs takes 60 ms on the critical path (60 % of it) in 20 requests, 55 % of P99 time",
			Evidence: result.Evidence{TraceIDs: []string{"4bf92f35", "7ac1f00d"}}, ShareOfP99: 0.55, EstimatedSavingMS: 60,
			Remedy: "ship logs asynchronously (a bounded in-process queue sent in batches), off the request path"}},
		Endpoints: []result.EndpointProfile{{Endpoint: "GET /api/posts", Count: 20, P50MS: 98, P90MS: 104, P99MS: 110,
			SelfTimeMS: map[string]float64{"db": 20, "logging": 60, "internal": 20},
			CriticalPath: []result.PathStep{{Category: "logging", Operation: "POST http://127.0.0.1:9/logs", MS: 60, Share: 0.6},
				{Category: "db", Operation: "SELECT * FROM posts LIMIT ?", MS: 20, Share: 0.2}}}},
		TailVsMedian: []result.TailComparison{{Endpoint: "GET /api/posts",
			Summary: "the 2 slowest requests take 110.0 ms, the 4 median ones 98.0 ms; over-represented in the tail: logging +10.0 ms (83 % of the gap)"}},
		Input: &result.TraceInput{Traces: 20, Spans: 80, Tolerated: map[string]int{"malformed_json_line": 1, "duplicate_span_id": 3}},
	}
	var b bytes.Buffer
	if err := report.WriteDiagnosis(&b, f); err != nil {
		t.Fatal(err)
	}
	golden(t, "diagnosis.txt", b.Bytes())
}
