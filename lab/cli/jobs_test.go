package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/tasks"
)

// TestWriteJobsShowsTheReplicationLag: the lag's line appears where the lab keeps a copy, with
// its percentiles only once a change was applied.
func TestWriteJobsShowsTheReplicationLag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		lag  *tasks.Lag
		want string
	}{
		{nil, ""},
		{&tasks.Lag{Queue: "users.changed", Table: "users", Skipped: 3},
			"replication users.changed → users: 0 applied, 3 skipped (already there or superseded)\n"},
		{&tasks.Lag{Queue: "users.changed", Table: "users", Applied: 200, Skipped: 1, Window: 200, P50: 4548675 * time.Nanosecond, P99: 23471798 * time.Nanosecond, Max: 2*time.Second + 345678*time.Microsecond},
			"replication users.changed → users: 200 applied, 1 skipped (already there or superseded); lag from change to visible over the latest 200: p50 4.55ms, p99 23.47ms, max 2.346s\n"},
	} {
		var b strings.Builder
		writeJobs(&b, app.JobsView{Replication: tt.lag})
		out := b.String()
		i := strings.Index(out, "replication ")
		switch {
		case tt.want == "" && i >= 0:
			t.Errorf("without a copy: %q", out)
		case tt.want != "" && (i < 0 || out[i:] != tt.want):
			t.Errorf("got %q, want a last line %q", out, tt.want)
		}
	}
}
