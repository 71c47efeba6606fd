// Package cli is the lab's command line: the lab server, `worker` and `jobs`. It is the whole
// of the headroom-lab binary, which `headroom lab` runs, so that the toolkit's binary carries
// none of the lab's dependencies (databases, brokers, the OTel SDK): they would weigh on every
// `headroom load` run. It never imports the measurement packages.
package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/headroom/headroom/internal/cliexit"
)

// Run executes the lab's command line with args (without the program name) and returns the
// process exit code. SIGINT and SIGTERM stop a running lab or worker gracefully.
func Run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newLabCmd()
	addCompletions(root)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return cliexit.Execute(ctx, root, args, stderr, "headroom lab")
}
