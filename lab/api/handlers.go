package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/tasks"
)

// fail answers err with its status: 4xx for the client's mistakes, 502 for a failing provider,
// 500 only for the lab's own faults.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if sf, ok := serviceFailure(err); ok {
		he, err = sf, sf
	}
	switch {
	case errors.As(err, &he):
		if he.cause != nil {
			a.cfg.Logger.InfoContext(r.Context(), he.msg, slog.String("path", r.URL.Path), slog.Any("error", he.cause))
		}
		writeError(w, he.code, "%s", he.msg)
	// The store's errors carry the driver's text (table names, constraint names, SQL): it goes to
	// the log, the client gets a clean message (handlers that know what is missing say so).
	case errors.Is(err, lab.ErrNotFound):
		a.cfg.Logger.InfoContext(r.Context(), "not found", slog.String("path", r.URL.Path), slog.Any("error", err))
		writeError(w, http.StatusNotFound, "not found")
	case errors.Is(err, lab.ErrConflict):
		a.cfg.Logger.InfoContext(r.Context(), "conflict", slog.String("path", r.URL.Path), slog.Any("error", err))
		writeError(w, http.StatusConflict, "conflict with an existing row")
	case errors.Is(err, ErrDeclined):
		writeError(w, http.StatusPaymentRequired, "%v", err)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		a.cfg.Logger.ErrorContext(r.Context(), "request failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// missing names what a [lab.ErrNotFound] from the store is about ("user 7"), so the 404 says it
// without the driver's text; other errors pass unchanged. The original error is kept for the log.
func missing(err error, format string, args ...any) error {
	if !errors.Is(err, lab.ErrNotFound) {
		return err
	}
	return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf(format, args...) + " not found", cause: err}
}

// upstream marks an error of an outside service: 502.
func upstream(what string, err error) error {
	if errors.Is(err, ErrDeclined) {
		return err
	}
	return &httpError{code: http.StatusBadGateway, msg: fmt.Sprintf("%s: %v", what, err)}
}

// PostView is a post with its author.
type PostView struct {
	lab.Post
	Author *lab.User `json:"author"`
}

// CommentView is a comment with its author.
type CommentView struct {
	lab.Comment
	Author *lab.User `json:"author"`
}

// authors loads the users with the given ids: one query per id under n_plus_one (the classic
// mistake: 1+N in total), one batched query otherwise.
func (a *API) authors(ctx context.Context, ids []int64) (map[int64]*lab.User, error) {
	out := make(map[int64]*lab.User, len(ids))
	if a.cfg.Switches.On(lab.NPlusOne) {
		for _, id := range ids {
			u, err := a.cfg.Store.GetUser(ctx, id)
			if errors.Is(err, lab.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out[id] = &u
		}
		return out, nil
	}
	uniq := make([]int64, 0, len(ids))
	for _, id := range ids {
		if _, seen := out[id]; !seen {
			out[id] = nil
			uniq = append(uniq, id)
		}
	}
	us, err := a.cfg.Store.GetUsers(ctx, uniq)
	if err != nil {
		return nil, err
	}
	for i := range us {
		out[us[i].ID] = &us[i]
	}
	return out, nil
}

func (a *API) listPosts(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 20, 1, 100)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx := r.Context()
	posts, err := a.cfg.Store.ListPosts(ctx, int(limit))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ids := make([]int64, len(posts))
	for i, p := range posts {
		ids[i] = p.AuthorID
	}
	users, err := a.authors(ctx, ids)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	views := make([]PostView, len(posts))
	for i, p := range posts {
		views[i] = PostView{Post: p, Author: users[p.AuthorID]}
	}
	writeJSON(w, http.StatusOK, map[string]any{"posts": views, "count": len(views)})
}

func (a *API) getPost(w http.ResponseWriter, r *http.Request) {
	id, err := idValue("post id", r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	limit, err := intParam(r, "comments", 50, 0, 500)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx := r.Context()
	post, err := a.cfg.Store.GetPost(ctx, id)
	err = missing(err, "post %d", id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var comments []lab.Comment
	if limit > 0 {
		if comments, err = a.cfg.Store.ListComments(ctx, id, int(limit)); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	ids := []int64{post.AuthorID}
	for _, c := range comments {
		ids = append(ids, c.AuthorID)
	}
	users, err := a.authors(ctx, ids)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	cv := make([]CommentView, len(comments))
	for i, c := range comments {
		cv[i] = CommentView{Comment: c, Author: users[c.AuthorID]}
	}
	writeJSON(w, http.StatusOK, map[string]any{"post": PostView{Post: post, Author: users[post.AuthorID]}, "comments": cv})
}

func (a *API) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" || len(q) > 100 || !utf8.ValidString(q) {
		a.fail(w, r, badRequest("query parameter q: want 1 to 100 bytes of UTF-8 text"))
		return
	}
	limit, err := intParam(r, "limit", 20, 1, 100)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	mode, name := lab.SearchIndexed, "index"
	if a.cfg.Switches.On(lab.NoIndex) {
		mode, name = lab.SearchScan, "scan"
	}
	posts, err := a.cfg.Store.SearchPosts(r.Context(), q, int(limit), mode)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"query": q, "mode": name, "posts": posts, "count": len(posts)})
}

func (a *API) feed(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 20, 1, 100)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx := r.Context()
	load := func(ctx context.Context) ([]byte, error) {
		items, err := a.cfg.Store.Feed(ctx, int(limit))
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"items": items, "count": len(items)})
	}
	if a.cfg.Switches.On(lab.NoCache) {
		body, err := load(ctx)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeRaw(w, "bypass", body)
		return
	}
	key := "feed:" + strconv.FormatInt(limit, 10)
	if a.cfg.Cache != nil {
		body, ok, err := a.cfg.Cache.Get(ctx, key)
		switch {
		case err != nil:
			// A broken cache must not break the feed: fall through to the database.
			a.metrics.cache.WithLabelValues("error").Inc()
			a.cfg.Logger.WarnContext(ctx, "cache get failed", slog.Any("error", err))
		case ok:
			a.metrics.cache.WithLabelValues("hit").Inc()
			writeRaw(w, "hit", body)
			return
		}
	}
	a.metrics.cache.WithLabelValues("miss").Inc()
	// Concurrent misses share one load (no stampede). The load runs detached from any single
	// caller's cancellation so one client hanging up does not fail the others.
	v, err, shared := a.sf.Do(key, func() (any, error) {
		lctx := context.WithoutCancel(ctx)
		body, err := load(lctx)
		if err != nil {
			return nil, err
		}
		if a.cfg.Cache != nil {
			if err := a.cfg.Cache.Set(lctx, key, body); err != nil {
				a.cfg.Logger.WarnContext(ctx, "cache set failed", slog.Any("error", err))
			}
		}
		return body, nil
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	state := "miss"
	if shared {
		state = "shared"
	}
	writeRaw(w, state, v.([]byte))
}

func writeRaw(w http.ResponseWriter, cache string, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Cache", cache)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

type checkoutRequest struct {
	UserID      int64 `json:"user_id"`
	AmountCents int64 `json:"amount_cents"`
}

func (a *API) checkout(w http.ResponseWriter, r *http.Request) {
	var req checkoutRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.UserID <= 0 || req.AmountCents <= 0 || req.AmountCents > 100_000_000 {
		a.fail(w, r, badRequest("want user_id > 0 and amount_cents from 1 to 100000000"))
		return
	}
	if a.cfg.Payments == nil {
		writeError(w, http.StatusServiceUnavailable, "no payment provider configured")
		return
	}
	ctx := r.Context()
	order, err := a.cfg.Store.CreateOrder(ctx, req.UserID, req.AmountCents)
	err = missing(err, "user %d", req.UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	order, perr, err := a.pay(ctx, order)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if perr != nil {
		a.fail(w, r, upstream("payment provider", perr))
		return
	}
	writeJSON(w, http.StatusCreated, order)
}

// pay charges a pending order and records the outcome, paid or failed, even if ctx is cancelled
// meanwhile (a client that went away). perr is the provider's refusal or failure; err a failure to
// record the outcome, which leaves the order pending for [API.RecoverOrders].
func (a *API) pay(ctx context.Context, order lab.Order) (_ lab.Order, perr, err error) {
	ref, perr := a.cfg.Payments.Charge(ctx, order.ID, order.AmountCents)
	status := lab.OrderPaid
	if perr != nil {
		status = lab.OrderFailed
	}
	order, err = a.cfg.Store.SettleOrder(context.WithoutCancel(ctx), order.ID, status, ref)
	return order, perr, err
}

// RecoverOrders settles the orders a crash left pending (their row written, the payment's result
// not): each created before createdBefore is charged again and marked paid or failed. The
// provider sees the same order id again (the payment client sends it as the Idempotency-Key),
// so a provider that already charged it answers with that charge instead of charging twice.
// It returns how many orders it settled; ctx bounds the whole pass.
func (a *API) RecoverOrders(ctx context.Context, createdBefore time.Time) (int, error) {
	if a.cfg.Payments == nil {
		return 0, errors.New("recover orders: no payment provider configured")
	}
	n := 0
	for {
		orders, err := a.cfg.Store.PendingOrders(ctx, createdBefore, 100)
		if err != nil || len(orders) == 0 {
			return n, err
		}
		for _, o := range orders {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			// As in a checkout, a charge that ctx cuts short settles the order as failed.
			o, _, err := a.pay(ctx, o)
			if err != nil {
				return n, err
			}
			n++
			a.cfg.Logger.InfoContext(ctx, "order recovered", slog.Int64("order_id", o.ID), slog.String("status", o.Status))
		}
	}
}

type inviteRequest struct {
	InviterID int64  `json:"inviter_id"`
	Email     string `json:"email"`
}

func (a *API) invite(w http.ResponseWriter, r *http.Request) {
	var req inviteRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	addr, err := mail.ParseAddress(req.Email)
	if req.InviterID <= 0 || err != nil || len(req.Email) > 254 || addr.Name != "" {
		a.fail(w, r, badRequest("want inviter_id > 0 and a plain email address, got %q", req.Email))
		return
	}
	if a.cfg.Mailer == nil {
		writeError(w, http.StatusServiceUnavailable, "no mail provider configured")
		return
	}
	ctx := r.Context()
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	if a.async(lab.SyncEmail) {
		// The invite and its email job commit together; the email goes out from a worker.
		inv, err := a.cfg.Store.CreateInvite(ctx, req.InviterID, addr.Address, token, tasks.EmailJob(a.jobHeaders(ctx)))
		err = missing(err, "inviter user %d", req.InviterID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.cfg.Outbox.Kick()
		writeJSON(w, http.StatusAccepted, inv)
		return
	}
	inv, err := a.cfg.Store.CreateInvite(ctx, req.InviterID, addr.Address, token)
	err = missing(err, "inviter user %d", req.InviterID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// sync_email: the email is sent inside the request.
	subject, body := tasks.InviteEmail(inv)
	if err := a.cfg.Mailer.Send(ctx, addr.Address, subject, body); err != nil {
		a.fail(w, r, upstream("mail provider", err))
		return
	}
	now := time.Now().UTC()
	if err := a.cfg.Store.MarkInviteSent(ctx, inv.ID, now); err != nil {
		a.fail(w, r, err)
		return
	}
	inv.SentAt = &now
	writeJSON(w, http.StatusCreated, inv)
}

// async reports whether the endpoint that sw makes synchronous runs through the queue now.
func (a *API) async(sw lab.Antipattern) bool {
	return a.cfg.Outbox != nil && !a.cfg.Switches.On(sw)
}

// jobHeaders carries the request's trace context into the jobs it enqueues.
func (a *API) jobHeaders(ctx context.Context) map[string]string {
	c := propagation.MapCarrier{}
	a.cfg.Propagator.Inject(ctx, c)
	return c
}

type videoRequest struct {
	OwnerID   int64  `json:"owner_id"`
	Title     string `json:"title"`
	SizeBytes int64  `json:"size_bytes"`
}

func (a *API) uploadVideo(w http.ResponseWriter, r *http.Request) {
	var req videoRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	req.Title = strings.TrimSpace(req.Title)
	if req.OwnerID <= 0 || req.Title == "" || len(req.Title) > 200 || req.SizeBytes <= 0 || req.SizeBytes > a.cfg.MaxVideoBytes {
		a.fail(w, r, badRequest("want owner_id > 0, a title of 1 to 200 bytes and size_bytes from 1 to %d", a.cfg.MaxVideoBytes))
		return
	}
	ctx := r.Context()
	if a.async(lab.SyncVideo) {
		// The video and its three stage jobs commit together; the pipeline runs on workers.
		v, err := a.cfg.Store.CreateVideo(ctx, req.OwnerID, req.Title, req.SizeBytes, tasks.VideoJobs(a.jobHeaders(ctx))...)
		err = missing(err, "owner user %d", req.OwnerID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.cfg.Outbox.Kick()
		w.Header().Set("Location", fmt.Sprintf("/api/videos/%d", v.ID))
		writeJSON(w, http.StatusAccepted, v)
		return
	}
	v, err := a.cfg.Store.CreateVideo(ctx, req.OwnerID, req.Title, req.SizeBytes)
	err = missing(err, "owner user %d", req.OwnerID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// sync_video: the processing runs inside the request.
	sum, err := a.process(ctx, v.ID, req.SizeBytes)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if v, err = a.cfg.Store.FinishVideo(ctx, v.ID, sum); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

// process stands in for transcoding: real CPU work proportional to the video's size (hashing a
// deterministic byte stream VideoPasses times), checking for cancellation between chunks.
func (a *API) process(ctx context.Context, id, size int64) (string, error) {
	ctx, span := a.tracer.Start(ctx, "process video")
	defer span.End()
	span.SetAttributes(attribute.Int64("video.id", id), attribute.Int64("video.size_bytes", size),
		attribute.Int("video.passes", a.cfg.VideoPasses))
	chunk := make([]byte, 64<<10)
	var sum [sha256.Size]byte
	for pass := range a.cfg.VideoPasses {
		h := sha256.New()
		h.Write(sum[:])
		for off := int64(0); off < size; off += int64(len(chunk)) {
			if err := ctx.Err(); err != nil {
				return "", err
			}
			n := min(int64(len(chunk)), size-off)
			for i := int64(0); i+8 <= n; i += 8 {
				binary.LittleEndian.PutUint64(chunk[i:], uint64(off+i)*0x9e3779b97f4a7c15^uint64(pass))
			}
			h.Write(chunk[:n])
		}
		copy(sum[:], h.Sum(nil))
	}
	return hex.EncodeToString(sum[:]), nil
}

func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request) {
	id, err := idValue("query parameter user_id", r.URL.Query().Get("user_id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if a.async(lab.SyncDelete) {
		// A deletion record and its job commit together; workers delete in bounded chunks.
		del, err := a.cfg.Store.CreateDeletion(r.Context(), id, tasks.DeletionJob(a.jobHeaders(r.Context())))
		err = missing(err, "user %d", id)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.cfg.Outbox.Kick()
		w.Header().Set("Location", fmt.Sprintf("/api/account/deletions/%d", del.ID))
		writeJSON(w, http.StatusAccepted, del)
		return
	}
	// sync_delete: everything is deleted in one transaction inside the request.
	d, err := a.cfg.Store.DeleteUser(r.Context(), id)
	err = missing(err, "user %d", id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted_user": id, "posts": d.Posts, "comments": d.Comments})
}

func (a *API) getVideo(w http.ResponseWriter, r *http.Request) {
	id, err := idValue("video id", r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.cfg.Store.GetVideo(r.Context(), id)
	err = missing(err, "video %d", id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) getDeletion(w http.ResponseWriter, r *http.Request) {
	id, err := idValue("deletion id", r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.cfg.Store.GetDeletion(r.Context(), id)
	err = missing(err, "deletion %d", id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// cancelDeletion records the cancellation; the running job sees it and stops after its chunk.
func (a *API) cancelDeletion(w http.ResponseWriter, r *http.Request) {
	id, err := idValue("deletion id", r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.cfg.Store.CancelDeletion(r.Context(), id)
	err = missing(err, "deletion %d", id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// antipatternsView is the body of GET and PUT /admin/antipatterns.
type antipatternsView struct {
	Enabled  []lab.Antipattern          `json:"enabled"`
	Switches map[lab.Antipattern]bool   `json:"switches"`
	Valid    map[lab.Antipattern]string `json:"valid"`
}

func (a *API) antipatternsView() antipatternsView {
	v := antipatternsView{Switches: a.cfg.Switches.Snapshot(), Valid: map[lab.Antipattern]string{}, Enabled: []lab.Antipattern{}}
	v.Enabled = append(v.Enabled, a.cfg.Switches.Current().List()...)
	for _, ap := range lab.Antipatterns() {
		v.Valid[ap] = ap.Describe()
	}
	return v
}

func (a *API) getAntipatterns(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.antipatternsView())
}

// putAntipatterns accepts either {"antipatterns": "all"|"none"|"a,b"} to replace the whole set, or
// {"n_plus_one": true, "no_cache": false} to flip individual switches.
func (a *API) putAntipatterns(w http.ResponseWriter, r *http.Request) {
	var raw map[string]json.RawMessage
	if err := a.decode(w, r, &raw); err != nil {
		a.fail(w, r, err)
		return
	}
	if spec, ok := raw["antipatterns"]; ok {
		var s string
		if err := json.Unmarshal(spec, &s); err != nil || len(raw) != 1 {
			a.fail(w, r, badRequest(`want {"antipatterns": "all|none|name,name"} alone`))
			return
		}
		set, err := lab.ParseAntipatterns(s)
		if err != nil {
			a.fail(w, r, badRequest("%v", err))
			return
		}
		a.cfg.Switches.Set(set)
	} else {
		// Only the named switches change, in one atomic step: a read-modify-write here would
		// lose the change of a concurrent PUT that flips another switch.
		changes := make(map[lab.Antipattern]bool, len(raw))
		for name, v := range raw {
			ap := lab.Antipattern(name)
			if !ap.Valid() {
				a.fail(w, r, badRequest("unknown antipattern %q: valid are %s", name, lab.ValidAntipatternNames()))
				return
			}
			var on bool
			if err := json.Unmarshal(v, &on); err != nil {
				a.fail(w, r, badRequest("antipattern %q: want true or false", name))
				return
			}
			changes[ap] = on
		}
		a.cfg.Switches.Update(changes)
	}
	a.cfg.Logger.InfoContext(r.Context(), "antipatterns changed", slog.String("enabled", a.cfg.Switches.Current().String()))
	writeJSON(w, http.StatusOK, a.antipatternsView())
}
