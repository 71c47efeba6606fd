package services

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/remote"
	"github.com/headroom/headroom/lab/store/sqlite"
)

// TestEveryRouteHasOneOwnerAndAHandler: a route without an owner would be served by no
// service, one without a handler would be a 404 at its owner.
func TestEveryRouteHasOneOwnerAndAHandler(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "lab.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	handlers := Backend{Store: st}.handlers()
	for route, role := range owner {
		if _, err := ParseRole(string(role)); err != nil {
			t.Errorf("%s: %v", route, err)
		}
		if handlers[route] == nil {
			t.Errorf("%s (owned by %s) has no handler", route, role)
		}
	}
	for route := range handlers {
		if _, ok := owner[route]; !ok {
			t.Errorf("%s has a handler but no owner", route)
		}
	}
}

// TestTranslate: the owner's 404, 409 and 402 become the store's and provider's own errors; a
// failed call becomes a ServiceError with the status the gateway answers.
func TestTranslate(t *testing.T) {
	for _, c := range []struct {
		err    error
		is     error
		code   int
		reason string
	}{
		{&remote.StatusError{Code: 404, Body: "user 7 not found"}, lab.ErrNotFound, 0, ""},
		{&remote.StatusError{Code: 409}, lab.ErrConflict, 0, ""},
		{&remote.StatusError{Code: 402}, api.ErrDeclined, 0, ""},
		{&remote.StatusError{Code: 500}, nil, http.StatusBadGateway, "answered 500"},
		{fmt.Errorf("%w: attempt", remote.ErrTimeout), nil, http.StatusGatewayTimeout, "timeout"},
		{remote.ErrCircuitOpen, nil, http.StatusServiceUnavailable, "circuit open"},
		{remote.ErrBudgetExhausted, nil, http.StatusServiceUnavailable, "budget exhausted"},
		{context.Canceled, nil, http.StatusBadGateway, "transport"},
	} {
		got := translate(Posts, c.err)
		if c.is != nil {
			if !errors.Is(got, c.is) {
				t.Errorf("translate(%v) = %v, want it to wrap %v", c.err, got, c.is)
			}
			continue
		}
		var se *api.ServiceError
		if !errors.As(got, &se) || se.Code != c.code || se.Reason != c.reason || se.Service != "posts" {
			t.Errorf("translate(%v) = %#v, want a ServiceError %d %q", c.err, got, c.code, c.reason)
		}
	}
	if translate(Posts, nil) != nil {
		t.Error("translate(nil) != nil")
	}
}
