package collect

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// received is one request a destination got.
type received struct {
	path, contentType string
	body              []byte
}

// destination is a real OTLP/HTTP endpoint on loopback that records what it receives,
// answering each request once release is closed (nil: at once).
func destination(t *testing.T, release chan struct{}) (*httptest.Server, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if release != nil {
			<-release
		}
		mu.Lock()
		got = append(got, received{req.URL.Path, req.Header.Get("Content-Type"), b})
		mu.Unlock()
		w.Header().Set("Content-Type", req.Header.Get("Content-Type"))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

func metricsBody(t *testing.T) []byte {
	t.Helper()
	md := pmetric.NewMetrics()
	g := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	g.SetName("queue.depth")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(3)
	b, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func logsBody(t *testing.T) []byte {
	t.Helper()
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("hello")
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestForward sends traces (HTTP protobuf, HTTP JSON gzipped, gRPC), metrics and logs to a
// receiver forwarding to a destination, and checks that each arrives there once, at its
// signal's path, with the body as sent (decompressed) or, from gRPC, the same request.
func TestForward(t *testing.T) {
	t.Parallel()
	dst, got := destination(t, nil)
	s := start(t, Config{Forward: dst.URL + "/v1/traces"}) // the traces URL names the same base
	base := "http://" + s.r.HTTPAddr().String()

	// An invalid span is refused by collect (partial success) but forwarded as sent.
	td := build(spanSpec{trace: 1, span: 1, parent: -1, start: 1, end: 2})
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty().SetSpanID(sid(9))
	pb, js := protoBody(td), jsonBody(build(spanSpec{trace: 2, span: 1, parent: -1, start: 1, end: 2}))
	mb, lb := metricsBody(t), logsBody(t)
	for _, p := range []struct {
		path, ct, enc string
		body          []byte
	}{{"/v1/traces", ctProtobuf, "", pb}, {"/v1/traces", ctJSON, "gzip", gz(js)}, {"/v1/metrics", ctProtobuf, "", mb}, {"/v1/logs", ctProtobuf, "gzip", gz(lb)}} {
		if a := post(t, base+p.path, p.ct, p.enc, p.body); a.code != http.StatusOK {
			t.Fatalf("POST %s: %d %q", p.path, a.code, a.body)
		}
	}
	cc, err := grpc.NewClient(s.r.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	gtd := build(spanSpec{trace: 3, span: 1, parent: -1, start: 1, end: 2})
	if _, err := ptraceotlp.NewGRPCClient(cc).Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(gtd)); err != nil {
		t.Fatal(err)
	}
	md := pmetricotlp.NewExportRequest()
	if err := md.UnmarshalProto(mb); err != nil {
		t.Fatal(err)
	}
	if _, err := pmetricotlp.NewGRPCClient(cc).Export(t.Context(), md); err != nil {
		t.Fatalf("gRPC metrics: %v: want success", err)
	}
	s.shutdown(t) // sends what is queued

	want := []received{{"/v1/traces", ctProtobuf, pb}, {"/v1/traces", ctJSON, js}, {"/v1/metrics", ctProtobuf, mb},
		{"/v1/logs", ctProtobuf, lb}, {"/v1/traces", ctProtobuf, protoBody(gtd)}, {"/v1/metrics", ctProtobuf, mb}}
	all := got()
	if len(all) != len(want) {
		t.Fatalf("destination got %d requests: want %d", len(all), len(want))
	}
	for _, w := range want {
		found := false
		for _, g := range all {
			found = found || g.path == w.path && g.contentType == w.contentType && bytes.Equal(g.body, w.body)
		}
		if !found {
			t.Errorf("destination did not get %s %s of %d bytes as sent", w.path, w.contentType, len(w.body))
		}
	}
	st := s.r.Stats()
	if st.Forwarded != int64(len(want)) || st.ForwardDropped != 0 || st.ForwardFailed != 0 || st.MetricsRequests != 2 || st.LogsRequests != 1 {
		t.Errorf("stats forwarded %d dropped %d failed %d, metrics %d logs %d: want %d, 0, 0, 2, 1",
			st.Forwarded, st.ForwardDropped, st.ForwardFailed, st.MetricsRequests, st.LogsRequests, len(want))
	}
}

// TestForwardNeverBlocks: with a destination that does not answer, every export is still
// answered, and what the queue cannot hold is dropped and counted.
func TestForwardNeverBlocks(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	dst, got := destination(t, release)
	s := start(t, Config{Forward: dst.URL, ForwardQueue: 1})
	const n = 10
	for i := range n {
		if a := post(t, s.url(), ctProtobuf, "", protoBody(build(spanSpec{trace: i, span: 1, parent: -1, start: 1, end: 2}))); a.code != http.StatusOK {
			t.Fatalf("export %d with the destination stuck: %d, want 200", i, a.code)
		}
	}
	// At most forwardWorkers requests in flight and 1 queued; the rest were dropped.
	if d := s.r.Stats().ForwardDropped; d < n-forwardWorkers-1 {
		t.Errorf("%d dropped: want at least %d", d, n-forwardWorkers-1)
	}
	close(release)
	s.shutdown(t)
	st := s.r.Stats()
	if st.Forwarded+st.ForwardDropped+st.ForwardFailed != n || int64(len(got())) != st.Forwarded {
		t.Errorf("forwarded %d + dropped %d + failed %d (destination got %d): want %d in all", st.Forwarded, st.ForwardDropped, st.ForwardFailed, len(got()), n)
	}
}

// TestForwardRetries: a destination that answers 503 and then 200 gets the request again;
// one that answers 400 does not, and the request counts as failed.
func TestForwardRetries(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		codes           []int
		posts           int
		forwarded, fail int64
	}{{[]int{503, 200}, 2, 1, 0}, {[]int{400}, 1, 0, 1}, {[]int{503, 503, 503}, forwardAttempts, 0, 1}} {
		var mu sync.Mutex
		posts := 0
		dst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			code := c.codes[min(posts, len(c.codes)-1)]
			posts++
			mu.Unlock()
			w.WriteHeader(code)
		}))
		s := start(t, Config{Forward: dst.URL})
		post(t, s.url(), ctProtobuf, "", protoBody(build(spanSpec{trace: 1, span: 1, parent: -1, start: 1, end: 2})))
		s.shutdown(t)
		dst.Close()
		st := s.r.Stats()
		if posts != c.posts || st.Forwarded != c.forwarded || st.ForwardFailed != c.fail {
			t.Errorf("answers %v: %d posts, forwarded %d, failed %d: want %d, %d, %d", c.codes, posts, st.Forwarded, st.ForwardFailed, c.posts, c.forwarded, c.fail)
		}
	}
}

// TestOtherSignalsAnswered: metrics and logs get success in the request's encoding, bad
// bodies 400, as for traces.
func TestOtherSignalsAnswered(t *testing.T) {
	t.Parallel()
	s := start(t, Config{})
	base := "http://" + s.r.HTTPAddr().String()
	for _, c := range []struct {
		path, ct string
		body     []byte
		code     int
	}{
		{"/v1/metrics", ctProtobuf, metricsBody(t), 200},
		{"/v1/logs", ctProtobuf, logsBody(t), 200},
		{"/v1/metrics", ctJSON, []byte(`{"resourceMetrics":[]}`), 200},
		{"/v1/logs", ctProtobuf, []byte{0xff, 0xff, 0xff}, 400},
		{"/v1/metrics", ctJSON, []byte(`{"resourceMetrics":`), 400},
		{"/v1/logs", "text/plain", []byte("x"), 415},
	} {
		a := post(t, base+c.path, c.ct, "", c.body)
		if a.code != c.code {
			t.Errorf("%s %s: %d %q, want %d", c.path, c.ct, a.code, a.body, c.code)
			continue
		}
		if c.code != 200 {
			if msg := statusMessage(t, a); msg == "" {
				t.Errorf("%s %s: %d without a message", c.path, c.ct, a.code)
			}
			continue
		}
		if a.contentType != c.ct {
			t.Errorf("%s: answered in %q, want %q", c.path, a.contentType, c.ct)
		}
		if c.ct == ctJSON && strings.TrimSpace(string(a.body)) != "{}" {
			t.Errorf("%s JSON answer %q: want an empty response {}", c.path, a.body)
		}
	}
	if st := s.r.Stats(); st.MetricsRequests != 2 || st.LogsRequests != 1 {
		t.Errorf("counted metrics %d logs %d: want 2, 1", st.MetricsRequests, st.LogsRequests)
	}
}
