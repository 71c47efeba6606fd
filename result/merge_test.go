package result_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/result"
)

// fakeRun builds a load result from latencies, the way a run would.
func fakeRun(t testing.TB, lat []time.Duration, seconds int, errs int64) (*result.Load, *hist.Histogram) {
	t.Helper()
	h := hist.New()
	per := make([]*hist.Histogram, seconds)
	for i := range per {
		per[i] = hist.New()
	}
	for i, d := range lat {
		h.Record(d)
		per[i%seconds].Record(d)
	}
	enc, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	l := &result.Load{
		Schema: result.LoadSchema, Model: "open", Target: "http://127.0.0.1/",
		OfferedRPS: float64(len(lat)) / float64(seconds), AchievedRPS: float64(len(lat)) / float64(seconds),
		DurationS: float64(seconds), Requests: int64(len(lat)), Errors: errs,
		ErrorsByKind: map[string]int64{"status_500": errs},
		LatencyMS:    result.Summarize(h), ServiceMS: result.Summarize(h),
		Histograms: result.Histograms{Latency: enc, Service: enc, SendLag: enc},
		Generator:  result.Generator{CPUSeconds: 1, Cores: 2, Connections: 10, IO: "epoll"},
		Verdict:    result.Verdict{Valid: true},
		Config:     json.RawMessage(`{}`),
	}
	for i, ph := range per {
		s := result.Summarize(ph)
		e, _ := ph.Encode()
		l.Timeline = append(l.Timeline, result.Second{T: i, Requests: ph.Count(), P50: s.P50, P99: s.P99, Max: s.Max, Latency: e})
	}
	return l, h
}

func randomLatencies(seed uint64, n int, scale time.Duration) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(rng.ExpFloat64() * float64(scale))
	}
	return out
}

func TestMergeIsExact(t *testing.T) {
	t.Parallel()
	// Two machines with very different latency: averaging their P99s would be wrong; the merged
	// P99 must equal the P99 of all requests together.
	a, ha := fakeRun(t, randomLatencies(1, 30000, 5*time.Millisecond), 3, 3)
	b, hb := fakeRun(t, randomLatencies(2, 10000, 80*time.Millisecond), 3, 1)
	m, err := result.MergeLoads([]*result.Load{a, b})
	if err != nil {
		t.Fatal(err)
	}
	all := ha.Clone()
	all.Merge(hb)
	if want := result.Summarize(all); m.LatencyMS != want {
		t.Errorf("merged latency %+v, want %+v", m.LatencyMS, want)
	}
	if avg := (a.LatencyMS.P99 + b.LatencyMS.P99) / 2; m.LatencyMS.P99 == avg {
		t.Errorf("merged P99 equals the average of P99s (%v): not a true merge", avg)
	}
	if m.Requests != 40000 || m.Errors != 4 || m.ErrorsByKind["status_500"] != 4 || m.MergedFrom != 2 {
		t.Errorf("requests %d errors %d by kind %v merged_from %d", m.Requests, m.Errors, m.ErrorsByKind, m.MergedFrom)
	}
	if m.AchievedRPS != a.AchievedRPS+b.AchievedRPS || m.Generator.Connections != 20 {
		t.Errorf("achieved %v connections %d: rates and pools must add", m.AchievedRPS, m.Generator.Connections)
	}
	if m.Generator.IO != "epoll" {
		t.Errorf("io %q: two runs on epoll merge to epoll", m.Generator.IO)
	}
	if len(m.Timeline) != 3 || m.Timeline[0].Requests != a.Timeline[0].Requests+b.Timeline[0].Requests {
		t.Fatalf("timeline %+v", m.Timeline)
	}
	// Timeline seconds merge exactly too.
	s0 := hist.New()
	for _, r := range []*result.Load{a, b} {
		h, _ := hist.Decode(r.Timeline[0].Latency)
		s0.Merge(h)
	}
	if got, want := m.Timeline[0].P99, result.Summarize(s0).P99; got != want {
		t.Errorf("timeline second 0 P99 %v, want %v", got, want)
	}
	// A merge survives a write and a read.
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := result.ReadLoad(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.LatencyMS != m.LatencyMS || back.Requests != m.Requests {
		t.Errorf("round trip changed the result")
	}
}

// TestMergeNamesEachIO: runs whose bytes moved differently merge to each way, once, in order.
func TestMergeNamesEachIO(t *testing.T) {
	t.Parallel()
	var runs []*result.Load
	for i, io := range []string{"io_uring", "epoll", "io_uring", ""} {
		r, _ := fakeRun(t, randomLatencies(uint64(i), 10, time.Millisecond), 1, 0)
		r.Generator.IO = io
		runs = append(runs, r)
	}
	m, err := result.MergeLoads(runs)
	if err != nil {
		t.Fatal(err)
	}
	if m.Generator.IO != "io_uring+epoll" {
		t.Errorf("io %q, want io_uring+epoll", m.Generator.IO)
	}
}

func TestMergeRefusesMixedModels(t *testing.T) {
	t.Parallel()
	a, _ := fakeRun(t, randomLatencies(1, 10, time.Millisecond), 1, 0)
	b, _ := fakeRun(t, randomLatencies(2, 10, time.Millisecond), 1, 0)
	b.Model = "closed"
	if _, err := result.MergeLoads([]*result.Load{a, b}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("merge of open and closed runs: %v, want an error naming the models", err)
	}
	if _, err := result.MergeLoads(nil); err == nil {
		t.Error("merge of nothing succeeded")
	}
}

func TestKeepExemplars(t *testing.T) {
	t.Parallel()
	var ex []result.Exemplar
	for i := range 30 {
		ex = append(ex, result.Exemplar{TraceID: string(rune('a' + i)), LatencyMS: float64(i), Why: "slowest"})
	}
	ex = append(ex, result.Exemplar{TraceID: "b1", LatencyMS: 0.5, Why: "bucket", BucketMS: 1, AtS: 2},
		result.Exemplar{TraceID: "b2", LatencyMS: 0.7, Why: "bucket", BucketMS: 1, AtS: 1})
	got := result.KeepExemplars(ex)
	var slow, bucket int
	for _, e := range got {
		if e.Why == "slowest" {
			slow++
			if e.LatencyMS < 20 {
				t.Errorf("kept %v ms among the slowest", e.LatencyMS)
			}
		} else {
			bucket++
			if e.TraceID != "b2" {
				t.Errorf("kept bucket exemplar %s, want the earliest (b2)", e.TraceID)
			}
		}
	}
	if slow != result.SlowestExemplars || bucket != 1 {
		t.Errorf("kept %d slowest and %d bucket exemplars", slow, bucket)
	}
}

func TestReadLoadRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, mention string }{
		{"", "decode"},
		{"[]", "decode"},
		{`{"schema":"headroom.sweep/v1"}`, "headroom.sweep/v1"},
		{`{"schema":"headroom.load/v1","histograms":{"latency":"zz"}}`, "histograms.latency"},
	} {
		_, err := result.ReadLoad(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ReadLoad(%q) = %v, want an error mentioning %s", tc.in, err, tc.mention)
		}
	}
	_, err := result.ReadLoad(strings.NewReader(`{"schema":"nope"}`))
	if !errors.Is(err, result.ErrSchema) {
		t.Errorf("unknown schema: %v, want ErrSchema", err)
	}
}

func FuzzReadLoad(f *testing.F) {
	l, _ := fakeRun(f, randomLatencies(1, 100, time.Millisecond), 2, 1)
	var buf bytes.Buffer
	_ = l.Write(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema":"headroom.load/v1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := result.ReadLoad(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever reads must merge with itself and write.
		m, err := result.MergeLoads([]*result.Load{l, l})
		if err != nil {
			return
		}
		if err := m.Write(&bytes.Buffer{}); err != nil {
			t.Fatalf("write of a merged result failed: %v", err)
		}
	})
}
