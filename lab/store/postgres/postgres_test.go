package postgres_test

import (
	"testing"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/store/postgres"
	"github.com/headroom/headroom/lab/store/postgres/pgtest"
	"github.com/headroom/headroom/lab/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	pgtest.URL(t)
	storetest.Exercise(t, func(t *testing.T) lab.Store { return pgtest.Open(t, nil) })
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	if _, err := postgres.Open(t.Context(), postgres.Config{}); err == nil {
		t.Error("Open with empty URL: no error")
	}
}
