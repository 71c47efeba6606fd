package storetest

import (
	"testing"
	"time"

	"github.com/headroom/headroom/lab"
)

// testByUser: a user's posts, orders and invites, newest first, bounded by the limit, and none
// of another user's.
func testByUser(t *testing.T, s lab.Store) {
	ctx := t.Context()
	ada := must(s.CreateUser(ctx, "Ada", "ada@example.com"))(t)
	bob := must(s.CreateUser(ctx, "Bob", "bob@example.com"))(t)
	var posts, orders, invites []int64
	for i := range 3 {
		posts = append(posts, must(s.CreatePost(ctx, ada.ID, "t", "b"))(t).ID)
		orders = append(orders, must(s.CreateOrder(ctx, ada.ID, int64(100+i)))(t).ID)
		invites = append(invites, must(s.CreateInvite(ctx, ada.ID, "f@example.com", "tok"+string(rune('a'+i))))(t).ID)
	}
	_ = must(s.CreatePost(ctx, bob.ID, "t", "b"))(t)
	_ = must(s.CreateOrder(ctx, bob.ID, 1))(t)
	_ = must(s.CreateInvite(ctx, bob.ID, "g@example.com", "tokz"))(t)
	must(struct{}{}, s.MarkInviteSent(ctx, invites[2], time.Now()))(t)

	ps := must(s.PostsByAuthor(ctx, ada.ID, 2))(t)
	if len(ps) != 2 || ps[0].ID != posts[2] || ps[1].ID != posts[1] {
		t.Errorf("PostsByAuthor(limit 2) = %+v, want posts %d then %d", ps, posts[2], posts[1])
	}
	os := must(s.OrdersByUser(ctx, ada.ID, 10))(t)
	if len(os) != 3 || os[0].ID != orders[2] || os[2].ID != orders[0] || os[0].AmountCents != 102 || os[0].UserID != ada.ID {
		t.Errorf("OrdersByUser = %+v, want orders %v newest first", os, orders)
	}
	is := must(s.InvitesByInviter(ctx, ada.ID, 10))(t)
	if len(is) != 3 || is[0].ID != invites[2] || is[0].SentAt == nil || is[1].SentAt != nil || is[2].Token != "toka" {
		t.Errorf("InvitesByInviter = %+v, want invites %v newest first, the newest sent", is, invites)
	}
	if got := must(s.OrdersByUser(ctx, 999999, 10))(t); got == nil || len(got) != 0 {
		t.Errorf("OrdersByUser(unknown user) = %#v, want an empty list", got)
	}
}
