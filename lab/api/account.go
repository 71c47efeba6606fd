package api

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/headroom/headroom/lab/tasks"
)

// maxNameChars bounds a user's name, in characters.
const maxNameChars = 100

type renameRequest struct {
	UserID int64  `json:"user_id"`
	Name   string `json:"name"`
}

// renameAccount answers PATCH /api/account: a user changes their name. The change's event
// (tasks.QueueUsersChanged, the row as written) commits with the row through the outbox, in the
// monolith too: there it comes back to the same table as a no-op, and one code path serves both
// modes. In services mode it feeds the posts service's copy of the users, so a read of a post
// right after the rename can still show the old author name: the replication lag.
func (a *API) renameAccount(w http.ResponseWriter, r *http.Request) {
	var req renameRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	name := strings.TrimSpace(req.Name)
	if n := utf8.RuneCountInString(name); req.UserID <= 0 || n < 1 || n > maxNameChars {
		a.fail(w, r, badRequest("want user_id > 0 and a name of 1 to %d characters", maxNameChars))
		return
	}
	ctx := r.Context()
	u, err := a.cfg.Store.RenameUser(ctx, req.UserID, name, tasks.UserChangedJob(a.jobHeaders(ctx)))
	if err = missing(err, "user %d", req.UserID); err != nil {
		a.fail(w, r, err)
		return
	}
	if a.cfg.Outbox != nil {
		a.cfg.Outbox.Kick()
	}
	writeJSON(w, http.StatusOK, u)
}
