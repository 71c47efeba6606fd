package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/labbin"
)

// newLabCmd hands `headroom lab ARGS` to the lab's own binary, headroom-lab: the lab's
// dependencies stay out of this binary (see lab/cli), and its flags and help are the lab's.
func newLabCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "lab [flags] | lab worker [flags] | lab jobs [flags]",
		Short: "Start the reference backend (the lab) with switchable bottlenecks; runs headroom-lab",
		Long: `lab runs headroom-lab, the lab's own binary, with the same arguments: the reference backend
with switchable bottlenecks, its job workers (lab worker) and its queues' state (lab jobs).
'headroom lab --help' shows the lab's flags.

headroom-lab is looked for in $HEADROOM_LAB, next to this executable, then on PATH;
'go build -o bin/ ./cmd/...' builds both binaries side by side.`,
		Example: `  headroom lab
  headroom lab --antipatterns n_plus_one,sync_logging --otlp http://127.0.0.1:4318
  headroom lab worker --queue nats://127.0.0.1:4222 --db sqlite:./lab.db --smtp 127.0.0.1:2525
  headroom lab jobs`,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			bin, err := labbin.Find()
			if err != nil {
				return cliexit.RunFailed(err)
			}
			return runLab(bin, args)
		},
	}
}

// runLab replaces this process with the lab binary: signals, the PID (kill -9 a worker) and
// the exit code are then the lab's own.
func runLab(bin string, args []string) error {
	err := syscall.Exec(bin, append([]string{bin}, args...), os.Environ())
	return cliexit.RunFailed(fmt.Errorf("run %s: %w", bin, err))
}
