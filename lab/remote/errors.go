package remote

import (
	"errors"
	"strconv"
)

// The errors a call returns besides a [*StatusError] and the transport's own; test with errors.Is.
var (
	// ErrConfig is wrapped by the errors of a bad [Config].
	ErrConfig = errors.New("remote: invalid configuration")
	// ErrCircuitOpen: the peer's circuit breaker is open; the call failed fast, unsent.
	ErrCircuitOpen = errors.New("remote: circuit open")
	// ErrBulkheadFull: the client already had its most concurrent attempts in flight.
	ErrBulkheadFull = errors.New("remote: bulkhead full")
	// ErrBudgetExhausted: a retry was due but the retry budget had no token left.
	ErrBudgetExhausted = errors.New("remote: retry budget exhausted")
	// ErrTimeout: an attempt's or the call's deadline passed before the answer.
	ErrTimeout = errors.New("remote: timeout")
)

// StatusError is an answer whose status code is not 2xx.
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Body is the start of the answer's body, for the message.
	Body string
}

func (e *StatusError) Error() string {
	return "remote: status " + strconv.Itoa(e.Code) + ": " + e.Body
}

// retryable says whether an answer with the code may succeed if sent again: the server's
// transient failures and overload, not the request's own faults.
func (e *StatusError) retryable() bool {
	return e.Code >= 500 || e.Code == 429 || e.Code == 408
}

// errorType is the span's error.type for err, as the services contract names it.
func errorType(err error) string {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.Code)
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, ErrBulkheadFull):
		return "bulkhead_full"
	case errors.Is(err, ErrBudgetExhausted):
		return "budget_exhausted"
	case isRefused(err):
		return "connection_refused"
	case errors.Is(err, errCanceled):
		return "canceled"
	}
	return "transport"
}

// errCanceled marks an attempt stopped because the call no longer needed it (a hedge that lost,
// or the caller gave up), as opposed to a deadline.
var errCanceled = errors.New("remote: attempt canceled")

// typedError carries the contract's error.type to otelhttp, which asks the error for it.
type typedError struct{ err error }

func (e typedError) Error() string     { return e.err.Error() }
func (e typedError) Unwrap() error     { return e.err }
func (e typedError) ErrorType() string { return errorType(e.err) }

// ErrorType names err as the attempt spans' error.type and the calls metric do: "timeout",
// "connection_refused", "circuit_open", "bulkhead_full", "budget_exhausted", "canceled", a status
// code such as "503", or "transport".
func ErrorType(err error) string { return errorType(err) }
