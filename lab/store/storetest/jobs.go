package storetest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/headroom/headroom/lab"
)

// job returns a lab.Job writing a message to queue whose payload names the row id.
func job(queue string) lab.Job {
	return func(id int64) lab.OutboxMessage {
		return lab.OutboxMessage{Queue: queue, Payload: fmt.Appendf(nil, `{"id":%d}`, id),
			Headers: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	}
}

func testOutbox(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	if n, oldest, err := s.OutboxBacklog(ctx); err != nil || n != 0 || !oldest.IsZero() {
		t.Fatalf("OutboxBacklog of an empty outbox = %d, %v, %v", n, oldest, err)
	}
	in := must(s.CreateInvite(ctx, u.ID, "f@example.com", "tok", job("email")))(t)
	v := must(s.CreateVideo(ctx, u.ID, "v", 10, job("video.thumbnail"), job("video.encode")))(t)
	pending := must(s.PendingOutbox(ctx, 10))(t)
	if len(pending) != 3 {
		t.Fatalf("PendingOutbox = %d messages, want 3: %+v", len(pending), pending)
	}
	want := []struct {
		queue   string
		payload string
	}{{"email", fmt.Sprintf(`{"id":%d}`, in.ID)}, {"video.thumbnail", fmt.Sprintf(`{"id":%d}`, v.ID)}, {"video.encode", fmt.Sprintf(`{"id":%d}`, v.ID)}}
	for i, w := range want {
		m := pending[i]
		if m.Queue != w.queue || string(m.Payload) != w.payload || m.ID == 0 || m.CreatedAt.IsZero() || m.Headers["traceparent"] == "" {
			t.Errorf("PendingOutbox[%d] = %+v, want queue %s payload %s with headers", i, m, w.queue, w.payload)
		}
		if i > 0 && m.ID <= pending[i-1].ID {
			t.Errorf("PendingOutbox not oldest first: ids %d then %d", pending[i-1].ID, m.ID)
		}
	}
	if n, oldest, err := s.OutboxBacklog(ctx); err != nil || n != 3 || oldest.IsZero() {
		t.Errorf("OutboxBacklog = %d, %v, %v; want 3 and a time", n, oldest, err)
	}
	if l := must(s.PendingOutbox(ctx, 1))(t); len(l) != 1 || l[0].ID != pending[0].ID {
		t.Errorf("PendingOutbox(limit 1) = %+v", l)
	}
	if err := s.MarkOutboxSent(ctx, []int64{pending[0].ID, pending[1].ID, 999999}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkOutboxSent(ctx, []int64{pending[0].ID}); err != nil { // again: ignored
		t.Fatal(err)
	}
	if l := must(s.PendingOutbox(ctx, 10))(t); len(l) != 1 || l[0].ID != pending[2].ID {
		t.Errorf("PendingOutbox after marking two sent = %+v, want only %d", l, pending[2].ID)
	}
	if err := s.MarkOutboxSent(ctx, nil); err != nil {
		t.Error(err)
	}

	// Pruning removes sent rows older than the cut-off, at most limit, never unsent ones.
	if n := must(s.PruneOutbox(ctx, time.Now().Add(-time.Hour), 10))(t); n != 0 {
		t.Errorf("PruneOutbox(an hour ago) deleted %d rows sent just now", n)
	}
	if n := must(s.PruneOutbox(ctx, time.Now().Add(time.Minute), 1))(t); n != 1 {
		t.Errorf("PruneOutbox(limit 1) deleted %d, want 1", n)
	}
	if n := must(s.PruneOutbox(ctx, time.Now().Add(time.Minute), 10))(t); n != 1 {
		t.Errorf("PruneOutbox deleted %d, want the one sent row left", n)
	}
	if l := must(s.PendingOutbox(ctx, 10))(t); len(l) != 1 || l[0].ID != pending[2].ID {
		t.Errorf("PendingOutbox after pruning = %+v, want the unsent %d", l, pending[2].ID)
	}
}

// testJobCounts checks that job outcomes from several workers add up per queue.
func testJobCounts(t *testing.T, s lab.Store) {
	ctx := t.Context()
	if c := must(s.JobCounts(ctx))(t); len(c) != 0 {
		t.Errorf("JobCounts of a new database = %+v, want none", c)
	}
	add := []map[string]lab.JobCounts{
		{"email": {Done: 3, Failed: 1, Duplicates: 1}, "video.encode": {Done: 1}},
		{"email": {Done: 2, Failed: 4, Dead: 1}},
		{},
	}
	for _, a := range add {
		if err := s.AddJobCounts(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]lab.JobCounts{"email": {Done: 5, Failed: 5, Dead: 1, Duplicates: 1}, "video.encode": {Done: 1}}
	if got := must(s.JobCounts(ctx))(t); !maps.Equal(got, want) {
		t.Errorf("JobCounts = %+v, want %+v", got, want)
	}
}

// testOutboxRollback checks the outbox's point: a row that fails to commit leaves no job behind.
func testOutboxRollback(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	must(s.CreateInvite(ctx, u.ID, "f@example.com", "tok", job("email")))(t)
	_, err := s.CreateInvite(ctx, u.ID, "g@example.com", "tok", job("email")) // duplicate token
	wantErr(t, "CreateInvite(duplicate token)", err, lab.ErrConflict)
	_, err = s.CreateVideo(ctx, 999999, "v", 1, job("video.encode"))
	wantErr(t, "CreateVideo(unknown owner)", err, lab.ErrNotFound)
	if l := must(s.PendingOutbox(ctx, 10))(t); len(l) != 1 {
		t.Errorf("PendingOutbox = %+v, want only the committed invite's job", l)
	}
}

func testVideoStages(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	v := must(s.CreateVideo(ctx, u.ID, "cats", 1234))(t)
	got := must(s.GetVideo(ctx, v.ID))(t)
	if got.Title != "cats" || got.Status != lab.VideoProcessing || len(got.Stages) != 0 {
		t.Errorf("GetVideo = %+v", got)
	}
	if done := must(s.RecordVideoStage(ctx, v.ID, lab.StageEncode, "a"))(t); !slices.Equal(done, []string{lab.StageEncode}) {
		t.Errorf("RecordVideoStage = %v", done)
	}
	must(s.RecordVideoStage(ctx, v.ID, lab.StageThumbnail, "b"))(t)
	done := must(s.RecordVideoStage(ctx, v.ID, lab.StageEncode, "c"))(t) // ran twice: overwrites
	if !slices.Equal(done, []string{lab.StageEncode, lab.StageThumbnail}) {
		t.Errorf("RecordVideoStage(again) = %v", done)
	}
	got = must(s.GetVideo(ctx, v.ID))(t)
	if got.Stages[lab.StageEncode] != "c" || got.Stages[lab.StageThumbnail] != "b" || len(got.Stages) != 2 {
		t.Errorf("GetVideo stages = %v", got.Stages)
	}
	_, err := s.RecordVideoStage(ctx, 999999, lab.StageEncode, "x")
	wantErr(t, "RecordVideoStage(unknown video)", err, lab.ErrNotFound)
	_, err = s.GetVideo(ctx, 999999)
	wantErr(t, "GetVideo(unknown)", err, lab.ErrNotFound)
}

// account makes a user with posts, comments on them by others, comments of their own on another
// user's post, and one row in each small table; it returns the user, the other user's post, and
// the number of rows the account has.
func account(t *testing.T, s lab.Store, name string, posts, comments int) (lab.User, lab.Post, int64) {
	t.Helper()
	ctx := t.Context()
	u := must(s.CreateUser(ctx, name, name+"@example.com"))(t)
	o := must(s.CreateUser(ctx, name+"-other", name+"-other@example.com"))(t)
	op := must(s.CreatePost(ctx, o.ID, "other's", "b"))(t)
	rows := int64(1)
	for i := range posts {
		p := must(s.CreatePost(ctx, u.ID, fmt.Sprint("post ", i), "b"))(t)
		rows++
		for range comments {
			must(s.CreateComment(ctx, p.ID, o.ID, "on it"))(t)
			rows++
		}
	}
	must(s.CreateComment(ctx, op.ID, u.ID, "mine"))(t)
	must(s.CreateInvite(ctx, u.ID, "f@example.com", name+"-tok"))(t)
	must(s.CreateVideo(ctx, u.ID, "v", 1))(t)
	must(s.CreateOrder(ctx, u.ID, 1))(t)
	return u, op, rows + 4
}

func testDeletions(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u, op, rows := account(t, s, "ada", 3, 4)
	d := must(s.CreateDeletion(ctx, u.ID, job("account.delete")))(t)
	if d.ID == 0 || d.Status != lab.DeletionRunning || d.Total != rows || d.Deleted != 0 {
		t.Fatalf("CreateDeletion = %+v, want running with %d rows", d, rows)
	}
	if l := must(s.PendingOutbox(ctx, 10))(t); len(l) != 1 || l[0].Queue != "account.delete" {
		t.Errorf("outbox after CreateDeletion = %+v", l)
	}
	_, err := s.CreateDeletion(ctx, u.ID)
	wantErr(t, "CreateDeletion(already running)", err, lab.ErrConflict)
	_, err = s.CreateDeletion(ctx, 999999)
	wantErr(t, "CreateDeletion(unknown user)", err, lab.ErrNotFound)

	const limit = 5
	var chunks int64
	for d.Status == lab.DeletionRunning {
		prev := d.Deleted
		d = must(s.DeleteChunk(ctx, d.ID, limit))(t)
		chunks++
		if d.Deleted-prev > limit || d.Deleted < prev {
			t.Fatalf("chunk %d deleted %d rows, want 1 to %d", chunks, d.Deleted-prev, limit)
		}
		if got := must(s.GetDeletion(ctx, d.ID))(t); got.Deleted != d.Deleted || got.Chunks != chunks {
			t.Fatalf("GetDeletion = %+v, progress not persisted (want %d rows in %d chunks)", got, d.Deleted, chunks)
		}
		if chunks > rows {
			t.Fatalf("deletion does not end: %+v", d)
		}
	}
	if d.Status != lab.DeletionDone || d.Deleted != rows {
		t.Errorf("finished deletion = %+v, want done with %d rows", d, rows)
	}
	_, err = s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser(deleted)", err, lab.ErrNotFound)
	if cs := must(s.ListComments(ctx, op.ID, 10))(t); len(cs) != 0 {
		t.Errorf("the deleted user's comments remain: %+v", cs)
	}
	again := must(s.DeleteChunk(ctx, d.ID, limit))(t)
	if again != d {
		t.Errorf("DeleteChunk on a done deletion changed it: %+v -> %+v", d, again)
	}
	_, err = s.GetDeletion(ctx, 999999)
	wantErr(t, "GetDeletion(unknown)", err, lab.ErrNotFound)
}

func testDeletionCancel(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u, _, rows := account(t, s, "bob", 2, 3)
	d := must(s.CreateDeletion(ctx, u.ID))(t)
	d = must(s.DeleteChunk(ctx, d.ID, 2))(t)
	c := must(s.CancelDeletion(ctx, d.ID))(t)
	if c.Status != lab.DeletionCanceled || c.Deleted != 2 {
		t.Errorf("CancelDeletion = %+v, want canceled after 2 rows", c)
	}
	if after := must(s.DeleteChunk(ctx, d.ID, 2))(t); after.Deleted != 2 || after.Status != lab.DeletionCanceled {
		t.Errorf("DeleteChunk after cancel = %+v, want nothing more deleted", after)
	}
	if _, err := s.GetUser(ctx, u.ID); err != nil {
		t.Errorf("canceled deletion removed the user: %v", err)
	}
	// A new deletion of the same user may start and counts what is left.
	d2 := must(s.CreateDeletion(ctx, u.ID))(t)
	if d2.Total != rows-2 {
		t.Errorf("second deletion counts %d rows, want %d", d2.Total, rows-2)
	}
	_, err := s.CancelDeletion(ctx, 999999)
	wantErr(t, "CancelDeletion(unknown)", err, lab.ErrNotFound)
}
