package result_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

// TestLogLoadsRoundTrip: results written between markers are found again among other lines,
// with or without kubectl logs --prefix.
func TestLogLoadsRoundTrip(t *testing.T) {
	t.Parallel()
	a, _ := fakeRun(t, randomLatencies(1, 100, time.Millisecond), 1, 0)
	b, _ := fakeRun(t, randomLatencies(2, 200, time.Millisecond), 1, 0)
	var log bytes.Buffer
	log.WriteString("progress line\n")
	if err := a.WriteMarked(&log); err != nil {
		t.Fatal(err)
	}
	var other bytes.Buffer
	if err := b.WriteMarked(&other); err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(other.String()) {
		log.WriteString("[pod/load-1-xyz/load] " + line)
	}
	log.WriteString("report text\n")
	got, err := result.ReadLogLoads(&log)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Requests != 100 || got[1].Requests != 200 {
		t.Fatalf("read %d results, want the 2 written (100 and 200 requests)", len(got))
	}
}

func TestLogLoadsCutShort(t *testing.T) {
	t.Parallel()
	_, err := result.ReadLogLoads(strings.NewReader("x\n" + result.LogBegin + "\n{\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("ReadLogLoads of a log cut short = %v, want an error naming line 2", err)
	}
	if got, err := result.ReadLogLoads(strings.NewReader("no results here\n")); err != nil || len(got) != 0 {
		t.Errorf("ReadLogLoads of a log without results = %v, %v; want none and no error", got, err)
	}
}

func FuzzReadLogLoads(f *testing.F) {
	l, _ := fakeRun(f, randomLatencies(3, 10, time.Millisecond), 1, 0)
	var b bytes.Buffer
	_ = l.WriteMarked(&b)
	f.Add(b.String())
	f.Add("[p] " + result.LogBegin + "\n[p] {}\n[p] " + result.LogEnd + "\n")
	f.Add(result.LogBegin + "\n")
	f.Add("plain\nlines\n")
	f.Fuzz(func(t *testing.T, log string) {
		got, err := result.ReadLogLoads(strings.NewReader(log))
		if err != nil && got != nil {
			t.Errorf("results %v with error %v: want one or the other", got, err)
		}
		for _, l := range got {
			if l.Schema != result.LoadSchema {
				t.Errorf("result of schema %q", l.Schema)
			}
		}
	})
}
