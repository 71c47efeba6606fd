package diagnose

import (
	"cmp"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Category is where a span's time goes, for the per-endpoint breakdown.
type Category int

// The categories, in report order.
const (
	CatInternal Category = iota // the service's own code: server and internal spans
	CatDB
	CatCache // redis, memcached, cache.* attributes
	CatPool  // waiting for a connection from a pool
	CatHTTP  // outgoing HTTP calls
	CatRPC
	CatQueue   // messaging
	CatLogging // calls to a log collector
	CatRemote  // other outgoing calls (SMTP, ...)
	numCategories
)

var categoryNames = [numCategories]string{"internal", "db", "cache", "pool", "http", "rpc", "queue", "logging", "remote"}

func (c Category) String() string { return categoryNames[c] }

// attr returns the first non-empty value of keys: old and new OTel names of one attribute.
func attr(s *Span, keys ...string) string {
	for _, k := range keys {
		if v := s.Attrs[k]; v != "" {
			return v
		}
	}
	return ""
}

// The attribute names diagnose reads, newest first.
var (
	keysDBSystem   = []string{"db.system.name", "db.system"}
	keysStatement  = []string{"db.query.text", "db.statement"}
	keysHTTPMethod = []string{"http.request.method", "http.method"}
	keysURL        = []string{"url.full", "http.url"}
	keysPeer       = []string{"peer.service", "server.address", "net.peer.name", "net.sock.peer.name"}
	keysBodySize   = []string{"http.response.body.size", "http.response_content_length", "http.response.size",
		"messaging.message.body.size", "messaging.message_payload_size_bytes"}
)

var (
	reLogging   = regexp.MustCompile(`(?i)(^|[^a-z])(logs?|logging|log[-_ ]?(collector|shipper|sink|service)|loki|fluentd|fluent-bit|logstash|splunk|papertrail|syslog)([^a-z]|$)`)
	reEmail     = regexp.MustCompile(`(?i)(^|[^a-z])(smtp|e?mail|mailer|sendgrid|mailgun|postmark|ses)([^a-z]|$)`)
	reAnalytics = regexp.MustCompile(`(?i)(^|[^a-z])(analytics|segment|mixpanel|amplitude|tracking|telemetry|events?[-_ ]?collector)([^a-z]|$)`)
	reNotify    = regexp.MustCompile(`(?i)(^|[^a-z])(notifications?|notify|push|sms|twilio|webhooks?|slack)([^a-z]|$)`)
	rePool      = regexp.MustCompile(`(?i)(pool|conn(ection)?)[ ._-]*(acquire|wait|checkout|get)|acquire[ ._-]*(conn(ection)?|pool)`)
)

func isClientLike(s *Span) bool { return s.Kind == KindClient || s.Kind == KindProducer }

// statement is the span's database statement, or "" if it is not a database span.
func statement(s *Span) string {
	if attr(s, keysDBSystem...) == "" {
		return ""
	}
	return attr(s, keysStatement...)
}

// isPoolWait reports whether the span is a wait for a pooled connection.
func isPoolWait(s *Span) bool { return rePool.MatchString(s.Name) }

func isHTTPClient(s *Span) bool {
	return s.Kind == KindClient && (attr(s, keysHTTPMethod...) != "" || attr(s, keysURL...) != "")
}

// classify returns the span's category from its kind and attributes.
func classify(s *Span) Category {
	if isPoolWait(s) {
		return CatPool
	}
	if sys := attr(s, keysDBSystem...); sys != "" {
		switch strings.ToLower(sys) {
		case "redis", "memcached", "valkey":
			return CatCache
		}
		return CatDB
	}
	if hasPrefix(s, "cache.") {
		return CatCache
	}
	if hasPrefix(s, "messaging.") {
		return CatQueue
	}
	if s.Attrs["rpc.system"] != "" {
		return CatRPC
	}
	if !isClientLike(s) {
		return CatInternal
	}
	if dependency(s) == "logging" {
		return CatLogging
	}
	if isHTTPClient(s) {
		return CatHTTP
	}
	return CatRemote
}

func hasPrefix(s *Span, p string) bool {
	for k := range s.Attrs {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// dependency names what a client span calls when that is a non-critical dependency — "logging",
// "email", "analytics" or "notifications" — judged from peer.service, server.address, the span
// name, the URL's path and the protocol; "" otherwise.
func dependency(s *Span) string {
	if !isClientLike(s) {
		return ""
	}
	texts := []string{attr(s, keysPeer...), s.Name, s.Attrs["network.protocol.name"], s.Attrs["rpc.service"]}
	if u, err := url.Parse(attr(s, keysURL...)); err == nil {
		texts = append(texts, u.Path)
	}
	texts = append(texts, s.Attrs["url.path"], s.Attrs["http.target"])
	for _, d := range []struct {
		name string
		re   *regexp.Regexp
	}{{"logging", reLogging}, {"email", reEmail}, {"analytics", reAnalytics}, {"notifications", reNotify}} {
		for _, t := range texts {
			if t != "" && d.re.MatchString(t) {
				return d.name
			}
		}
	}
	return ""
}

var (
	reUUID    = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)
	reHexID   = regexp.MustCompile(`^[0-9a-fA-F]{16,}$`)
	reNumeric = regexp.MustCompile(`^-?\d+(\.\d+)?$`)
	reHasDigs = regexp.MustCompile(`\d{3,}`)
)

// ParamURL parameterizes a URL so that calls to one resource with different ids compare equal:
// path segments that are numbers, UUIDs, long hex strings or carry a run of 3+ digits become
// {id}, and query values become ?. Scheme and host stay.
func ParamURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	segs := strings.Split(u.Path, "/")
	for i, s := range segs {
		if s != "" && (reNumeric.MatchString(s) || reUUID.MatchString(s) || reHexID.MatchString(s) || reHasDigs.MatchString(s)) {
			segs[i] = "{id}"
		}
	}
	out := strings.Join(segs, "/")
	if u.Host != "" {
		out = u.Scheme + "://" + u.Host + out
	}
	if u.RawQuery != "" {
		q := u.Query()
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k+"=?")
		}
		slices.Sort(keys)
		out += "?" + strings.Join(keys, "&")
	}
	return out
}

// httpOperation is "METHOD parameterized-url" of an HTTP client span.
func httpOperation(s *Span) string {
	u := attr(s, keysURL...)
	if u == "" {
		if host := attr(s, "server.address", "net.peer.name"); host != "" {
			u = host + cmp.Or(s.Attrs["url.path"], s.Attrs["http.target"])
		}
	}
	m := attr(s, keysHTTPMethod...)
	if u == "" {
		return s.Name
	}
	return strings.TrimSpace(m + " " + ParamURL(u))
}

// bodySize is the response or message body size the span records, or 0.
func bodySize(s *Span) int64 {
	for _, k := range keysBodySize {
		if v, err := strconv.ParseInt(s.Attrs[k], 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return 0
}
