package faas

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/headroom/headroom/lab/faas/guest"
)

// Handler returns the API gateway: any method on /fn/{name} or /fn/{name}/{path…} invokes
// the function name with the rest of the path, and answers the function's response; else
// 404 for an unknown function, 429 throttled (Retry-After: 1), 504 timed out, 502 crashed,
// out of memory or failed init, 503 closed, 413 for a body past 6 MB (Lambda's synchronous
// payload limit). An error is JSON: {"function": name, "error": kind, "message": text}.
func (p *Platform) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/fn/{name}", p.serve)
	mux.HandleFunc("/fn/{name}/{path...}", p.serve)
	return mux
}

func (p *Platform) serve(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, guest.MaxPayload))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, name, "payload_too_large", err)
		return
	}
	req := guest.Request{Method: r.Method, Path: "/" + r.PathValue("path"), Query: r.URL.RawQuery, Header: r.Header, Body: body}
	resp, inv, err := p.Invoke(r.Context(), name, req)
	if err != nil {
		status := http.StatusBadGateway
		switch {
		case errors.Is(err, ErrUnknownFunction):
			status = http.StatusNotFound
		case errors.Is(err, ErrThrottled):
			w.Header().Set("Retry-After", "1")
			status = http.StatusTooManyRequests
		case errors.Is(err, ErrTimeout):
			status = http.StatusGatewayTimeout
		case errors.Is(err, ErrClosed):
			status = http.StatusServiceUnavailable
		}
		writeError(w, status, name, outcomeOf(err), err)
		return
	}
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	h.Set("Faas-Invocation-Id", inv.ID)
	h.Set("Faas-Coldstart", strconv.FormatBool(inv.Cold))
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(resp.Body)
}

func writeError(w http.ResponseWriter, status int, name, kind string, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Function string `json:"function"`
		Error    string `json:"error"`
		Message  string `json:"message"`
	}{name, kind, err.Error()})
}
