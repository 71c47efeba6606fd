package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

func TestWriteDiagnosis(t *testing.T) {
	t.Parallel()
	f := &result.Findings{Schema: result.FindingsSchema,
		Findings: []result.Finding{{Kind: "sync_remote_call", Endpoint: "GET /api/posts",
			Summary:  "synchronous logging call — POST http://127.0.0.1:9/logs takes 60 ms on the critical path (60 % of it) in 20 requests, 55 % of P99 time",
			Evidence: result.Evidence{TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736", "7ac1f00d"}}, ShareOfP99: 0.55, EstimatedSavingMS: 60,
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
	if err := report.WriteDiagnosis(&b, f, ""); err != nil {
		t.Fatal(err)
	}
	golden(t, "diagnosis.txt", b.Bytes())
	if !strings.Contains(b.String(), "evidence: traces 4bf92f3577b34da6a3ce929d0e0e4736 7ac1f00d\n") {
		t.Error("trace ids are not shown whole")
	}
	b.Reset()
	if err := report.WriteDiagnosis(&b, f, "http://localhost:16686/trace/{trace_id}"); err != nil {
		t.Fatal(err)
	}
	if want := "evidence: traces http://localhost:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736 http://localhost:16686/trace/7ac1f00d\n"; !strings.Contains(b.String(), want) {
		t.Errorf("with a trace URL, want %q in:\n%s", want, b.String())
	}
}

func TestWriteDiagnosisEdge(t *testing.T) {
	t.Parallel()
	f := &result.Findings{Schema: result.FindingsSchema,
		Findings: []result.Finding{{Kind: result.KindEdgeRejectable, Endpoint: "edge GET /api/me",
			Summary: "rejected past the edge — 10 requests (50 % of the endpoint's) crossed the edge ↔ origin link to be rejected by the origin with 401 missing, " +
				"82.0 ms each past the edge (820 ms in all), 98 % of P99 time",
			Evidence:   result.Evidence{TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736"}, Count: 10, TotalMS: 82, RequestShare: 0.5, Reasons: map[string]int{"401 missing": 10}},
			ShareOfP99: 0.976, EstimatedSavingMS: 82,
			Remedy: "validate the session token at the edge (an auth edge function: signature and expiry) and answer the rejection there, without the round trip to the origin"}},
		Edge: []result.EdgeBreakdown{{Endpoint: "edge GET /api/me", Requests: 20, AnsweredBy: map[string]int{"function:auth": 10, "origin": 10},
			AnsweredAtEdge: 0.5, Edge: result.TierTime{Requests: 20, P50MS: 0.3, P99MS: 2.1}, Link: result.TierTime{Requests: 9, P50MS: 80, P99MS: 81.2},
			Origin: result.TierTime{Requests: 9, P50MS: 2, P99MS: 3.5}, OriginUnseen: 1},
			{Endpoint: "edge GET /static/app.js", Requests: 5, AnsweredBy: map[string]int{"cache": 5}, AnsweredAtEdge: 1,
				Edge: result.TierTime{Requests: 5, P50MS: 0.2, P99MS: 0.4}}},
	}
	var b bytes.Buffer
	if err := report.WriteDiagnosis(&b, f, ""); err != nil {
		t.Fatal(err)
	}
	golden(t, "diagnosis-edge.txt", b.Bytes())
}

func TestWriteDiagnosisServices(t *testing.T) {
	t.Parallel()
	f := &result.Findings{Schema: result.FindingsSchema,
		Findings: []result.Finding{{Kind: result.KindRetryStorm, Endpoint: "GET /api/checkout",
			Summary: "retry storm — payments POST http://payments:8080/charges is attempted 4.5× per call (up to 5), 78 % of the attempts failed, " +
				"in 2 requests; 125 ms per call, 82 % of P99 time",
			Evidence: result.Evidence{TraceIDs: []string{"rs1", "rs2"}, Count: 5, TotalMS: 125, Operation: "payments POST http://payments:8080/charges",
				AttemptsPerCall: 4.5, ErrorShare: 0.778},
			ShareOfP99: 0.822, EstimatedSavingMS: 105,
			Remedy: "bound the retries: a retry budget (at most ~10 % extra calls), exponential backoff with jitter, retry only idempotent calls, " +
				"and a circuit breaker that fails fast while the peer is down"}},
		Services: []result.ServiceBreakdown{{Endpoint: "GET /api/checkout", Requests: 2,
			Services: []result.ServiceTime{{Service: "headroom-payments", MeanMS: 88.2, Self: result.TierTime{Requests: 2, P50MS: 78.4, P99MS: 98}},
				{Service: "headroom-gateway", MeanMS: 47, Self: result.TierTime{Requests: 2, P50MS: 42, P99MS: 52}}},
			Hops: []result.HopTime{{Caller: "headroom-gateway", Peer: "payments", Calls: 9, CallsPerRequest: 4.5, Errors: 7,
				Call: result.CallTime{Calls: 9, P50MS: 20, P99MS: 20, MeanMS: 20}, Network: result.CallTime{Calls: 9, P50MS: 0.4, P99MS: 0.4, MeanMS: 0.4}},
				{Caller: "headroom-payments", Peer: "ledger", Calls: 2, CallsPerRequest: 1, Call: result.CallTime{Calls: 2, P50MS: 3, P99MS: 4, MeanMS: 3.5}}}}},
	}
	var b bytes.Buffer
	if err := report.WriteDiagnosis(&b, f, ""); err != nil {
		t.Fatal(err)
	}
	golden(t, "diagnosis-services.txt", b.Bytes())
}

func TestWriteDiagnosisFunctions(t *testing.T) {
	t.Parallel()
	f := &result.Findings{Schema: result.FindingsSchema, Findings: []result.Finding{},
		Functions: []result.FunctionBreakdown{{Function: "api", Endpoint: "GET /api/posts", Trigger: "http", Invocations: 100,
			Cold: result.TierTime{Requests: 3, P50MS: 85, P99MS: 86}, Warm: result.TierTime{Requests: 97, P50MS: 10, P99MS: 11},
			ColdShare: 0.03, ColdStart: result.TierTime{Requests: 3, P50MS: 75, P99MS: 75}, ColdShareOfP99: 0.877,
			Init: []result.InitPhase{{Phase: "runtime start", Time: result.TierTime{Requests: 3, P50MS: 30, P99MS: 30}},
				{Phase: "handler init", Time: result.TierTime{Requests: 3, P50MS: 45, P99MS: 45}}},
			MemoryMB: 128, RatePerSecond: 20.165, PeakConcurrency: 2, KeepWarmUSDPerMonth: 0.0038, ProvisionedUSDPerMonth: 2.2463}},
	}
	var b bytes.Buffer
	if err := report.WriteDiagnosis(&b, f, ""); err != nil {
		t.Fatal(err)
	}
	golden(t, "diagnosis-functions.txt", b.Bytes())
}

func TestParseTraceURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, err string }{
		{"", ""},
		{"http://localhost:16686/trace/{trace_id}", ""},
		{"https://grafana.example/explore?left={\"queries\":[{\"query\":\"{trace_id}\"}]}", ""},
		{"http://localhost:16686/trace/", `"http://localhost:16686/trace/" has no {trace_id}: want an http(s) URL with {trace_id}`},
		{"javascript:alert('{trace_id}')", `"javascript:alert('{trace_id}')": want an http(s) URL with {trace_id}`},
		{"/trace/{trace_id}", `"/trace/{trace_id}": want an http(s) URL`},
	} {
		_, err := report.ParseTraceURL(tc.in)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.err)) {
			t.Errorf("ParseTraceURL(%q) = %v, want error %q", tc.in, err, tc.err)
		}
	}
}
