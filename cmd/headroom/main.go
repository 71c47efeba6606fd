// Command headroom is a measure-first performance toolkit: honest load, capacity, traces, diagnosis.
//
// This package only wires: flags become Config structs of the library packages, signals become
// context cancellation, and errors become the documented exit codes. Nothing imports it.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cliexit.Execute(ctx, newRootCmd(stdout, stderr), args, stderr, "headroom")
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "headroom",
		Short: "Measure-first performance toolkit: honest load, capacity, traces and the bottleneck",
		Long: `headroom generates honest load (no coordinated omission), finds the capacity knee and the
headroom to keep, and says which component is the bottleneck, with evidence.

Exit codes: 0 success; 1 an SLO or check failed; 2 bad usage or input; 3 the run itself failed.`,
	}
	// --version prints what `headroom version` prints.
	root.Version = versionLine()
	root.SetVersionTemplate("headroom {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newVersionCmd(),
		newLoadCmd(),
		newMergeCmd(),
		newReportCmd(),
		newLabCmd(),
		newDoctorCmd(),
		newSweepCmd(),
		newDiagnoseCmd(),
		newCollectCmd(),
		newProfileCmd(),
		newCompareCmd(),
		newCostCmd(),
		newExperimentsCmd(),
	)
	complete.Typed(root)
	return root
}
