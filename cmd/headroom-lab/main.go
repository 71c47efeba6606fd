// Command headroom-lab is the lab, the reference backend headroom measures: `headroom lab ARGS`
// runs `headroom-lab ARGS`. It is a binary of its own so that the toolkit's binary stays lean
// (see lab/cli).
package main

import (
	"os"

	"github.com/headroom/headroom/lab/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
