package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/headroom/headroom/lab"
)

// TestUserSummary: a user's page lists their newest posts, orders and invites, the same with
// serial_calls as without; an unknown or malformed user id is 404 or 400.
func TestUserSummary(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	if _, err := e.store.CreateOrder(ctx, 3, 700); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateInvite(ctx, 3, "f@example.com", "tok-summary"); err != nil {
		t.Fatal(err)
	}
	var bodies [2]string
	for i, serial := range []bool{false, true} {
		e.sw.Set(lab.AntipatternSet{lab.SerialCalls: serial})
		code, body, _ := e.do(t, "GET", "/api/users/3/summary", "")
		if code != http.StatusOK {
			t.Fatalf("serial %v: %d %s", serial, code, body)
		}
		var s struct {
			User    lab.User     `json:"user"`
			Posts   []lab.Post   `json:"posts"`
			Orders  []lab.Order  `json:"orders"`
			Invites []lab.Invite `json:"invites"`
		}
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		if s.User.ID != 3 || len(s.Posts) != 3 || len(s.Orders) != 1 || s.Orders[0].AmountCents != 700 || len(s.Invites) != 1 {
			t.Errorf("serial %v: summary %s", serial, body)
		}
		for _, p := range s.Posts {
			if p.AuthorID != 3 {
				t.Errorf("serial %v: post %d of author %d in user 3's summary", serial, p.ID, p.AuthorID)
			}
		}
		bodies[i] = string(body)
	}
	if bodies[0] != bodies[1] {
		t.Errorf("serial_calls changed the answer:\n%s\n%s", bodies[0], bodies[1])
	}
	for path, want := range map[string]int{"/api/users/999999/summary": http.StatusNotFound, "/api/users/x/summary": http.StatusBadRequest} {
		if code, body, _ := e.do(t, "GET", path, ""); code != want {
			t.Errorf("GET %s = %d %s, want %d", path, code, body, want)
		}
	}
}
