package api

import (
	"errors"
	"fmt"
	"net/http"
)

// InternalHandler serves one route of a service's internal API in the services mode
// (lab/services): it returns the answer, encoded as JSON with 200, or an error answered the way
// the public routes answer theirs (404 for [lab.ErrNotFound], 409, 402, 400 for [BadRequest], 500).
// decode reads the JSON body as the public routes do (bounded, unknown fields refused).
type InternalHandler func(r *http.Request, decode func(v any) error) (any, error)

// HandleInternal registers h under pattern behind the API's instrumentation (server span, RED
// metrics, access log, profile labels), like a public route.
func (a *API) HandleInternal(pattern string, h InternalHandler) {
	a.handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r, func(v any) error { return a.decode(w, r, v) })
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// BadRequest is an error answered 400 with its message.
func BadRequest(format string, args ...any) error { return badRequest(format, args...) }

// ServiceError is a failed call from the gateway to a service of the services mode. The API
// answers it 504 when the call timed out, 503 when the service could not be reached (refused,
// circuit open, bulkhead full) and 502 otherwise, naming the service, never its error's text.
type ServiceError struct {
	// Service is the called service ("posts").
	Service string
	// Code is the status to answer: 502, 503 or 504.
	Code int
	// Reason is what went wrong, in a few words ("timeout", "circuit open").
	Reason string
	// Err is the call's error, logged.
	Err error
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s service: %s: %v", e.Service, e.Reason, e.Err)
}

func (e *ServiceError) Unwrap() error { return e.Err }

// serviceFailure is the answer to a [ServiceError] in err, if any.
func serviceFailure(err error) (*httpError, bool) {
	var se *ServiceError
	if !errors.As(err, &se) {
		return nil, false
	}
	return &httpError{code: se.Code, msg: fmt.Sprintf("%s service unavailable: %s", se.Service, se.Reason), cause: err}, true
}
