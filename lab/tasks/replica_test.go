package tasks_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/worker"
	"github.com/headroom/headroom/lab/store/sqlite"
	"github.com/headroom/headroom/lab/tasks"
)

// TestReplicaAppliesChangesInOrder: the owner's renames reach another database's copy through
// the outbox and the broker; a redelivered older change is skipped, a malformed one
// dead-lettered, and only applied changes have a lag.
func TestReplicaAppliesChangesInOrder(t *testing.T) {
	t.Parallel()
	r := newRig(t) // the owner's database, its relay and the broker
	ctx := t.Context()
	replica, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "copy.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = replica.Close() })
	w, err := worker.New(worker.Config{Engine: r.eng})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rep, err := tasks.RegisterReplica(w, tasks.ReplicaConfig{Store: replica, Registerer: reg, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop(context.Background()) })

	u, err := r.store.CreateUser(ctx, "Ada", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var v2 lab.User
	for i, name := range []string{"Ada L.", "Ada Lovelace", "Ada King"} {
		ru, err := r.store.RenameUser(ctx, u.ID, name, tasks.UserChangedJob(nil))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			v2 = ru
		}
	}
	r.relay.Kick()
	waitCopy := func(what string, ok func(lab.User, tasks.Lag) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := replica.GetUser(ctx, u.ID)
			if err == nil && ok(c, rep.Lag()) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: copy %+v (%v), lag %+v", what, c, err, rep.Lag())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitCopy("three renames", func(c lab.User, l tasks.Lag) bool {
		return c.Name == "Ada King" && c.Version == 4 && l.Applied+l.Skipped == 3
	})

	// An older change delivered late (a redelivery, or reordered): skipped, the copy stays newer.
	b, _ := json.Marshal(v2)
	if err := r.eng.Publish(ctx, jobs.Message{ID: "late-v2", Queue: tasks.QueueUsersChanged, Payload: b, EnqueuedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	waitCopy("the late change", func(c lab.User, l tasks.Lag) bool { return l.Applied+l.Skipped == 4 })
	if c, _ := replica.GetUser(ctx, u.ID); c.Name != "Ada King" || c.Version != 4 {
		t.Errorf("copy after a late older change = %+v, want version 4 kept", c)
	}
	l := rep.Lag()
	if l.Applied < 1 || l.Skipped < 1 || l.Window != int(l.Applied) || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 {
		t.Errorf("Lag = %+v, want applied and skipped changes and ordered percentiles over the applied ones", l)
	}
	if n := testutil.CollectAndCount(reg, "headroom_replication_lag_seconds"); n != 1 {
		t.Errorf("%d lag series, want 1", n)
	}
	if c := changes(t, reg); c["applied"] != float64(l.Applied) || c["skipped"] != float64(l.Skipped) {
		t.Errorf("headroom_replication_changes_total = %v, want Lag's %d applied and %d skipped", c, l.Applied, l.Skipped)
	}

	// A malformed change cannot be applied by retrying: dead-lettered at once.
	if err := r.eng.Publish(ctx, jobs.Message{ID: "bad", Queue: tasks.QueueUsersChanged, Payload: []byte(`{"id":1}`), EnqueuedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		dl, err := r.eng.DeadLetters(ctx, tasks.QueueUsersChanged, 10)
		if err == nil && len(dl) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letters = %v (%v), want the malformed change", dl, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// changes returns headroom_replication_changes_total by outcome, gathered from reg.
func changes(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "headroom_replication_changes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "outcome" {
					out[lp.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
