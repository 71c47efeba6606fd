// Package cliexit holds what the headroom commands (headroom and headroom-lab) share about
// ending: the exit codes, a contract with users' scripts, and the error that carries one out
// of a cobra command. It imports nothing of headroom.
package cliexit

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes (see docs/ARCHITECTURE.md).
const (
	CodeOK        = 0 // success
	CodeCheck     = 1 // an SLO or check failed
	CodeUsage     = 2 // bad usage or input
	CodeRunFailed = 3 // the run itself failed
)

// Error carries the exit code an error should end the process with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usagef reports bad usage or input: exit code 2.
func Usagef(format string, args ...any) error {
	return &Error{Code: CodeUsage, Err: fmt.Errorf(format, args...)}
}

// RunFailed reports that a run could not be carried out: exit code 3.
func RunFailed(err error) error { return &Error{Code: CodeRunFailed, Err: err} }

// CheckFailed reports a failed SLO or check: exit code 1. The details were already printed.
func CheckFailed(err error) error { return &Error{Code: CodeCheck, Err: err} }

// Execute runs root with args and returns the process exit code; an error is printed to stderr
// as one line after prefix. Errors that cobra raises itself (unknown flag or command, bad flag
// value) are usage errors.
func Execute(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer, prefix string) int {
	root.SilenceUsage, root.SilenceErrors = true, true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Usagef("%w", err) })
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return CodeOK
	}
	fmt.Fprintln(stderr, prefix+":", err)
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return CodeUsage
}
