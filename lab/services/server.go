package services

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/tasks"
)

// Backend is what a service serves its internal routes from.
type Backend struct {
	// Store is the service's own database.
	Store api.Store
	// Payments charges orders (the payments service).
	Payments api.Payments
	// Mailer sends mail (the notifications service).
	Mailer api.Mailer
	// Kick, when set, tells the service's outbox relay that a write committed jobs.
	Kick func()
}

// Register adds role's internal routes to a, the service's API (built with InternalOnly).
func Register(a *api.API, role Role, b Backend) {
	for pattern, h := range b.handlers() {
		if owner[pattern] == role {
			a.HandleInternal(pattern, h)
		}
	}
}

// handlers maps every internal route to its handler over b.
func (b Backend) handlers() map[string]api.InternalHandler {
	s := b.Store
	return map[string]api.InternalHandler{
		routeGetUser: byID(func(r *http.Request, id int64) (any, error) { return s.GetUser(r.Context(), id) }),
		routeGetUsers: func(r *http.Request, _ func(any) error) (any, error) {
			ids, err := idList(r.URL.Query().Get("ids"))
			if err != nil {
				return nil, err
			}
			return s.GetUsers(r.Context(), ids)
		},
		routeGetPost: byID(func(r *http.Request, id int64) (any, error) { return s.GetPost(r.Context(), id) }),
		routeListPosts: func(r *http.Request, _ func(any) error) (any, error) {
			limit, err := intQuery(r, "limit")
			if err != nil {
				return nil, err
			}
			return s.ListPosts(r.Context(), limit)
		},
		routeSearch: func(r *http.Request, _ func(any) error) (any, error) {
			limit, err := intQuery(r, "limit")
			if err != nil {
				return nil, err
			}
			mode, err := intQuery(r, "mode")
			if err != nil {
				return nil, err
			}
			return s.SearchPosts(r.Context(), r.URL.Query().Get("q"), limit, lab.SearchMode(mode))
		},
		routeFeed: func(r *http.Request, _ func(any) error) (any, error) {
			limit, err := intQuery(r, "limit")
			if err != nil {
				return nil, err
			}
			return s.Feed(r.Context(), limit)
		},
		routeComments: byID(func(r *http.Request, id int64) (any, error) {
			limit, err := intQuery(r, "limit")
			if err != nil {
				return nil, err
			}
			return s.ListComments(r.Context(), id, limit)
		}),
		routeByAuthor: byIDLimit(s.PostsByAuthor),
		routeCreateVideo: withBody(func(r *http.Request, req videoRequest) (any, error) {
			jobs, err := b.jobs(req.Jobs)
			if err != nil {
				return nil, err
			}
			v, err := s.CreateVideo(r.Context(), req.OwnerID, req.Title, req.SizeBytes, jobs...)
			return v, b.kicked(err)
		}),
		routeGetVideo: byID(func(r *http.Request, id int64) (any, error) { return s.GetVideo(r.Context(), id) }),
		routeFinishVideo: byIDWithBody(func(r *http.Request, id int64, req finishRequest) (any, error) {
			return s.FinishVideo(r.Context(), id, req.Checksum)
		}),

		routeDeleteUser: byID(func(r *http.Request, id int64) (any, error) { return s.DeleteUser(r.Context(), id) }),
		routeRenameUser: byIDWithBody(func(r *http.Request, id int64, req renameRequest) (any, error) {
			jobs := make([]lab.UserJob, 0, len(req.Jobs))
			for _, j := range req.Jobs {
				job, err := tasks.UserJobFor(j.Queue, j.Headers)
				if err != nil {
					return nil, api.BadRequest("%v", err)
				}
				jobs = append(jobs, job)
			}
			u, err := s.RenameUser(r.Context(), id, req.Name, jobs...)
			return u, b.kicked(err)
		}),
		routeNewDeletion: withBody(func(r *http.Request, req deletionRequest) (any, error) {
			jobs, err := b.jobs(req.Jobs)
			if err != nil {
				return nil, err
			}
			v, err := s.CreateDeletion(r.Context(), req.UserID, jobs...)
			return v, b.kicked(err)
		}),
		routeGetDeletion:  byID(func(r *http.Request, id int64) (any, error) { return s.GetDeletion(r.Context(), id) }),
		routeCancelDelete: byID(func(r *http.Request, id int64) (any, error) { return s.CancelDeletion(r.Context(), id) }),
		routePutSession: func(r *http.Request, decode func(any) error) (any, error) {
			var req sessionRequest
			if err := decode(&req); err != nil {
				return nil, err
			}
			return s.CreateSession(r.Context(), r.PathValue("id"), req.UserID, req.ExpiresAt)
		},
		routeGetSession: func(r *http.Request, _ func(any) error) (any, error) {
			return s.GetSession(r.Context(), r.PathValue("id"))
		},
		routeDelSession: func(r *http.Request, _ func(any) error) (any, error) {
			return s.RevokeSession(r.Context(), r.PathValue("id"))
		},

		routeNewOrder: withBody(func(r *http.Request, req orderRequest) (any, error) {
			return s.CreateOrder(r.Context(), req.UserID, req.AmountCents)
		}),
		routeSettleOrder: byIDWithBody(func(r *http.Request, id int64, req settleRequest) (any, error) {
			return s.SettleOrder(r.Context(), id, req.Status, req.PaymentRef)
		}),
		routePending: func(r *http.Request, _ func(any) error) (any, error) {
			limit, err := intQuery(r, "limit")
			if err != nil {
				return nil, err
			}
			before, err := time.Parse(time.RFC3339Nano, r.URL.Query().Get("before"))
			if err != nil {
				return nil, api.BadRequest("query parameter before=%q: want an RFC 3339 time", r.URL.Query().Get("before"))
			}
			return s.PendingOrders(r.Context(), before, limit)
		},
		routeUserOrders: byIDLimit(s.OrdersByUser),
		routeCharge: withBody(func(r *http.Request, req chargeRequest) (any, error) {
			if b.Payments == nil {
				return nil, errors.New("no payment provider configured")
			}
			ref, err := b.Payments.Charge(r.Context(), req.OrderID, req.AmountCents)
			return chargeAnswer{Ref: ref}, err
		}),

		routeNewInvite: withBody(func(r *http.Request, req inviteRequest) (any, error) {
			jobs, err := b.jobs(req.Jobs)
			if err != nil {
				return nil, err
			}
			v, err := s.CreateInvite(r.Context(), req.InviterID, req.Email, req.Token, jobs...)
			return v, b.kicked(err)
		}),
		routeInviteSent: byIDWithBody(func(r *http.Request, id int64, req sentRequest) (any, error) {
			return done{OK: true}, s.MarkInviteSent(r.Context(), id, req.At)
		}),
		routeUserInvites: byIDLimit(s.InvitesByInviter),
		routeMail: withBody(func(r *http.Request, req mailRequest) (any, error) {
			if b.Mailer == nil {
				return nil, errors.New("no mail server configured")
			}
			return done{OK: true}, b.Mailer.Send(r.Context(), req.To, req.Subject, req.Body)
		}),
	}
}

// jobs rebuilds the jobs of a write from the wire.
func (b Backend) jobs(in []wireJob) ([]lab.Job, error) {
	out := make([]lab.Job, 0, len(in))
	for _, j := range in {
		job, err := tasks.JobFor(j.Queue, j.Headers)
		if err != nil {
			return nil, api.BadRequest("%v", err)
		}
		out = append(out, job)
	}
	return out, nil
}

// kicked tells the relay that a write with jobs committed (err nil), and returns err.
func (b Backend) kicked(err error) error {
	if err == nil && b.Kick != nil {
		b.Kick()
	}
	return err
}

func byID(f func(r *http.Request, id int64) (any, error)) api.InternalHandler {
	return func(r *http.Request, _ func(any) error) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		return f(r, id)
	}
}

// byIDLimit serves a list read of one row's (the path's id) with the limit query parameter.
func byIDLimit[T any](read func(ctx context.Context, id int64, limit int) ([]T, error)) api.InternalHandler {
	return byID(func(r *http.Request, id int64) (any, error) {
		limit, err := intQuery(r, "limit")
		if err != nil {
			return nil, err
		}
		return read(r.Context(), id, limit)
	})
}

func withBody[T any](f func(r *http.Request, req T) (any, error)) api.InternalHandler {
	return func(r *http.Request, decode func(any) error) (any, error) {
		var req T
		if err := decode(&req); err != nil {
			return nil, err
		}
		return f(r, req)
	}
}

func byIDWithBody[T any](f func(r *http.Request, id int64, req T) (any, error)) api.InternalHandler {
	return func(r *http.Request, decode func(any) error) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		var req T
		if err := decode(&req); err != nil {
			return nil, err
		}
		return f(r, id, req)
	}
}

func pathID(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, api.BadRequest("id %q: want a positive integer", s)
	}
	return id, nil
}

// intQuery parses a required integer query parameter; the gateway has already checked its range.
func intQuery(r *http.Request, name string) (int, error) {
	s := r.URL.Query().Get(name)
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, api.BadRequest("query parameter %s=%q: want an integer", name, s)
	}
	return n, nil
}

// idList parses "1,2,3"; "" is no id.
func idList(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	ids := make([]int64, len(parts))
	for i, p := range parts {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, api.BadRequest("query parameter ids: %q is not an integer", p)
		}
		ids[i] = id
	}
	return ids, nil
}
