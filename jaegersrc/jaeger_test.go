package jaegersrc_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/diagnose"
	"github.com/headroom/headroom/internal/jaegertest"
	"github.com/headroom/headroom/jaegersrc"
)

// recorded is traces as collect --out writes them (one OTLP JSON request per line): n requests
// of GET /posts/{id}, each with an N+1 of 12 queries and a call to a payment service, the
// call's time growing with i so that the tail has a cause. Times are whole microseconds, as
// Jaeger stores them.
func recorded(n int, base time.Time) (lines []string, ids []string) {
	ns := func(ms float64) string {
		return fmt.Sprint(base.Add(time.Duration(ms * float64(time.Millisecond))).UnixNano())
	}
	str := func(k, v string) string { return fmt.Sprintf(`{"key":%q,"value":{"stringValue":%q}}`, k, v) }
	for i := range n {
		tid := fmt.Sprintf("%032x", 0xabc000+i)
		ids = append(ids, tid)
		t0 := float64(i * 200) // requests 200 ms apart
		var spans []string
		span := func(id, parent, name string, kind int, start, end float64, attrs ...string) {
			p := ""
			if parent != "" {
				p = fmt.Sprintf(`"parentSpanId":"%016x",`, 0x100+spanNum(parent))
			}
			spans = append(spans, fmt.Sprintf(`{"traceId":%q,"spanId":"%016x",%s"name":%q,"kind":%d,"startTimeUnixNano":"%s","endTimeUnixNano":"%s","attributes":[%s]}`,
				tid, 0x100+spanNum(id), p, name, kind, ns(t0+start), ns(t0+end), strings.Join(attrs, ",")))
		}
		pay := 5 + float64(i)       // ms
		end := 2 + 12*5 + pay + 2.5 // handler work, queries, the call, a tail
		span("r", "", "GET /posts/{id}", 2, 0, end, str("http.route", "/posts/{id}"), str("http.request.method", "GET"))
		span("h", "r", "handler", 1, 1, end-1)
		for q := range 12 {
			span(fmt.Sprint(q), "h", "SELECT", 3, 2+float64(q*5), 2+float64(q*5+5),
				str("db.system.name", "postgresql"), str("db.query.text", fmt.Sprintf("SELECT * FROM comments WHERE post_id = %d", q)))
		}
		span("p", "h", "POST", 3, 62, 62+pay, str("http.request.method", "POST"), str("url.full", "http://payments:8080/charge"))
		lines = append(lines, fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[%s]},"scopeSpans":[{"scope":{"name":"test"},"spans":[%s]}]}]}`,
			str("service.name", "api"), strings.Join(spans, ",")))
	}
	return lines, ids
}

// spanNum numbers the span names recorded uses: r, h, p, then the queries' 0..11.
func spanNum(id string) int {
	switch id {
	case "r":
		return 1
	case "h":
		return 2
	case "p":
		return 3
	}
	var n int
	fmt.Sscan(id, &n)
	return 10 + n
}

// TestAgainstJaeger sends recorded traces to a real Jaeger over OTLP, reads them back through
// its query API, and checks that diagnose finds the same as it does in the file.
func TestAgainstJaeger(t *testing.T) {
	t.Parallel()
	otlp, query := jaegertest.Start(t)
	otlp += "/v1/traces"
	const n = 40
	lines, ids := recorded(n, time.Now().Add(-10*time.Minute).Truncate(time.Millisecond))
	for _, l := range lines {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, otlp, strings.NewReader(l))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("OTLP export to jaeger: %s", resp.Status)
		}
	}

	fromFile := diagnose.NewStream(diagnose.Config{})
	if _, err := fromFile.ReadTraces(strings.NewReader(strings.Join(lines, "\n")), diagnose.ReadConfig{}, nil); err != nil {
		t.Fatal(err)
	}

	// The tail's ids first (one that Jaeger never saw), then the search; the batch processor
	// and storage take a moment, so read until every trace is there (bounded).
	missing := fmt.Sprintf("%032x", 0xdead)
	cfg := jaegersrc.Config{URL: query, Service: "api", Operation: "GET /posts/{id}", TraceIDs: []string{ids[n-1], ids[n-2], missing}}
	var traces []*diagnose.Trace
	var st *jaegersrc.Stats
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(30 * time.Second); ; <-tick.C {
		traces = traces[:0]
		var err error
		st, err = jaegersrc.Read(t.Context(), cfg, func(t *diagnose.Trace) { traces = append(traces, t) })
		if err != nil {
			t.Fatal(err)
		}
		if st.Spans == n*15 || time.Now().After(deadline) {
			break
		}
	}
	if st.ByID != 2 || st.Searched != n-2 || st.Spans != n*15 || !slices.Equal(st.Missing, []string{missing}) || len(st.Tolerated) != 0 {
		t.Fatalf("read %d by id, %d searched, %d spans, missing %v, tolerated %v: want 2, %d, %d, [%s], none",
			st.ByID, st.Searched, st.Spans, st.Missing, st.Tolerated, n-2, n*15, missing)
	}
	if traces[0].ID != ids[n-1] || traces[1].ID != ids[n-2] {
		t.Errorf("first traces %s, %s: want the ids asked for first", traces[0].ID, traces[1].ID)
	}
	// diagnose's file order is the requests' order; Jaeger's search answers newest first.
	slices.SortFunc(traces, func(a, b *diagnose.Trace) int { return strings.Compare(a.ID, b.ID) })
	fromJaeger := diagnose.NewStream(diagnose.Config{})
	for _, tr := range traces {
		fromJaeger.Add(tr)
	}

	want, got := fromFile.Findings(), fromJaeger.Findings()
	if len(want.Findings) == 0 {
		t.Fatal("no findings in the file: the recorded traces must have some to compare")
	}
	wj, _ := json.MarshalIndent(want.Findings, "", " ")
	gj, _ := json.MarshalIndent(got.Findings, "", " ")
	if !bytes.Equal(wj, gj) {
		t.Errorf("findings from Jaeger differ from the file's:\nfile:\n%s\njaeger:\n%s", wj, gj)
	}
	kinds := map[string]bool{}
	for _, f := range got.Findings {
		kinds[string(f.Kind)] = true
	}
	if !kinds["n_plus_one_db"] {
		t.Errorf("findings %v: want n_plus_one_db among them", kinds)
	}
}
