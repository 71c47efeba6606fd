package jobs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/jobs"
)

func TestCheckQueue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q  string
		ok bool
	}{
		{"email", true},
		{"video.thumbnail", true},
		{"a-b_c.9", true},
		{strings.Repeat("q", 128), true},
		{"", false},
		{strings.Repeat("q", 129), false},
		{"Email", false},
		{"a b", false},
		{"a*", false},
		{"a>", false},
		{".a", false},
		{"a.", false},
		{"a..b", false},
		{"é", false},
	} {
		err := jobs.CheckQueue(tc.q)
		if (err == nil) != tc.ok {
			t.Errorf("CheckQueue(%q) = %v, want ok=%v", tc.q, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "queue name") {
			t.Errorf("CheckQueue(%q) error %q does not name the queue", tc.q, err)
		}
	}
}

func FuzzCheckQueue(f *testing.F) {
	for _, s := range []string{"email", "video.thumbnail", "", "a..b", "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if jobs.CheckQueue(q) != nil {
			return
		}
		if rest := strings.Trim(q, "abcdefghijklmnopqrstuvwxyz0123456789.-_"); rest != "" {
			t.Fatalf("accepted %q with %q", q, rest)
		}
		if strings.Contains(q, "..") || strings.HasPrefix(q, ".") || strings.HasSuffix(q, ".") {
			t.Fatalf("accepted %q", q)
		}
	})
}

func TestCheckSubscribe(t *testing.T) {
	t.Parallel()
	got, err := jobs.CheckSubscribe("email", jobs.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Group != "workers" || got.AckWait != 30*time.Second || got.Prefetch != 64 {
		t.Errorf("defaults = %+v, want group workers, ack wait 30s, prefetch 64", got)
	}
	for _, tc := range []struct {
		queue string
		opts  jobs.SubscribeOptions
		want  string
	}{
		{"Email", jobs.SubscribeOptions{}, "queue name"},
		{"email", jobs.SubscribeOptions{Group: "a.b"}, "group name"},
		{"email", jobs.SubscribeOptions{AckWait: -time.Second}, "ack wait"},
		{"email", jobs.SubscribeOptions{Prefetch: -1}, "prefetch"},
	} {
		if _, err := jobs.CheckSubscribe(tc.queue, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckSubscribe(%q, %+v) = %v, want an error about %s", tc.queue, tc.opts, err, tc.want)
		}
	}
}
