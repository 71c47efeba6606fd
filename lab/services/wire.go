package services

import "time"

// The internal routes, one per method of the module interfaces (lab/api's PostStore,
// SessionStore, ...). Reads are GETs and writes that may be repeated are PUTs or DELETEs, so
// lab/remote retries and hedges them; POSTs that create a row are sent once.
const (
	// posts
	routeGetUser     = "GET /users/{id}"
	routeGetUsers    = "GET /users"
	routeGetPost     = "GET /posts/{id}"
	routeListPosts   = "GET /posts"
	routeSearch      = "GET /search"
	routeFeed        = "GET /feed"
	routeComments    = "GET /posts/{id}/comments"
	routeCreateVideo = "POST /videos"
	routeGetVideo    = "GET /videos/{id}"
	routeFinishVideo = "PUT /videos/{id}/finish"
	// accounts
	routeDeleteUser   = "DELETE /users/{id}"
	routeRenameUser   = "PUT /users/{id}/name"
	routeNewDeletion  = "POST /deletions"
	routeGetDeletion  = "GET /deletions/{id}"
	routeCancelDelete = "DELETE /deletions/{id}"
	routePutSession   = "PUT /sessions/{id}"
	routeGetSession   = "GET /sessions/{id}"
	routeDelSession   = "DELETE /sessions/{id}"
	// payments
	routeNewOrder    = "POST /orders"
	routeSettleOrder = "PUT /orders/{id}/settlement"
	routePending     = "GET /orders/pending"
	routeCharge      = "POST /charges"
	// notifications
	routeNewInvite  = "POST /invites"
	routeInviteSent = "PUT /invites/{id}/sent"
	routeMail       = "POST /mail"
	// lists of one user's rows
	routeByAuthor    = "GET /authors/{id}/posts"
	routeUserOrders  = "GET /users/{id}/orders"
	routeUserInvites = "GET /users/{id}/invites"

	// every service
	routeReady = "GET /readyz"
)

// wireJob is a [lab.Job] on the wire: its queue and headers (see tasks.JobFor).
type wireJob struct {
	Queue   string            `json:"queue"`
	Headers map[string]string `json:"headers,omitempty"`
}

type (
	videoRequest struct {
		OwnerID   int64     `json:"owner_id"`
		Title     string    `json:"title"`
		SizeBytes int64     `json:"size_bytes"`
		Jobs      []wireJob `json:"jobs"`
	}
	finishRequest struct {
		Checksum string `json:"checksum"`
	}
	renameRequest struct {
		Name string    `json:"name"`
		Jobs []wireJob `json:"jobs"`
	}
	deletionRequest struct {
		UserID int64     `json:"user_id"`
		Jobs   []wireJob `json:"jobs"`
	}
	sessionRequest struct {
		UserID    int64     `json:"user_id"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	orderRequest struct {
		UserID      int64 `json:"user_id"`
		AmountCents int64 `json:"amount_cents"`
	}
	settleRequest struct {
		Status     string `json:"status"`
		PaymentRef string `json:"payment_ref"`
	}
	chargeRequest struct {
		OrderID     int64 `json:"order_id"`
		AmountCents int64 `json:"amount_cents"`
	}
	chargeAnswer struct {
		Ref string `json:"ref"`
	}
	inviteRequest struct {
		InviterID int64     `json:"inviter_id"`
		Email     string    `json:"email"`
		Token     string    `json:"token"`
		Jobs      []wireJob `json:"jobs"`
	}
	sentRequest struct {
		At time.Time `json:"at"`
	}
	mailRequest struct {
		To      string `json:"to"`
		Subject string `json:"subject"`
		Body    string `json:"body"`
	}
	// done is the answer of a write that returns nothing.
	done struct {
		OK bool `json:"ok"`
	}
)

// owner is the role that serves each route.
var owner = map[string]Role{
	routeGetUser: Posts, routeGetUsers: Posts, routeGetPost: Posts, routeListPosts: Posts,
	routeSearch: Posts, routeFeed: Posts, routeComments: Posts, routeCreateVideo: Posts,
	routeGetVideo: Posts, routeFinishVideo: Posts, routeByAuthor: Posts,
	routeDeleteUser: Accounts, routeRenameUser: Accounts, routeNewDeletion: Accounts, routeGetDeletion: Accounts,
	routeCancelDelete: Accounts, routePutSession: Accounts, routeGetSession: Accounts, routeDelSession: Accounts,
	routeNewOrder: Payments, routeSettleOrder: Payments, routePending: Payments, routeCharge: Payments, routeUserOrders: Payments,
	routeNewInvite: Notifications, routeInviteSent: Notifications, routeMail: Notifications, routeUserInvites: Notifications,
}
