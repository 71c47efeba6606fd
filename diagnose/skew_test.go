package diagnose

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

// skewed is a trace whose root GET /api/posts lasts 100 ms and whose one query started at
// the root's start plus startMS and lasts dur: a clock gone wrong makes dur 31 years.
func skewed(id string, startMS int, dur time.Duration) *Trace {
	start := t0.Add(time.Duration(startMS) * time.Millisecond)
	return &Trace{ID: id, Spans: []*Span{
		{TraceID: id, SpanID: "r", Name: "GET", Kind: KindServer, Start: t0, End: t0.Add(100 * time.Millisecond),
			Attrs: map[string]string{"http.route": "/api/posts", "http.request.method": "GET"}},
		{TraceID: id, SpanID: "q", ParentID: "r", Name: "query", Kind: KindClient, Start: start, End: start.Add(dur),
			Attrs: map[string]string{"db.system.name": "postgresql", "db.query.text": "SELECT * FROM posts"}},
	}}
}

// checkBounded fails when a finding's saving exceeds what it saves from (its own time, the
// endpoint's P99) or a number is negative or not finite.
func checkBounded(t *testing.T, f *result.Findings) {
	t.Helper()
	p99 := map[string]float64{}
	for _, e := range f.Endpoints {
		for _, v := range []float64{e.P50MS, e.P90MS, e.P99MS, e.MeanMS} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("endpoint %s: latency out of range: %+v", e.Endpoint, e)
			}
		}
		p99[e.Endpoint] = e.P99MS
	}
	for _, x := range f.Findings {
		if x.ShareOfP99 < 0 || x.ShareOfP99 > 1 || x.EstimatedSavingMS < 0 || x.Evidence.TotalMS < 0 ||
			x.EstimatedSavingMS > x.Evidence.TotalMS {
			t.Fatalf("finding out of range: %+v", x)
		}
		if p, ok := p99[x.Endpoint]; ok && x.EstimatedSavingMS > p {
			t.Fatalf("finding saves %v ms of an endpoint whose P99 is %v ms: %+v", x.EstimatedSavingMS, p, x)
		}
	}
}

func TestSpansOutsideRootAreClamped(t *testing.T) {
	t.Parallel()
	const year = 365 * 24 * time.Hour
	for _, tc := range []struct {
		name        string
		startMS     int
		dur         time.Duration
		wantClamped int // per trace
		wantSaving  float64
	}{
		{"31 years long", 10, 31 * year, 1, 0},
		{"starts before the root", -1000, 1100 * time.Millisecond, 1, 0},
		{"ends after the root", 50, 200 * time.Millisecond, 1, 0},
		// The same query inside its root: 90 ms, no slow_query (< 500 ms), nothing clamped.
		{"inside the root", 5, 90 * time.Millisecond, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var trs []*Trace
			for i := range 10 {
				trs = append(trs, skewed(fmt.Sprint("t", i), tc.startMS, tc.dur))
			}
			got := Diagnose(trs, Config{})
			checkBounded(t, got)
			if n := got.Input.Tolerated[ReasonOutsideRoot]; n != 10*tc.wantClamped {
				t.Errorf("tolerated[%s] = %d, want %d", ReasonOutsideRoot, n, 10*tc.wantClamped)
			}
			if len(got.Endpoints) != 1 || got.Endpoints[0].P99MS != 100 || got.Endpoints[0].MeanMS != 100 {
				t.Errorf("endpoints = %+v, want one of P99 and mean 100 ms", got.Endpoints)
			}
		})
	}
}

// A root that lasts 31 years (its own clock gone wrong) is the request's measured latency: the
// sums over many such traces must not overflow into negative means.
func TestLongRootsDoNotOverflow(t *testing.T) {
	t.Parallel()
	const year = 365 * 24 * time.Hour
	var trs []*Trace
	for i := range 20 {
		tr := skewed(fmt.Sprint("t", i), 0, 600*time.Millisecond)
		tr.Spans[0].End = t0.Add(31 * year)
		tr.Spans[1].End = t0.Add(31 * year)
		trs = append(trs, tr)
	}
	got := Diagnose(trs, Config{})
	checkBounded(t, got)
	if e := got.Endpoints[0]; e.MeanMS != e.P99MS {
		t.Errorf("every request took 31 years, yet mean %v ms ≠ P99 %v ms", e.MeanMS, e.P99MS)
	}
	for _, x := range got.Findings {
		if x.Evidence.TotalMS != got.Endpoints[0].P99MS {
			t.Errorf("the query took all of every request, yet %+v", x)
		}
	}
}

func FuzzDiagnoseSkew(f *testing.F) {
	f.Add(int64(10), int64(31*365*24*time.Hour), int64(0), int64(100*time.Millisecond), uint8(10))
	f.Add(int64(-1000), int64(1100*time.Millisecond), int64(0), int64(time.Second), uint8(3))
	f.Add(int64(math.MaxInt64/2), int64(math.MaxInt64), int64(math.MinInt64/2), int64(math.MaxInt64), uint8(200))
	f.Fuzz(func(t *testing.T, childStart, childDur, rootStart, rootDur int64, n uint8) {
		var trs []*Trace
		for i := range int(n%50) + 1 {
			tr := skewed(fmt.Sprint("t", i), 0, 0)
			tr.Spans[0].Start, tr.Spans[0].End = time.Unix(0, rootStart), time.Unix(0, rootStart+rootDur)
			tr.Spans[1].Start, tr.Spans[1].End = time.Unix(0, childStart), time.Unix(0, childStart+childDur)
			if tr.Spans[1].End.Before(tr.Spans[1].Start) { // as Read repairs it
				tr.Spans[1].End = tr.Spans[1].Start
			}
			if tr.Spans[0].End.Before(tr.Spans[0].Start) {
				tr.Spans[0].End = tr.Spans[0].Start
			}
			trs = append(trs, tr)
		}
		checkBounded(t, Diagnose(trs, Config{}))
	})
}
