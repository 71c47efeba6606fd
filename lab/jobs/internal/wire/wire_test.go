package wire

import (
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/jobs"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 8, 0, 0, 123456789, time.UTC)
	for _, m := range []jobs.Message{
		{ID: "1", Queue: "email"},
		{ID: "2", Queue: "email", EnqueuedAt: at, NotBefore: at.Add(time.Second), Headers: map[string]string{"traceparent": "00-x"}},
	} {
		if err := Check(m); err != nil {
			t.Fatalf("Check(%+v): %v", m, err)
		}
		var got jobs.Message
		if err := Decode(Encode(m), &got); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if got.ID != m.ID || !got.EnqueuedAt.Equal(m.EnqueuedAt) || !got.NotBefore.Equal(m.NotBefore) || len(got.Headers) != len(m.Headers) {
			t.Errorf("round trip of %+v gave %+v", m, got)
		}
		for k, v := range m.Headers {
			if got.Headers[k] != v {
				t.Errorf("header %s = %q, want %q", k, got.Headers[k], v)
			}
		}
	}
}

func TestCheckRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		m    jobs.Message
		want string
	}{
		{jobs.Message{ID: "1", Queue: "Bad"}, "queue name"},
		{jobs.Message{Queue: "email"}, "no ID"},
		{jobs.Message{ID: "1", Queue: "email", Headers: map[string]string{"headroom-job-id": "x"}}, "headroom-job-id"},
	} {
		err := Check(tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%+v) = %v, want an error containing %q", tc.m, err, tc.want)
		}
	}
}

func TestDecodeDead(t *testing.T) {
	t.Parallel()
	died := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	h := Encode(jobs.Message{ID: "9", Queue: "email"})
	h[Reason] = "smtp: 550"
	h[DiedAt] = FormatTime(died)
	dl, err := DecodeDead(h, jobs.Message{Queue: "email"})
	if err != nil {
		t.Fatal(err)
	}
	if dl.Reason != "smtp: 550" || !dl.DiedAt.Equal(died) || dl.Message.ID != "9" || dl.Message.Headers != nil {
		t.Errorf("DecodeDead = %+v", dl)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("1", "2026-12-01T08:00:00Z", "", "traceparent", "00-x")
	f.Add("", "", "", "", "")
	f.Add("x", "yesterday", "2026-12-01T08:00:00.5Z", "a", "b")
	f.Fuzz(func(t *testing.T, id, enq, nb, k, v string) {
		h := map[string]string{ID: id, EnqueuedAt: enq, NotBefore: nb, k: v}
		var m jobs.Message
		if err := Decode(h, &m); err != nil {
			return
		}
		if m.ID != id {
			t.Fatalf("ID %q, want %q", m.ID, id)
		}
		for hk := range m.Headers {
			if isReserved(hk) {
				t.Fatalf("reserved header %q leaked", hk)
			}
		}
	})
}
