package loadgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// TargetsFormat is the format of a targets file.
type TargetsFormat string

// The targets formats ReadTargetsAs reads.
const (
	// TargetsAuto detects the format from the content: headroom's JSON lines first, then HAR (a
	// JSON object with log.entries), then vegeta's JSON lines or, when the first line is not
	// JSON, vegeta's HTTP format.
	TargetsAuto TargetsFormat = "auto"
	// TargetsJSONL is headroom's format: see ReadTargets.
	TargetsJSONL TargetsFormat = "jsonl"
	// TargetsHAR is a HAR 1.2 file as browsers record it: see readHAR.
	TargetsHAR TargetsFormat = "har"
	// TargetsVegeta is vegeta's HTTP format: "METHOD URL", then "Name: value" header lines, then
	// an optional "@path" body file or "@<<TAG" inline body ending at a line TAG, targets
	// separated by blank lines; lines starting with # are comments.
	TargetsVegeta TargetsFormat = "vegeta"
	// TargetsVegetaJSON is vegeta's JSON format: one object per line with method, url, header
	// (a name → list of values) and body (base64).
	TargetsVegetaJSON TargetsFormat = "vegeta-json"
)

// TargetsFormats lists the formats, for messages and flag help.
var TargetsFormats = []TargetsFormat{TargetsAuto, TargetsJSONL, TargetsHAR, TargetsVegeta, TargetsVegetaJSON}

// TargetsOptions says how ReadTargetsAs reads a targets file.
type TargetsOptions struct {
	// Format of the file. Default TargetsAuto.
	Format TargetsFormat
	// Dir is the directory relative body_file paths of headroom's format are read from: the
	// targets file's. Relative "@path" bodies of vegeta's format are read from the working
	// directory, as vegeta reads them, so that a vegeta targets file works unchanged.
	Dir string
	// HARAssets keeps a HAR's static assets (images, fonts, style sheets, scripts, media),
	// which are left out by default: a backend's load test is about its API and pages, and a
	// CDN serves the rest.
	HARAssets bool
}

// maxTargetsBytes bounds a targets file: HAR files carry the responses' content too.
const maxTargetsBytes = 256 << 20

// ReadTargetsAs reads a targets file in the format o names, or the one detected, and returns
// the targets and the format read. Errors are one line, name the format and where in the file
// (line or HAR entry), and wrap ErrConfig.
func ReadTargetsAs(r io.Reader, o TargetsOptions) ([]Target, TargetsFormat, error) {
	if o.Format == "" {
		o.Format = TargetsAuto
	}
	if !slices.Contains(TargetsFormats, o.Format) {
		return nil, "", configErr("targets format %q: want one of %s", o.Format, TargetsFormatNames())
	}
	b, err := io.ReadAll(io.LimitReader(r, maxTargetsBytes+1))
	if err != nil {
		return nil, "", configErr("targets file: %v", err)
	}
	if len(b) > maxTargetsBytes {
		return nil, "", configErr("targets file larger than %d MiB", maxTargetsBytes>>20)
	}
	f := o.Format
	if f == TargetsAuto {
		f = detectTargets(b)
	}
	var ts []Target
	switch f {
	case TargetsJSONL:
		ts, err = ReadTargets(bytes.NewReader(b), o.Dir)
	case TargetsHAR:
		ts, err = readHAR(b, o.HARAssets)
	case TargetsVegeta:
		ts, err = readVegeta(b)
	case TargetsVegetaJSON:
		ts, err = readVegetaJSON(b)
	}
	if err != nil {
		if o.Format == TargetsAuto {
			err = fmt.Errorf("%w (read as %s; choose another format with --targets-format)", err, f)
		}
		return nil, f, err
	}
	return ts, f, nil
}

// TargetsFormatNames lists the formats for messages and flag help: "auto, jsonl, …".
func TargetsFormatNames() string { return list(TargetsFormats) }

// detectTargets tells the format of a targets file from its content. Headroom's lines have
// neither a "log" nor a "header" key (unknown keys are refused), so the order does not change
// what headroom's own files read as: a HAR is one JSON object with log.entries (its first line
// is usually a lone "{"); vegeta's JSON lines have "header"; other JSON lines are headroom's;
// anything else is vegeta's HTTP format.
func detectTargets(b []byte) TargetsFormat {
	first := firstLine(b)
	if !strings.HasPrefix(first, "{") {
		return TargetsVegeta
	}
	var har struct {
		Log *struct {
			Entries json.RawMessage `json:"entries"`
		} `json:"log"`
	}
	if json.Unmarshal(b, &har) == nil && har.Log != nil && har.Log.Entries != nil {
		return TargetsHAR
	}
	var line map[string]json.RawMessage
	if json.Unmarshal([]byte(first), &line) == nil {
		if _, ok := line["header"]; ok {
			return TargetsVegetaJSON
		}
	}
	return TargetsJSONL
}

// firstLine is the first line of b that is neither blank nor a # comment, trimmed.
func firstLine(b []byte) string {
	for line := range strings.Lines(string(b)) {
		if t := strings.TrimSpace(line); t != "" && t[0] != '#' {
			return t
		}
	}
	return ""
}

// addHeader adds a header value, joining repeated names with ", " as RFC 9110 §5.3 allows (and
// "; " for Cookie, RFC 6265 §5.4), because Target holds one value per name.
func addHeader(h map[string]string, name, value string) map[string]string {
	if h == nil {
		h = map[string]string{}
	}
	if old, ok := h[name]; ok {
		sep := ", "
		if strings.EqualFold(name, "cookie") {
			sep = "; "
		}
		value = old + sep + value
	}
	h[name] = value
	return h
}

// finish applies a parsed target's defaults and validates it, as ReadTargets does.
func finish(t Target) (Target, error) {
	t = t.withDefaults()
	if err := t.validate(); err != nil {
		return t, err
	}
	t.Method = strings.ToUpper(t.Method)
	return t, nil
}

// readVegeta reads vegeta's HTTP format. A line is a header when what precedes its first colon
// is a header name (a token: no spaces), so a request line ("GET http://…") is never mistaken
// for one, even without a blank line before it.
func readVegeta(b []byte) ([]Target, error) {
	var (
		out   []Target
		cur   *Target
		start int // line of cur's request line
		done  bool
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		t, err := finish(*cur)
		if err != nil {
			return fmt.Errorf("vegeta targets line %d: %w", start, err)
		}
		out = append(out, t)
		cur, done = nil, false
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), maxTargetsLine)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "":
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		case text[0] == '#':
			continue
		case cur != nil && !done && isHeaderLine(text):
			name, value, _ := strings.Cut(text, ":")
			cur.Headers = addHeader(cur.Headers, name, strings.TrimSpace(value))
			continue
		case cur != nil && !done && text[0] == '@':
			if tag, ok := strings.CutPrefix(text, "@<<"); ok {
				if tag == "" {
					return nil, configErr("vegeta targets line %d: @<< without an end tag", line)
				}
				var body strings.Builder
				closed := false
				for sc.Scan() {
					line++
					if sc.Text() == tag {
						closed = true
						break
					}
					body.WriteString(sc.Text())
					body.WriteByte('\n')
				}
				if !closed {
					return nil, configErr("vegeta targets: the body of line %d has no end line %q", start, tag)
				}
				cur.Body = body.String()
			} else {
				body, err := readBodyFile(text[1:])
				if err != nil {
					return nil, configErr("vegeta targets line %d: body: %v", line, err)
				}
				cur.Body = body
			}
			done = true // the body ends a target
			continue
		}
		// A request line.
		if err := flush(); err != nil {
			return nil, err
		}
		method, url, ok := strings.Cut(text, " ")
		url = strings.TrimSpace(url)
		if !ok || !isToken(method) || url == "" || strings.ContainsAny(url, " \t") {
			return nil, configErr("vegeta targets line %d: %q: want METHOD URL, a Name: value header or an @body line", line, clip(text))
		}
		cur, start = &Target{Method: method, URL: url}, line
	}
	if err := sc.Err(); err != nil {
		return nil, configErr("vegeta targets: %v", err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, configErr("vegeta targets: no target")
	}
	return out, nil
}

// readBodyFile reads a body file a targets file names: a regular file (not a device or a pipe,
// which could block or never end) of at most maxTargetsLine bytes.
func readBodyFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTargetsLine+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxTargetsLine {
		return "", fmt.Errorf("%s: larger than %d MiB", path, maxTargetsLine>>20)
	}
	return string(b), nil
}

// isHeaderLine reports whether a line is "Name: value" with a token for a name.
func isHeaderLine(s string) bool {
	name, _, ok := strings.Cut(s, ":")
	return ok && isToken(name)
}

// clip shortens s for a message.
func clip(s string) string {
	const n = 80
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// readVegetaJSON reads vegeta's JSON lines: {"method", "url", "header": {name: [values]},
// "body": base64}.
func readVegetaJSON(b []byte) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), maxTargetsLine)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		var raw struct {
			Method string              `json:"method"`
			URL    string              `json:"url"`
			Header map[string][]string `json:"header"`
			Body   []byte              `json:"body"` // base64, as encoding/json decodes []byte
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			return nil, configErr("vegeta JSON targets line %d: %v (want an object with method, url, header, body in base64)", line, err)
		}
		if dec.More() {
			return nil, configErr("vegeta JSON targets line %d: more than one JSON value on the line", line)
		}
		t := Target{Method: raw.Method, URL: raw.URL, Body: string(raw.Body)}
		for _, name := range sortedKeys(raw.Header) {
			for _, v := range raw.Header[name] {
				t.Headers = addHeader(t.Headers, name, v)
			}
		}
		t, err := finish(t)
		if err != nil {
			return nil, fmt.Errorf("vegeta JSON targets line %d: %w", line, err)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, configErr("vegeta JSON targets: %v", err)
	}
	if len(out) == 0 {
		return nil, configErr("vegeta JSON targets: no target")
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
