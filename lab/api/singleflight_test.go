package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/api"
)

// gatedStore counts Feed calls and holds each one until gate closes. Other methods are not used.
type gatedStore struct {
	lab.Store
	gate  chan struct{}
	feeds atomic.Int64
}

func (s *gatedStore) Feed(ctx context.Context, limit int) ([]lab.FeedItem, error) {
	s.feeds.Add(1)
	<-s.gate
	return []lab.FeedItem{{Post: lab.Post{ID: 1}, CommentCount: 3}}, nil
}

func (s *gatedStore) PoolStats() lab.PoolStats { return lab.PoolStats{} }

// missCache never holds anything, so only singleflight can merge the loads.
type missCache struct{}

func (missCache) Get(context.Context, string) ([]byte, bool, error) { return nil, false, nil }
func (missCache) Set(context.Context, string, []byte) error         { return nil }

func TestFeedStampedeIsOneQuery(t *testing.T) {
	t.Parallel()
	const clients = 50
	for _, noCache := range []bool{false, true} {
		want := int64(1)
		if noCache {
			want = clients
		}
		synctest.Test(t, func(t *testing.T) {
			st := &gatedStore{gate: make(chan struct{})}
			a, err := api.New(api.Config{Store: st, Cache: missCache{}, Switches: lab.NewSwitches(lab.AntipatternSet{lab.NoCache: noCache})})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			codes := make(chan int, clients)
			for range clients {
				wg.Go(func() {
					rec := httptest.NewRecorder()
					a.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/feed", nil))
					codes <- rec.Code
				})
			}
			synctest.Wait() // every client is blocked: in the store or waiting on the shared load
			close(st.gate)
			wg.Wait()
			close(codes)
			for c := range codes {
				if c != http.StatusOK {
					t.Errorf("status %d", c)
				}
			}
			if got := st.feeds.Load(); got != want {
				t.Errorf("no_cache=%v: %d concurrent feed misses ran %d queries, want %d", noCache, clients, got, want)
			}
		})
	}
}
