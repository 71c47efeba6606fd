package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/lab"
)

// userJob returns a lab.UserJob writing the user as written to queue.
func userJob(queue string) lab.UserJob {
	return func(u lab.User) lab.OutboxMessage {
		b, _ := json.Marshal(u)
		return lab.OutboxMessage{Queue: queue, Payload: b}
	}
}

func sameUser(a, b lab.User) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Email == b.Email && a.Version == b.Version &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// testRenameUser: a rename bumps the version, dates the change, and commits its event with it,
// carrying the row as written.
func testRenameUser(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	if u.Version != 1 || !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Errorf("CreateUser = %+v, want version 1 and updated_at = created_at", u)
	}
	if got := must(s.GetUser(ctx, u.ID))(t); !sameUser(got, u) {
		t.Errorf("GetUser = %+v, want %+v", got, u)
	}
	r := must(s.RenameUser(ctx, u.ID, "Ada L.", userJob("users.changed")))(t)
	if r.ID != u.ID || r.Name != "Ada L." || r.Email != u.Email || r.Version != 2 || !r.CreatedAt.Equal(u.CreatedAt) || r.UpdatedAt.Before(u.UpdatedAt) {
		t.Errorf("RenameUser = %+v, want version 2 of %+v renamed", r, u)
	}
	if got := must(s.GetUser(ctx, u.ID))(t); !sameUser(got, r) {
		t.Errorf("GetUser after rename = %+v, want %+v", got, r)
	}
	if got := must(s.GetUsers(ctx, []int64{u.ID}))(t); len(got) != 1 || !sameUser(got[0], r) {
		t.Errorf("GetUsers after rename = %+v, want %+v", got, r)
	}
	pending := must(s.PendingOutbox(ctx, 10))(t)
	if len(pending) != 1 || pending[0].Queue != "users.changed" {
		t.Fatalf("PendingOutbox = %+v, want the rename's event", pending)
	}
	var ev lab.User
	if err := json.Unmarshal(pending[0].Payload, &ev); err != nil || !sameUser(ev, r) {
		t.Errorf("event payload = %s (%v), want the row as written %+v", pending[0].Payload, err, r)
	}
	if r3 := must(s.RenameUser(ctx, u.ID, "Ada King"))(t); r3.Version != 3 {
		t.Errorf("second rename: version %d, want 3", r3.Version)
	}
	_, err := s.RenameUser(ctx, 999999, "nobody", userJob("users.changed"))
	wantErr(t, "RenameUser(unknown)", err, lab.ErrNotFound)
	if l := must(s.PendingOutbox(ctx, 10))(t); len(l) != 1 {
		t.Errorf("PendingOutbox = %d messages after a failed rename, want still 1", len(l))
	}
	// In the monolith the event comes back to the table it left: a no-op.
	if applied := must(s.ApplyUser(ctx, r))(t); applied {
		t.Error("ApplyUser of an older version of the same row applied")
	}
}

// testApplyUser: a copy applies a change only if newer, whatever the order and number of
// deliveries.
func testApplyUser(t *testing.T, s lab.Store) {
	ctx := t.Context()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	version := func(v int64) lab.User {
		return lab.User{ID: 42, Name: fmt.Sprintf("name v%d", v), Email: "u42@example.com",
			CreatedAt: at, Version: v, UpdatedAt: at.Add(time.Duration(v) * time.Millisecond)}
	}
	check := func(what string, want lab.User) {
		t.Helper()
		if got := must(s.GetUser(ctx, 42))(t); !sameUser(got, want) {
			t.Errorf("%s: copy = %+v, want %+v", what, got, want)
		}
	}
	if !must(s.ApplyUser(ctx, version(1)))(t) {
		t.Error("ApplyUser of a missing user: not applied, want inserted")
	}
	check("insert", version(1))
	if !must(s.ApplyUser(ctx, version(3)))(t) {
		t.Error("ApplyUser of a newer version: not applied")
	}
	check("newer", version(3))
	if must(s.ApplyUser(ctx, version(2)))(t) {
		t.Error("ApplyUser of an older version (reordered) applied")
	}
	if must(s.ApplyUser(ctx, version(3)))(t) {
		t.Error("ApplyUser of the same version (redelivered) applied")
	}
	check("older and same", version(3))
	if _, err := s.ApplyUser(ctx, lab.User{ID: 42, Name: "x", Email: "x@example.com"}); err == nil {
		t.Error("ApplyUser of version 0: no error")
	}
	if _, err := s.ApplyUser(ctx, lab.User{Name: "x", Email: "x@example.com", Version: 1}); err == nil {
		t.Error("ApplyUser of id 0: no error")
	}

	// Versions 4 to 40 delivered concurrently, in random order, each twice: the copy ends at the
	// newest, and each version was applied at most once.
	var vs []int64
	for v := int64(4); v <= 40; v++ {
		vs = append(vs, v, v)
	}
	rand.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied = map[int64]int{}
	)
	for _, v := range vs {
		wg.Go(func() {
			ok, err := s.ApplyUser(ctx, version(v))
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				applied[v]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	check("concurrent, reordered and repeated", version(40))
	for v, n := range applied {
		if n > 1 {
			t.Errorf("version %d applied %d times", v, n)
		}
	}
	if applied[40] != 1 {
		t.Errorf("version 40 applied %d times, want once", applied[40])
	}
}
