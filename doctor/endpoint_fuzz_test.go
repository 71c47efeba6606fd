package doctor

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseEndpoint: any --endpoints value either parses into a request on the base URL with a
// path and, when there is a body, a JSON one — or is refused with an error; it never panics.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range append([]string{"/", "api/a", "POST /a {bad", `POST /api/x {"a":1}`, " GET  /x ", ""}, LabEndpoints...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, e string) {
		const base = "http://127.0.0.1:1"
		tg, err := parseEndpoint(base, e)
		if err != nil {
			return
		}
		if !strings.HasPrefix(tg.URL, base+"/") {
			t.Errorf("parseEndpoint(%q) URL %q, want it on %s/", e, tg.URL, base)
		}
		if tg.Method == "" || tg.Method != strings.ToUpper(tg.Method) {
			t.Errorf("parseEndpoint(%q) method %q, want an upper-case method", e, tg.Method)
		}
		if tg.Body != "" && !json.Valid([]byte(tg.Body)) {
			t.Errorf("parseEndpoint(%q) body %q is not JSON", e, tg.Body)
		}
	})
}
