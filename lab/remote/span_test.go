package remote_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroom/headroom/lab/remote"
)

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// want is what one attempt's client span must say; "" or -1: the attribute must be absent.
type want struct {
	errorType string
	status    int64
	deadline  bool
}

func TestSpansFollowTheContract(t *testing.T) {
	t.Parallel()
	closedAddr := refusedAddr(t)
	for _, tc := range []struct {
		name     string
		handler  func(n int64, w http.ResponseWriter, r *http.Request)
		cfg      remote.Config
		calls    int
		outcome  string
		attempts []want // the last call's attempts, in order
	}{
		{name: "503 then retried ok", handler: func(n int64, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				down(w, r)
			}
		}, cfg: remote.Config{BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond},
			calls: 1, outcome: "ok", attempts: []want{{"503", 503, true}, {"", 200, true}}},
		{name: "timeout", handler: func(_ int64, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			cfg: remote.Config{Timeout: 30 * time.Millisecond, MaxAttempts: 1}, calls: 1, outcome: "error",
			attempts: []want{{"timeout", -1, true}}},
		{name: "no deadline", handler: func(int64, http.ResponseWriter, *http.Request) {},
			cfg: remote.Config{NoTimeout: true}, calls: 1, outcome: "ok", attempts: []want{{"", 200, false}}},
		{name: "circuit open", handler: func(_ int64, w http.ResponseWriter, r *http.Request) { down(w, r) },
			cfg: remote.Config{MaxAttempts: 1, BreakerFailures: 1, BreakerWindow: 1, BreakerDelay: time.Minute}, calls: 2, outcome: "error",
			attempts: []want{{"circuit_open", -1, true}}},
		{name: "budget exhausted", handler: func(_ int64, w http.ResponseWriter, r *http.Request) { down(w, r) },
			cfg:   remote.Config{MaxAttempts: 3, BudgetBurst: 1, BudgetRatio: 0.001, NoBreaker: true, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond},
			calls: 1, outcome: "error", attempts: []want{{"503", 503, true}, {"503", 503, true}, {"budget_exhausted", -1, true}}},
		{name: "connection refused", cfg: remote.Config{BaseURL: "http://" + closedAddr, MaxAttempts: 1}, calls: 1, outcome: "error",
			attempts: []want{{"connection_refused", -1, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var parents []string // the traceparent each request carried
			if tc.handler != nil {
				var n atomic.Int64
				srv, _ := counted(t, func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					parents = append(parents, r.Header.Get("Traceparent"))
					mu.Unlock()
					tc.handler(n.Add(1), w, r)
				})
				tc.cfg.BaseURL = srv.URL
			}
			rec := tracetest.NewSpanRecorder()
			tc.cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			c := newClient(t, tc.cfg)
			for range tc.calls {
				_ = c.Do(t.Context(), http.MethodGet, "/posts/{id}", "/posts/7", nil, nil)
			}

			spans := rec.Ended()
			var call sdktrace.ReadOnlySpan
			for _, s := range spans {
				if s.Name() == "call posts GET /posts/{id}" {
					call = s // the last call's
				}
			}
			if call == nil {
				t.Fatalf("no call span among %d spans", len(spans))
			}
			ca := attrs(call)
			if ca["headroom.call.outcome"].AsString() != tc.outcome || ca["headroom.call.attempts"].AsInt64() != int64(len(tc.attempts)) {
				t.Errorf("call span: outcome %q attempts %d, want %q %d", ca["headroom.call.outcome"].AsString(),
					ca["headroom.call.attempts"].AsInt64(), tc.outcome, len(tc.attempts))
			}
			var got []sdktrace.ReadOnlySpan
			for _, s := range spans {
				if s.Parent().SpanID() == call.SpanContext().SpanID() {
					got = append(got, s)
				}
			}
			if len(got) != len(tc.attempts) {
				t.Fatalf("%d attempt spans under the call, want %d", len(got), len(tc.attempts))
			}
			for i, s := range got {
				a, w := attrs(s), tc.attempts[i]
				if s.Name() != "posts GET /posts/{id}" || s.SpanKind() != trace.SpanKindClient {
					t.Errorf("attempt span %q kind %v, want %q client", s.Name(), s.SpanKind(), "posts GET /posts/{id}")
				}
				if a["headroom.call.attempt"].AsInt64() != int64(i+1) || a["headroom.call.hedge"].Type() != attribute.BOOL || a["headroom.call.hedge"].AsBool() {
					t.Errorf("attempt %d: headroom.call.attempt %v hedge %v", i+1, a["headroom.call.attempt"].String(), a["headroom.call.hedge"].String())
				}
				if a["peer.service"].AsString() != "posts" || a["http.request.method"].AsString() != "GET" || !strings.HasSuffix(a["url.full"].AsString(), "/posts/7") {
					t.Errorf("attempt %d: peer.service %q method %q url.full %q", i+1, a["peer.service"].AsString(), a["http.request.method"].AsString(), a["url.full"].AsString())
				}
				if a["server.address"].AsString() != "127.0.0.1" || !strings.Contains(a["url.full"].AsString(), fmt.Sprintf(":%d/", a["server.port"].AsInt64())) {
					t.Errorf("attempt %d: server.address %q server.port %d, want url.full's %q", i+1, a["server.address"].AsString(), a["server.port"].AsInt64(), a["url.full"].AsString())
				}
				if et, ok := a["error.type"]; (w.errorType == "") == ok || et.AsString() != w.errorType {
					t.Errorf("attempt %d: error.type %q (present %v), want %q", i+1, et.AsString(), ok, w.errorType)
				}
				if sc, ok := a["http.response.status_code"]; (w.status >= 0) != ok || (ok && sc.AsInt64() != w.status) {
					t.Errorf("attempt %d: http.response.status_code %v (present %v), want %d", i+1, sc.String(), ok, w.status)
				}
				if dl, ok := a["headroom.call.deadline_ms"]; ok != w.deadline || (ok && dl.AsFloat64() <= 0) {
					t.Errorf("attempt %d: headroom.call.deadline_ms %v (present %v), want present %v", i+1, dl.String(), ok, w.deadline)
				}
			}
			// The server continues the trace under an attempt's client span.
			clientSpans := map[string]bool{}
			for _, s := range spans {
				if s.SpanKind() == trace.SpanKindClient {
					clientSpans[s.SpanContext().SpanID().String()] = true
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, tp := range parents {
				if f := strings.Split(tp, "-"); len(f) != 4 || !clientSpans[f[2]] {
					t.Errorf("server's traceparent %q names no attempt span", tp)
				}
			}
		})
	}
}

func TestHedgedAttemptSpan(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv, _ := counted(t, func(_ http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 { // the first attempt hangs until the hedge wins
			<-r.Context().Done()
		}
	})
	rec := tracetest.NewSpanRecorder()
	c := newClient(t, remote.Config{BaseURL: srv.URL, HedgeDelay: 20 * time.Millisecond,
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
	if err := c.Do(t.Context(), http.MethodGet, "/posts", "/posts", nil, nil); err != nil {
		t.Fatal(err)
	}
	// The losing attempt's span ends once its request is canceled, just after Do returns.
	var byAttempt map[int64]map[attribute.Key]attribute.Value
	for range 200 {
		byAttempt = map[int64]map[attribute.Key]attribute.Value{}
		for _, s := range rec.Ended() {
			if s.SpanKind() == trace.SpanKindClient {
				a := attrs(s)
				byAttempt[a["headroom.call.attempt"].AsInt64()] = a
			}
		}
		if len(byAttempt) == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	first, hedge := byAttempt[1], byAttempt[2]
	if first == nil || hedge == nil {
		t.Fatalf("attempt spans %v, want attempts 1 and 2", byAttempt)
	}
	if first["headroom.call.hedge"].AsBool() || first["error.type"].AsString() != "canceled" {
		t.Errorf("first attempt: hedge %v error.type %q, want false, canceled", first["headroom.call.hedge"].AsBool(), first["error.type"].AsString())
	}
	if !hedge["headroom.call.hedge"].AsBool() || hedge["error.type"].AsString() != "" {
		t.Errorf("hedged attempt: hedge %v error.type %q, want true and none", hedge["headroom.call.hedge"].AsBool(), hedge["error.type"].AsString())
	}
}
