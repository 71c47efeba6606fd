// Command headroom is a measure-first performance toolkit: honest load, capacity, traces, diagnosis.
//
// This package only wires: flags become Config structs of the library packages, signals become
// context cancellation, and errors become the documented exit codes. Nothing imports it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes are a contract with users' scripts (see docs/ARCHITECTURE.md).
const (
	exitOK        = 0 // success
	exitCheck     = 1 // an SLO or check failed
	exitUsage     = 2 // bad usage or input
	exitRunFailed = 3 // the run itself failed
)

// exitError carries the exit code an error should end the process with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports bad usage or input: exit code 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// runFailed reports that a run could not be carried out: exit code 3.
func runFailed(err error) error { return &exitError{code: exitRunFailed, err: err} }

// checkFailed reports a failed SLO or check: exit code 1. The details were already printed.
func checkFailed(err error) error { return &exitError{code: exitCheck, err: err} }

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "headroom:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// Errors that cobra raises itself (unknown flag or command, bad flag value) are usage errors.
	return exitUsage
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "headroom",
		Short: "Measure-first performance toolkit: honest load, capacity, traces and the bottleneck",
		Long: `headroom generates honest load (no coordinated omission), finds the capacity knee and the
headroom to keep, and says which component is the bottleneck, with evidence.

Exit codes: 0 success; 1 an SLO or check failed; 2 bad usage or input; 3 the run itself failed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%w", err) })
	root.AddCommand(
		newVersionCmd(),
		newLoadCmd(),
		newMergeCmd(),
		newReportCmd(),
		newLabCmd(),
		newDoctorCmd(),
		newSweepCmd(),
		newDiagnoseCmd(),
		newProfileCmd(),
		newCompareCmd(),
		newCollectCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the headroom version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "headroom %s\n", version)
			return err
		},
	}
}
