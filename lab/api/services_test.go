package api_test

import (
	"net/http/httptest"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom/headroom/lab/api"
	"github.com/headroom/headroom/lab/remote"
	"github.com/headroom/headroom/lab/services"
)

// servicesMode runs every test of this package against the API as the services mode's gateway
// serves it (HEADROOM_TEST_LAB_MODE=services; .ci/run runs both modes): the store, payments and
// mailer are lab/services' Remote, calling the four services over HTTP on loopback. Every
// service serves from the test's one store, so what differs from the monolith is the wiring
// alone: the calls, their encoding, their errors and the trace context they carry.
var servicesMode = os.Getenv("HEADROOM_TEST_LAB_MODE") == "services"

// split replaces cfg's store, payments and mailer with calls to the four services, each an API
// with only its internal routes, started on loopback for the test.
func split(t *testing.T, cfg *api.Config) {
	t.Helper()
	b := services.Backend{Store: cfg.Store, Payments: cfg.Payments, Mailer: cfg.Mailer}
	if cfg.Outbox != nil {
		// The service that wrote the jobs kicks its relay; the gateway has none to kick.
		b.Kick, cfg.Outbox = cfg.Outbox.Kick, services.NoRelay{}
	}
	clients := map[services.Role]*remote.Client{}
	for _, role := range services.Roles {
		svc, err := api.New(api.Config{Store: cfg.Store, InternalOnly: true, TracerProvider: cfg.TracerProvider, Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		services.Register(svc, role, b)
		srv := httptest.NewServer(svc)
		t.Cleanup(srv.Close)
		c, err := remote.New(remote.Config{Peer: string(role), BaseURL: srv.URL, TracerProvider: cfg.TracerProvider})
		if err != nil {
			t.Fatal(err)
		}
		clients[role] = c
	}
	rm, err := services.NewRemote(clients)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = rm
	if cfg.Payments != nil {
		cfg.Payments = rm
	}
	if cfg.Mailer != nil {
		cfg.Mailer = rm
	}
}
