//go:build wasip1

// Command thumbnail is the thumbnail function (functions.Thumbnail) as a module of lab/faas's
// wasm runtime; the same handler runs as a process in the lab binary. build.sh builds it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/headroom/headroom/lab/faas/functions"
	"github.com/headroom/headroom/lab/faas/guest"
)

func main() {
	if err := guest.Serve(context.Background(), functions.Thumbnail); err != nil {
		fmt.Fprintln(os.Stderr, "thumbnail:", err)
		os.Exit(1)
	}
}
