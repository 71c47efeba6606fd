package statuswriter_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/headroom/headroom/lab/internal/statuswriter"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, http.StatusOK},
		{"body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"status then body", func(w http.ResponseWriter) { w.WriteHeader(http.StatusTeapot); _, _ = w.Write([]byte("x")) }, http.StatusTeapot},
		{"second status ignored", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusInternalServerError)
		}, http.StatusNotFound},
	} {
		rec := httptest.NewRecorder()
		w := statuswriter.New(rec)
		tc.write(w)
		if got := w.Status(); got != tc.want {
			t.Errorf("%s: Status() = %d, want %d", tc.name, got, tc.want)
		}
		if w.Unwrap() != rec {
			t.Errorf("%s: Unwrap is not the wrapped writer", tc.name)
		}
	}
}
