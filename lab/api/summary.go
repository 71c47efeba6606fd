package api

import (
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/headroom/headroom/lab"
)

// summaryLimit is how many of each part a summary shows.
const summaryLimit = 5

// summary is the body of GET /api/users/{id}/summary.
type summary struct {
	User    lab.User     `json:"user"`
	Posts   []lab.Post   `json:"posts"`
	Orders  []lab.Order  `json:"orders"`
	Invites []lab.Invite `json:"invites"`
}

// summary answers a user's page: the user, their newest posts, orders and invites. The three
// lists are independent reads (three services in the services mode), read concurrently, or one
// after another under serial_calls.
func (a *API) summary(w http.ResponseWriter, r *http.Request) {
	id, err := idValue("user id", r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx := r.Context()
	var out summary
	if out.User, err = a.cfg.Store.GetUser(ctx, id); err != nil {
		a.fail(w, r, missing(err, "user %d", id))
		return
	}
	reads := []func() error{
		func() (err error) { out.Posts, err = a.cfg.Store.PostsByAuthor(ctx, id, summaryLimit); return err },
		func() (err error) { out.Orders, err = a.cfg.Store.OrdersByUser(ctx, id, summaryLimit); return err },
		func() (err error) { out.Invites, err = a.cfg.Store.InvitesByInviter(ctx, id, summaryLimit); return err },
	}
	if a.cfg.Switches.On(lab.SerialCalls) {
		for _, read := range reads {
			if err = read(); err != nil {
				break
			}
		}
	} else {
		var g errgroup.Group
		for _, read := range reads {
			g.Go(read)
		}
		err = g.Wait()
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
