package services

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/remote"
)

// Remote is the gateway's side of the split: it implements the API's store, payments and mailer
// with calls to the services that own them, one [remote.Client] per service (deadlines, retries,
// breaker, bulkhead). It is safe for concurrent use.
type Remote struct {
	clients map[Role]*remote.Client
}

var (
	_ api.Store    = (*Remote)(nil)
	_ api.Payments = (*Remote)(nil)
	_ api.Mailer   = (*Remote)(nil)
)

// NewRemote returns the Remote over clients, which must hold one client for every role.
func NewRemote(clients map[Role]*remote.Client) (*Remote, error) {
	for _, r := range Roles {
		if clients[r] == nil {
			return nil, fmt.Errorf("services: no client for the %s service", r)
		}
	}
	return &Remote{clients: clients}, nil
}

// call makes route's call to its owner with path (route's pattern filled in) and body, and
// decodes the answer into a T.
func call[T any](ctx context.Context, rm *Remote, route, path string, body any) (T, error) {
	var out T
	method, tmpl, _ := strings.Cut(route, " ")
	role := owner[route]
	err := rm.clients[role].Do(ctx, method, tmpl, path, body, &out)
	return out, translate(role, err)
}

// translate turns a call's error into what the API answers: the owner's 404, 409 and 402 are the
// store's and the provider's own errors, anything else is a [api.ServiceError].
func translate(role Role, err error) error {
	if err == nil {
		return nil
	}
	var se *remote.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s service: %s", lab.ErrNotFound, role, se.Body)
		case http.StatusConflict:
			return fmt.Errorf("%w: %s service: %s", lab.ErrConflict, role, se.Body)
		case http.StatusPaymentRequired:
			return fmt.Errorf("%w: %s service: %s", api.ErrDeclined, role, se.Body)
		}
	}
	code := http.StatusBadGateway
	switch {
	case errors.Is(err, remote.ErrTimeout):
		code = http.StatusGatewayTimeout
	case errors.Is(err, remote.ErrCircuitOpen), errors.Is(err, remote.ErrBulkheadFull), errors.Is(err, remote.ErrBudgetExhausted),
		remote.ErrorType(err) == "connection_refused":
		code = http.StatusServiceUnavailable
	}
	reason := strings.ReplaceAll(remote.ErrorType(err), "_", " ")
	if _, isCode := strconv.Atoi(reason); isCode == nil {
		reason = "answered " + reason
	}
	return &api.ServiceError{Service: string(role), Code: code, Reason: reason, Err: err}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// onWire is jobs as the owner rebuilds them: a job's queue and headers do not depend on the row id.
func onWire(jobs []lab.Job) []wireJob {
	out := make([]wireJob, len(jobs))
	for i, j := range jobs {
		m := j(0)
		out[i] = wireJob{Queue: m.Queue, Headers: m.Headers}
	}
	return out
}

// GetUser reads an author from the posts service's copy of the users.
func (rm *Remote) GetUser(ctx context.Context, uid int64) (lab.User, error) {
	return call[lab.User](ctx, rm, routeGetUser, "/users/"+id(uid), nil)
}

// GetUsers reads authors from the posts service's copy of the users, in one call.
func (rm *Remote) GetUsers(ctx context.Context, ids []int64) ([]lab.User, error) {
	s := make([]string, len(ids))
	for i, n := range ids {
		s[i] = id(n)
	}
	return call[[]lab.User](ctx, rm, routeGetUsers, "/users?ids="+strings.Join(s, ","), nil)
}

// GetPost calls the posts service.
func (rm *Remote) GetPost(ctx context.Context, pid int64) (lab.Post, error) {
	return call[lab.Post](ctx, rm, routeGetPost, "/posts/"+id(pid), nil)
}

// ListPosts calls the posts service.
func (rm *Remote) ListPosts(ctx context.Context, limit int) ([]lab.Post, error) {
	return call[[]lab.Post](ctx, rm, routeListPosts, "/posts?limit="+strconv.Itoa(limit), nil)
}

// SearchPosts calls the posts service.
func (rm *Remote) SearchPosts(ctx context.Context, q string, limit int, mode lab.SearchMode) ([]lab.Post, error) {
	v := url.Values{"q": {q}, "limit": {strconv.Itoa(limit)}, "mode": {strconv.Itoa(int(mode))}}
	return call[[]lab.Post](ctx, rm, routeSearch, "/search?"+v.Encode(), nil)
}

// Feed calls the posts service.
func (rm *Remote) Feed(ctx context.Context, limit int) ([]lab.FeedItem, error) {
	return call[[]lab.FeedItem](ctx, rm, routeFeed, "/feed?limit="+strconv.Itoa(limit), nil)
}

// ListComments calls the posts service.
func (rm *Remote) ListComments(ctx context.Context, postID int64, limit int) ([]lab.Comment, error) {
	return call[[]lab.Comment](ctx, rm, routeComments, "/posts/"+id(postID)+"/comments?limit="+strconv.Itoa(limit), nil)
}

// PostsByAuthor calls the posts service.
func (rm *Remote) PostsByAuthor(ctx context.Context, authorID int64, limit int) ([]lab.Post, error) {
	return call[[]lab.Post](ctx, rm, routeByAuthor, "/authors/"+id(authorID)+"/posts?limit="+strconv.Itoa(limit), nil)
}

// OrdersByUser calls the payments service.
func (rm *Remote) OrdersByUser(ctx context.Context, userID int64, limit int) ([]lab.Order, error) {
	return call[[]lab.Order](ctx, rm, routeUserOrders, "/users/"+id(userID)+"/orders?limit="+strconv.Itoa(limit), nil)
}

// InvitesByInviter calls the notifications service.
func (rm *Remote) InvitesByInviter(ctx context.Context, inviterID int64, limit int) ([]lab.Invite, error) {
	return call[[]lab.Invite](ctx, rm, routeUserInvites, "/users/"+id(inviterID)+"/invites?limit="+strconv.Itoa(limit), nil)
}

// CreateVideo calls the posts service, which writes the video and its jobs.
func (rm *Remote) CreateVideo(ctx context.Context, ownerID int64, title string, sizeBytes int64, jobs ...lab.Job) (lab.Video, error) {
	return call[lab.Video](ctx, rm, routeCreateVideo, "/videos", videoRequest{OwnerID: ownerID, Title: title, SizeBytes: sizeBytes, Jobs: onWire(jobs)})
}

// GetVideo calls the posts service.
func (rm *Remote) GetVideo(ctx context.Context, vid int64) (lab.Video, error) {
	return call[lab.Video](ctx, rm, routeGetVideo, "/videos/"+id(vid), nil)
}

// FinishVideo calls the posts service.
func (rm *Remote) FinishVideo(ctx context.Context, vid int64, checksum string) (lab.Video, error) {
	return call[lab.Video](ctx, rm, routeFinishVideo, "/videos/"+id(vid)+"/finish", finishRequest{Checksum: checksum})
}

// DeleteUser calls the accounts service.
func (rm *Remote) DeleteUser(ctx context.Context, uid int64) (lab.Deleted, error) {
	return call[lab.Deleted](ctx, rm, routeDeleteUser, "/users/"+id(uid), nil)
}

// RenameUser calls the accounts service, which owns the users: it writes the change and its
// event, from which the posts service's copy follows.
func (rm *Remote) RenameUser(ctx context.Context, uid int64, name string, jobs ...lab.UserJob) (lab.User, error) {
	wire := make([]wireJob, len(jobs))
	for i, j := range jobs {
		m := j(lab.User{}) // a job's queue and headers do not depend on the row
		wire[i] = wireJob{Queue: m.Queue, Headers: m.Headers}
	}
	return call[lab.User](ctx, rm, routeRenameUser, "/users/"+id(uid)+"/name", renameRequest{Name: name, Jobs: wire})
}

// CreateDeletion calls the accounts service, which writes the deletion and its job.
func (rm *Remote) CreateDeletion(ctx context.Context, userID int64, jobs ...lab.Job) (lab.Deletion, error) {
	return call[lab.Deletion](ctx, rm, routeNewDeletion, "/deletions", deletionRequest{UserID: userID, Jobs: onWire(jobs)})
}

// GetDeletion calls the accounts service.
func (rm *Remote) GetDeletion(ctx context.Context, did int64) (lab.Deletion, error) {
	return call[lab.Deletion](ctx, rm, routeGetDeletion, "/deletions/"+id(did), nil)
}

// CancelDeletion calls the accounts service.
func (rm *Remote) CancelDeletion(ctx context.Context, did int64) (lab.Deletion, error) {
	return call[lab.Deletion](ctx, rm, routeCancelDelete, "/deletions/"+id(did), nil)
}

// CreateSession calls the accounts service (a PUT: the caller chose the id, so it may be retried).
func (rm *Remote) CreateSession(ctx context.Context, sid string, userID int64, expiresAt time.Time) (lab.Session, error) {
	return call[lab.Session](ctx, rm, routePutSession, "/sessions/"+url.PathEscape(sid), sessionRequest{UserID: userID, ExpiresAt: expiresAt})
}

// GetSession calls the accounts service.
func (rm *Remote) GetSession(ctx context.Context, sid string) (lab.Session, error) {
	return call[lab.Session](ctx, rm, routeGetSession, "/sessions/"+url.PathEscape(sid), nil)
}

// RevokeSession calls the accounts service.
func (rm *Remote) RevokeSession(ctx context.Context, sid string) (lab.Session, error) {
	return call[lab.Session](ctx, rm, routeDelSession, "/sessions/"+url.PathEscape(sid), nil)
}

// CreateOrder calls the payments service.
func (rm *Remote) CreateOrder(ctx context.Context, userID, amountCents int64) (lab.Order, error) {
	return call[lab.Order](ctx, rm, routeNewOrder, "/orders", orderRequest{UserID: userID, AmountCents: amountCents})
}

// SettleOrder calls the payments service.
func (rm *Remote) SettleOrder(ctx context.Context, oid int64, status, paymentRef string) (lab.Order, error) {
	return call[lab.Order](ctx, rm, routeSettleOrder, "/orders/"+id(oid)+"/settlement", settleRequest{Status: status, PaymentRef: paymentRef})
}

// PendingOrders calls the payments service.
func (rm *Remote) PendingOrders(ctx context.Context, createdBefore time.Time, limit int) ([]lab.Order, error) {
	v := url.Values{"before": {createdBefore.Format(time.RFC3339Nano)}, "limit": {strconv.Itoa(limit)}}
	return call[[]lab.Order](ctx, rm, routePending, "/orders/pending?"+v.Encode(), nil)
}

// Charge asks the payments service to charge an order. The order id is the idempotency key (the
// provider's too), so the call is retried safely.
func (rm *Remote) Charge(ctx context.Context, orderID, amountCents int64) (string, error) {
	ctx = remote.WithIdempotencyKey(ctx, "order-"+id(orderID))
	a, err := call[chargeAnswer](ctx, rm, routeCharge, "/charges", chargeRequest{OrderID: orderID, AmountCents: amountCents})
	return a.Ref, err
}

// CreateInvite calls the notifications service, which writes the invite and its job.
func (rm *Remote) CreateInvite(ctx context.Context, inviterID int64, email, token string, jobs ...lab.Job) (lab.Invite, error) {
	return call[lab.Invite](ctx, rm, routeNewInvite, "/invites", inviteRequest{InviterID: inviterID, Email: email, Token: token, Jobs: onWire(jobs)})
}

// MarkInviteSent calls the notifications service.
func (rm *Remote) MarkInviteSent(ctx context.Context, iid int64, at time.Time) error {
	_, err := call[done](ctx, rm, routeInviteSent, "/invites/"+id(iid)+"/sent", sentRequest{At: at})
	return err
}

// Send asks the notifications service to send one email.
func (rm *Remote) Send(ctx context.Context, to, subject, body string) error {
	_, err := call[done](ctx, rm, routeMail, "/mail", mailRequest{To: to, Subject: subject, Body: body})
	return err
}

// Ping checks that every service is ready.
func (rm *Remote) Ping(ctx context.Context) error {
	for _, r := range Roles {
		method, tmpl, _ := strings.Cut(routeReady, " ")
		if err := rm.clients[r].Do(ctx, method, tmpl, "/readyz", nil, nil); err != nil {
			return translate(r, err)
		}
	}
	return nil
}

// PoolStats is zero: the gateway has no database; each service reports its own pool.
func (rm *Remote) PoolStats() lab.PoolStats { return lab.PoolStats{} }

// NoRelay is the gateway's [api.Outbox]: the jobs of a write are in the owning service's outbox,
// and that service kicks its own relay, so a gateway's kick has nothing to do.
type NoRelay struct{}

// Kick does nothing.
func (NoRelay) Kick() {}
