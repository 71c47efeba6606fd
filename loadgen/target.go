package loadgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
)

// Target is one kind of request to send.
type Target struct {
	// Method is the request's method. Default GET.
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	// Body is sent as is. In a targets file, "body_file" names a file to read it from instead,
	// relative to the targets file.
	Body string `json:"body,omitempty"`
	// Weight is this target's share of requests relative to the others. Default WeightDefault.
	Weight float64 `json:"weight"`
}

// WeightDefault is a Target's weight when it has none.
const WeightDefault = 1

// withDefaults returns t with a zero Method set to GET and a zero Weight to WeightDefault.
func (t Target) withDefaults() Target {
	if t.Method == "" {
		t.Method = http.MethodGet
	}
	if t.Weight == 0 {
		t.Weight = WeightDefault
	}
	return t
}

// WithJSONContentType returns t with a Content-Type header of application/json added when it has
// a body and no Content-Type: what headroom's own inputs (--body, --body-file, the body of its
// targets lines) assume of a body. The senders add none, so that vegeta's targets and a HAR send
// the headers they say and no other.
func (t Target) WithJSONContentType() Target {
	if t.Body == "" || hasHeader(t.Headers, "Content-Type") {
		return t
	}
	t.Headers = maps.Clone(t.Headers)
	t.Headers = addHeader(t.Headers, "Content-Type", "application/json")
	return t
}

// validate checks a Target whose defaults are applied.
func (t *Target) validate() error {
	if !isToken(t.Method) { // a method is a token, like a header name
		return configErr("method %q: want a token such as GET or POST", t.Method)
	}
	if _, err := ValidateURL(t.URL); err != nil {
		return err
	}
	for k, v := range t.Headers {
		if !isToken(k) {
			return configErr("header name %q: want a token such as X-Api-Key", k)
		}
		if !isFieldValue(v) {
			return configErr("header %s value %q: control characters are not allowed", k, v)
		}
	}
	if t.Weight < 0 || t.Weight != t.Weight || t.Weight > 1e9 {
		return configErr("weight %v for %s: want a positive number", t.Weight, t.URL)
	}
	return nil
}

// maxTargetsLine bounds one line of a targets file (bodies included).
const maxTargetsLine = 16 << 20

// ReadTargets parses a targets file: one JSON object per line with the keys method, url,
// headers, body or body_file, and weight; blank lines and lines starting with # are skipped.
// Relative body_file paths are read from dir. Errors name the line.
func ReadTargets(r io.Reader, dir string) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxTargetsLine)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		var raw struct {
			Target
			BodyFile string `json:"body_file"`
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			return nil, configErr("targets line %d: %v (want a JSON object with method, url, headers, body or body_file, weight)", line, err)
		}
		if dec.More() {
			return nil, configErr("targets line %d: more than one JSON value on the line", line)
		}
		if raw.BodyFile != "" {
			if raw.Body != "" {
				return nil, configErr("targets line %d: give body or body_file, not both", line)
			}
			p := raw.BodyFile
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := readBodyFile(p)
			if err != nil {
				return nil, configErr("targets line %d: body_file: %v", line, err)
			}
			raw.Body = b
		}
		t := raw.withDefaults().WithJSONContentType()
		if err := t.validate(); err != nil {
			return nil, fmt.Errorf("targets line %d: %w", line, err)
		}
		t.Method = strings.ToUpper(t.Method)
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, configErr("targets file: %v", err)
	}
	if len(out) == 0 {
		return nil, configErr("targets file has no target")
	}
	return out, nil
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), the syntax of methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// isFieldValue reports whether s may be sent as a header value: no control characters but tab.
func isFieldValue(s string) bool {
	for _, c := range []byte(s) {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
