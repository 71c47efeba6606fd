//go:build wasip1

// Command module is the test function as a wasm runtime module: the tests build it with
// GOOS=wasip1 go build.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/headroom/headroom/lab/faas/guest"
	"github.com/headroom/headroom/lab/faas/internal/testfunction"
)

func main() {
	if err := guest.Serve(context.Background(), testfunction.Init); err != nil {
		fmt.Fprintln(os.Stderr, "test function:", err)
		os.Exit(1)
	}
}
