package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/tasks"
)

// TestRenameAccount: PATCH /api/account renames the user, answers the row as written, and commits
// the change's event (the row, with the request's trace context) in the outbox with it; the
// posts show the new author name at once in the monolith (the same table).
func TestRenameAccount(t *testing.T) {
	t.Parallel()
	k := &kicks{}
	e := newEnv(t, nil, func(cfg *api.Config) { cfg.Outbox = k })
	code, body, tid := e.do(t, "PATCH", "/api/account", `{"user_id": 3, "name": "  Ada Lovelace "}`)
	var u lab.User
	if err := json.Unmarshal(body, &u); err != nil || code != http.StatusOK || u.ID != 3 || u.Name != "Ada Lovelace" || u.Version != 2 {
		t.Fatalf("PATCH /api/account = %d %s, want 200 with user 3 renamed, version 2", code, body)
	}
	if k.n.Load() != 1 {
		t.Errorf("relay kicked %d times, want 1", k.n.Load())
	}
	pending, err := e.store.PendingOutbox(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Queue != tasks.QueueUsersChanged || !strings.Contains(pending[0].Headers["traceparent"], tid) {
		t.Fatalf("outbox = %+v, want one %s event carrying trace %s", pending, tasks.QueueUsersChanged, tid)
	}
	var ev lab.User
	if err := json.Unmarshal(pending[0].Payload, &ev); err != nil || ev.Name != u.Name || ev.Version != u.Version || !ev.UpdatedAt.Equal(u.UpdatedAt) {
		t.Errorf("event = %s, want the row as written %+v", pending[0].Payload, u)
	}

	posts, err := e.store.ListPosts(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range posts {
		if p.AuthorID != 3 {
			continue
		}
		code, body, _ := e.do(t, "GET", fmt.Sprintf("/api/posts/%d", p.ID), "")
		if code != http.StatusOK || !strings.Contains(string(body), `"name":"Ada Lovelace"`) {
			t.Errorf("GET post %d of user 3 = %d %s, want the new author name", p.ID, code, body)
		}
		break
	}

	// Without a relay the event still commits (a relay on the same database publishes it later).
	e2 := newEnv(t, nil)
	if code, body, _ := e2.do(t, "PATCH", "/api/account", `{"user_id": 1, "name": "B"}`); code != http.StatusOK {
		t.Errorf("PATCH without a relay = %d %s", code, body)
	}
	if l, err := e2.store.PendingOutbox(t.Context(), 10); err != nil || len(l) != 1 {
		t.Errorf("outbox without a relay = %d messages (%v), want 1", len(l), err)
	}
}

func TestRenameAccountBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tt := range []struct {
		body    string
		want    int
		message string
	}{
		{`{"user_id": 1, "name": ""}`, 400, ""},
		{`{"user_id": 1, "name": "   "}`, 400, ""},
		{`{"user_id": 1, "name": "` + strings.Repeat("x", 101) + `"}`, 400, ""},
		{`{"user_id": 1, "name": "` + strings.Repeat("é", 100) + `"}`, 200, ""}, // characters, not bytes
		{`{"user_id": 0, "name": "x"}`, 400, ""},
		{`{"name": "x"}`, 400, ""},
		{`{"user_id": 1, "name": "x", "email": "x@example.com"}`, 400, ""},
		{`{"user_id": 99999999, "name": "x"}`, 404, "user 99999999 not found"},
	} {
		code, body, _ := e.do(t, "PATCH", "/api/account", tt.body)
		if code != tt.want {
			t.Errorf("PATCH /api/account %.40s = %d %s, want %d", tt.body, code, body, tt.want)
		}
		if tt.message != "" && !strings.Contains(string(body), `"error":"`+tt.message+`"`) {
			t.Errorf("PATCH /api/account %.40s: body %s, want error %q", tt.body, body, tt.message)
		}
	}
}
