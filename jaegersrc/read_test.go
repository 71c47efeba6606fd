package jaegersrc

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/headroom/headroom/diagnose"
)

// TestRead checks the requests Read makes of a query API (here a loopback stand-in: the real
// Jaeger is TestAgainstJaeger's): ids in batches of idsPerRequest, then one search with the
// window, the limit and the base path kept, each trace handed on once.
func TestRead(t *testing.T) {
	t.Parallel()
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jaeger/api/traces" {
			http.NotFound(w, r)
			return
		}
		queries = append(queries, r.URL.RawQuery)
		// Every answer holds trace ab; the search's also trace cd.
		fmt.Fprint(w, `{"data":[{"traceID":"ab","spans":[{"traceID":"ab","spanID":"1","startTime":1,"duration":1}]}`)
		if r.URL.Query().Get("service") != "" {
			fmt.Fprint(w, `,{"traceID":"cd","spans":[{"traceID":"cd","spanID":"1","startTime":1,"duration":1}]}`)
		}
		fmt.Fprint(w, `],"errors":[{"code":0,"msg":"trace not found","traceID":"ef"}]}`)
	}))
	defer srv.Close()
	ids := make([]string, idsPerRequest+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("%x", i+1)
	}
	var got []string
	st, err := Read(t.Context(), Config{URL: srv.URL + "/jaeger/", Service: "api", Operation: "GET /", Limit: 7, TraceIDs: ids},
		func(tr *diagnose.Trace) { got = append(got, tr.ID) })
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) != 3 || strings.Count(queries[0], "traceID=") != idsPerRequest || strings.Count(queries[1], "traceID=") != 1 {
		t.Fatalf("queries %q: want 2 by id (%d and 1 ids) and a search", queries, idsPerRequest)
	}
	for _, want := range []string{"service=api", "operation=GET+%2F", "limit=7", "start=", "end="} {
		if !strings.Contains(queries[2], want) {
			t.Errorf("search %q lacks %s", queries[2], want)
		}
	}
	if len(got) != 2 || st.ByID != 1 || st.Searched != 1 || st.Spans != 2 || len(st.Missing) != 3 {
		t.Errorf("got %v, %d by id, %d searched, %d spans, %d missing: want each trace once, 1, 1, 2, 3", got, st.ByID, st.Searched, st.Spans, len(st.Missing))
	}
}

// TestReadFails: an error status, an answer over MaxBodyBytes and a refused connection are
// errors naming what went wrong; a bad Config is refused before any request.
func TestReadFails(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("service") == "broken" {
			http.Error(w, "storage down", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, `{"data":[]}`+strings.Repeat(" ", 1000))
	}))
	defer srv.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{URL: srv.URL, Service: "broken"}, "500"},
		{Config{URL: srv.URL, Service: "big", MaxBodyBytes: 100}, "answer too large: over 100 bytes"},
		{Config{URL: dead.URL, Service: "api"}, "connect"},
		{Config{URL: "localhost:16686", Service: "api"}, `URL "localhost:16686"`},
		{Config{URL: srv.URL}, "Service is empty"},
		{Config{URL: srv.URL, TraceIDs: []string{"xyz"}}, `TraceIDs "xyz"`},
		{Config{URL: srv.URL, Service: "api", Limit: -1}, "Limit -1"},
	} {
		_, err := Read(context.Background(), c.cfg, func(*diagnose.Trace) {})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Read(%+v) = %v: want an error mentioning %q", c.cfg, err, c.want)
		}
	}
}
