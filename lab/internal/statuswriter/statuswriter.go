// Package statuswriter records the status code a handler writes, for the lab's access logs,
// metrics and spans (the API's middleware and the edge node both need it).
package statuswriter

import "net/http"

// Writer is an http.ResponseWriter that remembers the first status code written.
type Writer struct {
	http.ResponseWriter
	code int
}

// New wraps w.
func New(w http.ResponseWriter) *Writer { return &Writer{ResponseWriter: w} }

// WriteHeader records code (the first one only, as net/http honours only the first) and writes it.
func (w *Writer) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write writes b, recording 200 when no status was written before, as net/http does.
func (w *Writer) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Status is the status code written: 200 when the handler wrote nothing.
func (w *Writer) Status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Unwrap gives http.ResponseController the writer underneath (Flush, deadlines).
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
