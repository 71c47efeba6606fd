package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/headroom/headroom/lab"
)

// NewStore returns a fresh, empty, migrated store for one test, closed by the test's cleanup.
type NewStore func(t *testing.T) lab.Store

// Exercise runs the conformance suite against stores made by newStore. Every subtest gets its own
// store and runs in parallel.
func Exercise(t *testing.T, newStore NewStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s lab.Store)
	}{
		{"Users", testUsers},
		{"RenameUser", testRenameUser},
		{"ApplyUser", testApplyUser},
		{"Posts", testPosts},
		{"Comments", testComments},
		{"InsertBatchAndCounts", testInsertBatch},
		{"Search", testSearch},
		{"Feed", testFeed},
		{"Invites", testInvites},
		{"Videos", testVideos},
		{"Orders", testOrders},
		{"ByUser", testByUser},
		{"DeleteUser", testDeleteUser},
		{"Outbox", testOutbox},
		{"OutboxRollsBackWithRow", testOutboxRollback},
		{"JobCounts", testJobCounts},
		{"VideoStages", testVideoStages},
		{"Deletions", testDeletions},
		{"DeletionCancel", testDeletionCancel},
		{"Sessions", testSessions},
		{"ConcurrentWrites", testConcurrentWrites},
		{"PingAndPoolStats", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// must turns a (value, error) result into the value, failing the test on error: must(f())(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", what, err, target)
	}
}

func testUsers(t *testing.T, s lab.Store) {
	ctx := t.Context()
	a := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	b := must(s.CreateUser(ctx, "Bob", "bob@example.com"))(t)
	if a.ID == 0 || b.ID == a.ID {
		t.Fatalf("ids %d, %d: want distinct non-zero", a.ID, b.ID)
	}
	got := must(s.GetUser(ctx, a.ID))(t)
	if got.Name != "Ada" || got.Email != "ada@example.com" || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("GetUser = %+v, want %+v", got, a)
	}
	_, err := s.GetUser(ctx, 999999)
	wantErr(t, "GetUser(unknown)", err, lab.ErrNotFound)
	_, err = s.CreateUser(ctx, "Ada again", "ada@example.com")
	wantErr(t, "CreateUser(duplicate email)", err, lab.ErrConflict)

	us := must(s.GetUsers(ctx, []int64{b.ID, 999999, a.ID}))(t)
	if len(us) != 2 {
		t.Fatalf("GetUsers = %d users, want 2", len(us))
	}
	names := map[int64]string{}
	for _, u := range us {
		names[u.ID] = u.Name
	}
	if names[a.ID] != "Ada" || names[b.ID] != "Bob" {
		t.Errorf("GetUsers = %v", names)
	}
	if us := must(s.GetUsers(ctx, nil))(t); len(us) != 0 {
		t.Errorf("GetUsers(nil) = %v, want none", us)
	}
}

func testPosts(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	var ids []int64
	for i := range 5 {
		p := must(s.CreatePost(ctx, u.ID, fmt.Sprintf("title %d", i), "body"))(t)
		ids = append(ids, p.ID)
	}
	p := must(s.GetPost(ctx, ids[2]))(t)
	if p.Title != "title 2" || p.AuthorID != u.ID || p.Body != "body" {
		t.Errorf("GetPost = %+v", p)
	}
	_, err := s.GetPost(ctx, 999999)
	wantErr(t, "GetPost(unknown)", err, lab.ErrNotFound)
	_, err = s.CreatePost(ctx, 999999, "t", "b")
	wantErr(t, "CreatePost(unknown author)", err, lab.ErrNotFound)

	ps := must(s.ListPosts(ctx, 3))(t)
	if len(ps) != 3 {
		t.Fatalf("ListPosts(3) = %d posts", len(ps))
	}
	// Newest first; posts created in the same microsecond are ordered by id.
	for i, want := range []int64{ids[4], ids[3], ids[2]} {
		if ps[i].ID != want {
			t.Errorf("ListPosts[%d] = %d, want %d", i, ps[i].ID, want)
		}
	}
	if ps := must(s.ListPosts(ctx, 100))(t); len(ps) != 5 {
		t.Errorf("ListPosts(100) = %d posts, want 5", len(ps))
	}
}

func testComments(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	p := must(s.CreatePost(ctx, u.ID, "t", "b"))(t)
	c1 := must(s.CreateComment(ctx, p.ID, u.ID, "first"))(t)
	c2 := must(s.CreateComment(ctx, p.ID, u.ID, "second"))(t)
	cs := must(s.ListComments(ctx, p.ID, 10))(t)
	if len(cs) != 2 || cs[0].ID != c1.ID || cs[1].ID != c2.ID || cs[1].Body != "second" {
		t.Errorf("ListComments = %+v", cs)
	}
	if cs := must(s.ListComments(ctx, p.ID, 1))(t); len(cs) != 1 {
		t.Errorf("ListComments(limit 1) = %d", len(cs))
	}
	if cs := must(s.ListComments(ctx, 999999, 10))(t); len(cs) != 0 {
		t.Errorf("ListComments(unknown post) = %v, want none", cs)
	}
	_, err := s.CreateComment(ctx, 999999, u.ID, "x")
	wantErr(t, "CreateComment(unknown post)", err, lab.ErrNotFound)
}

func testInsertBatch(t *testing.T, s lab.Store) {
	ctx := t.Context()
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	b := lab.SeedBatch{
		Users: []lab.User{{ID: 1, Name: "u1", Email: "u1@x", CreatedAt: at}, {ID: 2, Name: "u2", Email: "u2@x", CreatedAt: at}},
		Posts: []lab.Post{{ID: 10, AuthorID: 1, Title: "p", Body: "b", CreatedAt: at}},
		Comments: []lab.Comment{
			{ID: 100, PostID: 10, AuthorID: 2, Body: "c", CreatedAt: at},
			{ID: 101, PostID: 10, AuthorID: 1, Body: "c", CreatedAt: at},
		},
	}
	if err := s.InsertBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	c := must(s.Counts(ctx))(t)
	if c != (lab.Counts{Users: 2, Posts: 1, Comments: 2}) {
		t.Errorf("Counts = %+v", c)
	}
	p := must(s.GetPost(ctx, 10))(t)
	if !p.CreatedAt.Equal(at) {
		t.Errorf("CreatedAt = %v, want %v (microsecond precision)", p.CreatedAt, at)
	}
	// Ids assigned after a batch must not collide with the batch's ids.
	u := must(s.CreateUser(ctx, "new", "new@x"))(t)
	if u.ID <= 2 {
		t.Errorf("CreateUser after batch: id %d, want > 2", u.ID)
	}
	np := must(s.CreatePost(ctx, u.ID, "t", "b"))(t)
	if np.ID <= 10 {
		t.Errorf("CreatePost after batch: id %d, want > 10", np.ID)
	}
	nc := must(s.CreateComment(ctx, np.ID, u.ID, "b"))(t)
	if nc.ID <= 101 {
		t.Errorf("CreateComment after batch: id %d, want > 101", nc.ID)
	}
	// A failing batch leaves nothing behind.
	bad := lab.SeedBatch{Users: []lab.User{{ID: 50, Name: "x", Email: "x@x", CreatedAt: at}},
		Posts: []lab.Post{{ID: 51, AuthorID: 4242, Title: "t", Body: "b", CreatedAt: at}}}
	if err := s.InsertBatch(ctx, bad); err == nil {
		t.Error("InsertBatch with an unknown author: no error")
	}
	if _, err := s.GetUser(ctx, 50); !errors.Is(err, lab.ErrNotFound) {
		t.Errorf("failed batch left user 50 behind: %v", err)
	}
}

func testSearch(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	p1 := must(s.CreatePost(ctx, u.ID, "gopher news", "all about the runtime"))(t)
	p2 := must(s.CreatePost(ctx, u.ID, "other", "a gopher appears in the body"))(t)
	must(s.CreatePost(ctx, u.ID, "unrelated", "100 percent nothing"))(t)
	for _, mode := range []lab.SearchMode{lab.SearchIndexed, lab.SearchScan} {
		ps := must(s.SearchPosts(ctx, "gopher", 10, mode))(t)
		if len(ps) != 2 || ps[0].ID != p2.ID || ps[1].ID != p1.ID {
			t.Errorf("mode %d: SearchPosts(gopher) = %+v, want posts %d, %d", mode, ps, p2.ID, p1.ID)
		}
		if ps := must(s.SearchPosts(ctx, "gopher", 1, mode))(t); len(ps) != 1 {
			t.Errorf("mode %d: limit 1 gave %d", mode, len(ps))
		}
		if ps := must(s.SearchPosts(ctx, "zebra", 10, mode))(t); len(ps) != 0 {
			t.Errorf("mode %d: SearchPosts(zebra) = %+v, want none", mode, ps)
		}
		// Query syntax and LIKE wildcards in the input are data, not syntax.
		for _, q := range []string{`%`, `_`, `"gopher" OR x`, `a'b`, `NEAR(`, `\`} {
			ps, err := s.SearchPosts(ctx, q, 10, mode)
			if err != nil {
				t.Errorf("mode %d: SearchPosts(%q): %v", mode, q, err)
			}
			if len(ps) == 3 {
				t.Errorf("mode %d: SearchPosts(%q) matched every post", mode, q)
			}
		}
	}
}

func testFeed(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	var ps []lab.Post
	for i := range 4 {
		ps = append(ps, must(s.CreatePost(ctx, u.ID, fmt.Sprintf("p%d", i), "b"))(t))
	}
	for i, n := range []int{1, 3, 0, 3} {
		for range n {
			must(s.CreateComment(ctx, ps[i].ID, u.ID, "c"))(t)
		}
	}
	feed := must(s.Feed(ctx, 3))(t)
	want := []struct{ id, n int64 }{{ps[3].ID, 3}, {ps[1].ID, 3}, {ps[0].ID, 1}}
	if len(feed) != 3 {
		t.Fatalf("Feed(3) = %d items", len(feed))
	}
	for i, w := range want {
		if feed[i].ID != w.id || feed[i].CommentCount != w.n {
			t.Errorf("Feed[%d] = post %d with %d comments, want post %d with %d", i, feed[i].ID, feed[i].CommentCount, w.id, w.n)
		}
	}
	if feed[0].Title != "p3" || feed[0].AuthorID != u.ID {
		t.Errorf("Feed[0] = %+v", feed[0])
	}
}

func testInvites(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	in := must(s.CreateInvite(ctx, u.ID, "friend@example.com", "tok1"))(t)
	if in.ID == 0 || in.SentAt != nil {
		t.Errorf("CreateInvite = %+v", in)
	}
	_, err := s.CreateInvite(ctx, u.ID, "other@example.com", "tok1")
	wantErr(t, "CreateInvite(duplicate token)", err, lab.ErrConflict)
	_, err = s.CreateInvite(ctx, 999999, "x@example.com", "tok2")
	wantErr(t, "CreateInvite(unknown inviter)", err, lab.ErrNotFound)
	if err := s.MarkInviteSent(ctx, in.ID, time.Now()); err != nil {
		t.Error(err)
	}
	wantErr(t, "MarkInviteSent(unknown)", s.MarkInviteSent(ctx, 999999, time.Now()), lab.ErrNotFound)
}

func testVideos(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	v := must(s.CreateVideo(ctx, u.ID, "cats", 1234))(t)
	if v.Status != lab.VideoProcessing || v.SizeBytes != 1234 {
		t.Errorf("CreateVideo = %+v", v)
	}
	done := must(s.FinishVideo(ctx, v.ID, "abc"))(t)
	if done.Status != lab.VideoReady || done.Checksum != "abc" || done.Title != "cats" || done.OwnerID != u.ID {
		t.Errorf("FinishVideo = %+v", done)
	}
	_, err := s.FinishVideo(ctx, 999999, "x")
	wantErr(t, "FinishVideo(unknown)", err, lab.ErrNotFound)
}

func testOrders(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	o := must(s.CreateOrder(ctx, u.ID, 4200))(t)
	if o.Status != lab.OrderPending || o.AmountCents != 4200 {
		t.Errorf("CreateOrder = %+v", o)
	}
	pending := must(s.CreateOrder(ctx, u.ID, 100))(t)
	if got := must(s.PendingOrders(ctx, time.Now().Add(time.Hour), 10))(t); len(got) != 2 || got[0].ID != o.ID ||
		got[1].ID != pending.ID || got[1].AmountCents != 100 || got[1].UserID != u.ID {
		t.Errorf("PendingOrders = %+v, want orders %d and %d, oldest first", got, o.ID, pending.ID)
	}
	if got := must(s.PendingOrders(ctx, o.CreatedAt, 10))(t); len(got) != 0 {
		t.Errorf("PendingOrders(before the first order) = %+v, want none", got)
	}
	if got := must(s.PendingOrders(ctx, time.Now().Add(time.Hour), 1))(t); len(got) != 1 {
		t.Errorf("PendingOrders(limit 1) = %d orders", len(got))
	}
	paid := must(s.SettleOrder(ctx, o.ID, lab.OrderPaid, "pay_1"))(t)
	if paid.Status != lab.OrderPaid || paid.PaymentRef != "pay_1" || paid.AmountCents != 4200 {
		t.Errorf("SettleOrder = %+v", paid)
	}
	must(s.SettleOrder(ctx, pending.ID, lab.OrderFailed, ""))(t)
	if got := must(s.PendingOrders(ctx, time.Now().Add(time.Hour), 10))(t); len(got) != 0 {
		t.Errorf("PendingOrders after settling both = %+v, want none", got)
	}
	_, err := s.SettleOrder(ctx, 999999, lab.OrderPaid, "x")
	wantErr(t, "SettleOrder(unknown)", err, lab.ErrNotFound)
	_, err = s.CreateOrder(ctx, 999999, 1)
	wantErr(t, "CreateOrder(unknown user)", err, lab.ErrNotFound)
}

func testDeleteUser(t *testing.T, s lab.Store) {
	ctx := t.Context()
	a := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	b := must(s.CreateUser(ctx, "Bob", "bob@example.com"))(t)
	pa := must(s.CreatePost(ctx, a.ID, "by ada", "b"))(t)
	pb := must(s.CreatePost(ctx, b.ID, "by bob", "b"))(t)
	must(s.CreateComment(ctx, pa.ID, b.ID, "bob on ada"))(t) // removed with ada's post
	must(s.CreateComment(ctx, pb.ID, a.ID, "ada on bob"))(t) // removed with ada
	keep := must(s.CreateComment(ctx, pb.ID, b.ID, "bob on bob"))(t)
	must(s.CreateInvite(ctx, a.ID, "f@example.com", "tok"))(t)
	must(s.CreateVideo(ctx, a.ID, "v", 1))(t)
	must(s.CreateOrder(ctx, a.ID, 1))(t)

	d := must(s.DeleteUser(ctx, a.ID))(t)
	if d != (lab.Deleted{Posts: 1, Comments: 2}) {
		t.Errorf("DeleteUser = %+v, want 1 post, 2 comments", d)
	}
	_, err := s.GetUser(ctx, a.ID)
	wantErr(t, "GetUser(deleted)", err, lab.ErrNotFound)
	_, err = s.GetPost(ctx, pa.ID)
	wantErr(t, "GetPost(deleted author's post)", err, lab.ErrNotFound)
	cs := must(s.ListComments(ctx, pb.ID, 10))(t)
	if len(cs) != 1 || cs[0].ID != keep.ID {
		t.Errorf("comments left on bob's post = %+v, want only %d", cs, keep.ID)
	}
	if ps := must(s.SearchPosts(ctx, "ada", 10, lab.SearchIndexed))(t); len(ps) != 0 {
		t.Errorf("search still finds the deleted post: %+v", ps)
	}
	_, err = s.DeleteUser(ctx, a.ID)
	wantErr(t, "DeleteUser(again)", err, lab.ErrNotFound)
}

func testConcurrentWrites(t *testing.T, s lab.Store) {
	ctx := t.Context()
	u := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	p := must(s.CreatePost(ctx, u.ID, "t", "b"))(t)
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := s.CreateComment(ctx, p.ID, u.ID, fmt.Sprint(i)); err != nil {
				errs <- err
			}
			if _, err := s.ListPosts(ctx, 5); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if cs := must(s.ListComments(ctx, p.ID, 100))(t); len(cs) != n {
		t.Errorf("%d comments, want %d", len(cs), n)
	}
}

func testPing(t *testing.T, s lab.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.PoolStats(); st.MaxOpen <= 0 || st.Open < 0 {
		t.Errorf("PoolStats = %+v", st)
	}
}
