package report

import (
	"fmt"
	"net/url"
	"strings"
)

// TraceURL is a link template to a trace viewer in which {trace_id} stands for a trace id, such as
// http://localhost:16686/trace/{trace_id} (Jaeger) or a Grafana Tempo explore URL. The zero value
// makes no links: trace ids are shown whole.
type TraceURL string

// traceIDPlaceholder is what a TraceURL replaces by each trace id.
const traceIDPlaceholder = "{trace_id}"

// ParseTraceURL checks a --trace-url template: an http or https URL holding {trace_id}. The error
// names the value and what is valid.
func ParseTraceURL(s string) (TraceURL, error) {
	if s == "" {
		return "", nil
	}
	want := "want an http(s) URL with " + traceIDPlaceholder + ", e.g. http://localhost:16686/trace/" + traceIDPlaceholder
	if !strings.Contains(s, traceIDPlaceholder) {
		return "", fmt.Errorf("%q has no %s: %s", s, traceIDPlaceholder, want)
	}
	u, err := url.Parse(strings.ReplaceAll(s, traceIDPlaceholder, "0"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q: %s", s, want)
	}
	return TraceURL(s), nil
}

// Link is the template with id in place of {trace_id}, or "" for the zero TraceURL.
func (t TraceURL) Link(id string) string {
	if t == "" {
		return ""
	}
	return strings.ReplaceAll(string(t), traceIDPlaceholder, url.PathEscape(id))
}

// Ref is how a terminal shows a trace id: its link when there is a template, else the id whole
// (a shortened id cannot be pasted into a trace viewer).
func (t TraceURL) Ref(id string) string {
	if l := t.Link(id); l != "" {
		return l
	}
	return id
}
