// Package fielderr is the error a Config's validation returns for a bad field: it names the
// Config field, so that the library's message speaks its API and a command line can name its
// own flag instead (Rename), without taking the message apart. It imports nothing of headroom.
package fielderr

import (
	"errors"
	"fmt"
)

// Error is a bad value of one Config field.
type Error struct {
	// Field is the Config field, such as "MaxSteps".
	Field string
	// Problem is the bad value and what would be valid, such as "0: want at least 1".
	Problem string
	// Kind, when set, is a sentinel the error wraps (a package's ErrConfig); the message starts
	// with it, unless the error was renamed into a command line's words.
	Kind error

	renamed bool
}

// New returns an *Error for field, its problem formatted as fmt.Sprintf does, wrapping kind
// (nil: none).
func New(kind error, field, format string, args ...any) *Error {
	return &Error{Field: field, Problem: fmt.Sprintf(format, args...), Kind: kind}
}

func (e *Error) Error() string {
	if e.Kind != nil && !e.renamed {
		return e.Kind.Error() + ": " + e.Field + " " + e.Problem
	}
	return e.Field + " " + e.Problem
}

func (e *Error) Unwrap() error { return e.Kind }

// Rename returns err with each *Error's field spelled as names says (a flag, such as
// "--max-steps") and its message then the flag and the problem alone, through errors.Join lists; an *Error whose field names lacks, an *Error
// wrapped in another error, and any other error are kept as they are.
func Rename(err error, names map[string]string) error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs := joined.Unwrap()
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = Rename(e, names)
		}
		return errors.Join(out...)
	}
	if fe, ok := err.(*Error); ok { //nolint:errorlint // a wrapped *Error keeps its wrapper's message whole, as documented
		if n, ok := names[fe.Field]; ok {
			return &Error{Field: n, Problem: fe.Problem, Kind: fe.Kind, renamed: true}
		}
	}
	return err
}
