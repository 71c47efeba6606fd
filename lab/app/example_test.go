package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/seed"
)

// ExampleStart starts the lab on a free loopback port with n_plus_one on, calls it, flips the
// switch at run time, and shuts it down.
func ExampleStart() {
	dir, _ := os.MkdirTemp("", "lab-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	a, err := app.Start(ctx, app.Config{
		Addr:         "127.0.0.1:0",
		DB:           "sqlite:" + filepath.Join(dir, "lab.db"),
		Antipatterns: lab.AntipatternSet{lab.NPlusOne: true},
		Seed:         seed.Config{Users: 10, PostsPerUser: 2},
		Log:          io.Discard,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = a.Shutdown(ctx) }()
	info := a.Info()
	fmt.Println(info.Antipatterns, info.Data.Users, info.Data.Posts)

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, info.URL+"/api/posts?limit=20", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// n_plus_one 10 20
	// 200 OK
}
