package jaegersrc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/diagnose"
)

// The query API's JSON (Jaeger's model/json, as /api/traces answers it). Fields diagnose does
// not use (logs, warnings, flags) are not declared and so not kept.
type (
	response struct {
		Data   []jTrace `json:"data"`
		Errors []jError `json:"errors"`
	}
	jError struct {
		Code    int    `json:"code"`
		Msg     string `json:"msg"`
		TraceID string `json:"traceID"`
	}
	jTrace struct {
		TraceID   string              `json:"traceID"`
		Spans     []jSpan             `json:"spans"`
		Processes map[string]jProcess `json:"processes"`
	}
	jProcess struct {
		ServiceName string `json:"serviceName"`
		Tags        []jTag `json:"tags"`
	}
	jSpan struct {
		TraceID       string  `json:"traceID"`
		SpanID        string  `json:"spanID"`
		OperationName string  `json:"operationName"`
		References    []jRef  `json:"references"`
		StartTime     *uint64 `json:"startTime"` // microseconds since the epoch
		Duration      *uint64 `json:"duration"`  // microseconds
		Tags          []jTag  `json:"tags"`
		ProcessID     string  `json:"processID"`
	}
	jRef struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	}
	jTag struct {
		Key   string          `json:"key"`
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}
)

// The reasons Decode counts, beside diagnose's Reason… constants that mean the same.
const (
	// ReasonBadID counts spans whose trace or span id is not hexadecimal of a valid length.
	ReasonBadID = "jaeger_bad_id"
	// ReasonNoTimes counts spans without startTime or duration.
	ReasonNoTimes = "jaeger_span_without_times"
	// ReasonBadTag counts tags whose value does not match their declared type; they are dropped.
	ReasonBadTag = "jaeger_bad_tag"
)

// ErrTooLarge is wrapped by the error about an answer larger than the bound it is read with
// (Config.MaxBodyBytes).
var ErrTooLarge = errors.New("answer too large")

// envelope is the keys of a query API answer.
var envelope = map[string]bool{"data": true, "errors": true, "total": true, "limit": true, "offset": true}

// kinds maps the span.kind tag Jaeger's OTLP translation writes to diagnose's span kinds.
var kinds = map[string]diagnose.SpanKind{"internal": diagnose.KindInternal, "server": diagnose.KindServer,
	"client": diagnose.KindClient, "producer": diagnose.KindProducer, "consumer": diagnose.KindConsumer}

// Decoded is one query API answer turned into diagnose's model.
type Decoded struct {
	Traces []*diagnose.Trace
	// Errors are the answer's own errors other than Missing.
	Errors []string
	// Missing are the trace ids the answer reported as not found.
	Missing []string
	// Tolerated counts bad spans and tags by reason: diagnose's Reason… constants and this
	// package's.
	Tolerated map[string]int
}

func (d *Decoded) tolerate(reason string) { d.Tolerated[reason]++ }

// Decode reads one answer of Jaeger's query API (/api/traces, /api/traces/{id}), at most
// maxBytes of it, and converts it strictly: an answer that is not that JSON (an HTML page, a
// truncated body, a field of the wrong type, data after it) is an error naming what is wrong; a
// span without valid ids or times, a duplicate span id and a tag whose value contradicts its type
// are dropped and counted, never guessed. Attribute values longer than maxAttr are truncated
// (counted). Trace ids are the 32 hex digits OTLP uses: Jaeger writes a 64-bit one in 16.
// Process tags (the OTLP resource's attributes, service.name from serviceName) are copied onto
// spans that lack that key, as diagnose's OTLP reader does; the span.kind tag becomes the span's
// Kind.
func Decode(r io.Reader, maxBytes int64, maxAttr int) (*Decoded, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(b)) > maxBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, maxBytes)
	}
	// The envelope is checked strictly, so that another API's JSON (or an error page's) is
	// not read as an empty answer; spans may carry fields this package does not know (Jaeger
	// adds some over versions).
	var env map[string]json.RawMessage
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("not a Jaeger query API answer: %w", err)
	}
	for k := range env {
		if !envelope[k] {
			return nil, fmt.Errorf("not a Jaeger query API answer: unknown key %q (want data, errors, total, limit, offset)", k)
		}
	}
	if _, ok := env["data"]; !ok {
		return nil, errors.New(`not a Jaeger query API answer: no "data" key`)
	}
	var resp response
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("not a Jaeger query API answer: %w", err)
	}
	out := &Decoded{Tolerated: map[string]int{}}
	for _, e := range resp.Errors {
		// A trace id not found is an error naming it (Jaeger sets no code there).
		if id, ok := normID(e.TraceID, 32); ok {
			out.Missing = append(out.Missing, id)
			continue
		}
		out.Errors = append(out.Errors, fmt.Sprintf("%d %s", e.Code, e.Msg))
	}
	for i := range resp.Data {
		if t := out.trace(&resp.Data[i], maxAttr); t != nil {
			out.Traces = append(out.Traces, t)
		}
	}
	return out, nil
}

// trace converts one trace; nil when no span of it is kept.
func (d *Decoded) trace(jt *jTrace, maxAttr int) *diagnose.Trace {
	procs := make(map[string]map[string]string, len(jt.Processes))
	for id, p := range jt.Processes {
		attrs := map[string]string{}
		tags := p.Tags
		if p.ServiceName != "" {
			tags = append(tags[:len(tags):len(tags)], jTag{Key: "service.name", Type: "string", Value: mustJSON(p.ServiceName)})
		}
		d.tags(attrs, tags, maxAttr)
		procs[id] = attrs
	}
	var t *diagnose.Trace
	seen := map[string]bool{}
	for i := range jt.Spans {
		js := &jt.Spans[i]
		tid, okT := normID(js.TraceID, 32)
		sid, okS := normID(js.SpanID, 16)
		if !okT || !okS || t != nil && tid != t.ID {
			d.tolerate(ReasonBadID)
			continue
		}
		if js.StartTime == nil || js.Duration == nil || *js.StartTime > maxMicros || *js.Duration > maxMicros-*js.StartTime {
			d.tolerate(ReasonNoTimes)
			continue
		}
		if seen[sid] {
			d.tolerate(diagnose.ReasonDuplicateSpan)
			continue
		}
		seen[sid] = true
		sp := &diagnose.Span{TraceID: tid, SpanID: sid, Name: js.OperationName, Attrs: map[string]string{},
			Start: time.UnixMicro(int64(*js.StartTime))}
		sp.End = sp.Start.Add(time.Duration(*js.Duration) * time.Microsecond)
		for _, ref := range js.References {
			// The first CHILD_OF reference in this trace is the parent, as Jaeger's UI reads it;
			// FOLLOWS_FROM is a parent only when there is no CHILD_OF.
			pid, ok := normID(ref.SpanID, 16)
			rt, okT := normID(ref.TraceID, 32)
			if !ok || !okT || rt != tid {
				continue
			}
			if ref.RefType == "CHILD_OF" {
				sp.ParentID = pid
				break
			}
			if ref.RefType == "FOLLOWS_FROM" && sp.ParentID == "" {
				sp.ParentID = pid
			}
		}
		d.tags(sp.Attrs, js.Tags, maxAttr)
		if k, ok := sp.Attrs["span.kind"]; ok {
			sp.Kind = kinds[k] // unknown kinds are unspecified, as in OTLP files
			delete(sp.Attrs, "span.kind")
		}
		for k, v := range procs[js.ProcessID] {
			if _, ok := sp.Attrs[k]; !ok {
				sp.Attrs[k] = v
			}
		}
		if t == nil {
			t = &diagnose.Trace{ID: tid}
		}
		t.Spans = append(t.Spans, sp)
	}
	return t
}

// maxMicros keeps start+duration within what time.UnixMicro and time.Duration represent.
const maxMicros = uint64(1<<63-1) / 1000

// tags converts Jaeger tags to diagnose's string attributes, as diagnose's OTLP reader writes
// them: numbers in their JSON text, booleans as true/false.
func (d *Decoded) tags(m map[string]string, tags []jTag, maxAttr int) {
	for _, tg := range tags {
		v, ok := tagValue(tg)
		if !ok || tg.Key == "" {
			d.tolerate(ReasonBadTag)
			continue
		}
		if len(v) > maxAttr {
			d.tolerate(diagnose.ReasonAttrTruncated)
			v = v[:maxAttr]
		}
		m[tg.Key] = v
	}
}

func tagValue(tg jTag) (string, bool) {
	raw := bytes.TrimSpace(tg.Value)
	switch tg.Type {
	case "string", "binary": // binary is base64 text in the JSON model
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err == nil
	case "bool":
		var b bool
		err := json.Unmarshal(raw, &b)
		return strconv.FormatBool(b), err == nil
	case "int64":
		_, err := strconv.ParseInt(string(raw), 10, 64)
		return string(raw), err == nil
	case "float64":
		_, err := strconv.ParseFloat(string(raw), 64)
		return string(raw), err == nil && len(raw) > 0 && raw[0] != '"'
	}
	return "", false
}

// normID returns id as lowercase hex left-padded with zeros to n digits, false when it is not
// hex, longer than n digits, or all zeros.
func normID(id string, n int) (string, bool) {
	if id == "" || len(id) > n || strings.Trim(id, "0") == "" {
		return "", false
	}
	for i := range len(id) {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return "", false
		}
	}
	return strings.Repeat("0", n-len(id)) + strings.ToLower(id), true
}

// mustJSON is s as a JSON string.
func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}
