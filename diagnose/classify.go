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

func isHTTPClient(s *Span) bool {
	return s.Kind == KindClient && (attr(s, keysHTTPMethod...) != "" || attr(s, keysURL...) != "")
}

// matcher memoizes the regular expressions over the texts spans repeat (names, peers, URLs):
// without it, matching is most of the analysis time.
type matcher struct {
	pool map[string]bool
	deps map[depKey]uint8 // text → bit i set when depPatterns[i] matches
}

type depKey struct {
	text  string
	isURL bool
}

func newMatcher() *matcher { return &matcher{pool: map[string]bool{}, deps: map[depKey]uint8{}} }

// memoLimit bounds each memo; beyond it, texts are matched again each time.
const memoLimit = 1 << 16

// isPoolWait reports whether the span is a wait for a pooled connection.
func (m *matcher) isPoolWait(s *Span) bool {
	v, ok := m.pool[s.Name]
	if !ok {
		v = rePool.MatchString(s.Name)
		if len(m.pool) < memoLimit {
			m.pool[s.Name] = v
		}
	}
	return v
}

var depPatterns = []struct {
	name string
	re   *regexp.Regexp
}{{"logging", reLogging}, {"email", reEmail}, {"analytics", reAnalytics}, {"notifications", reNotify}}

func (m *matcher) bits(text string, isURL bool) uint8 {
	if text == "" {
		return 0
	}
	key := depKey{text, isURL} // URLs are matched on their path only
	b, ok := m.deps[key]
	if ok {
		return b
	}
	t := text
	if isURL {
		u, err := url.Parse(text)
		if err != nil {
			t = ""
		} else {
			t = u.Path
		}
	}
	for i, d := range depPatterns {
		if t != "" && d.re.MatchString(t) {
			b |= 1 << i
		}
	}
	if len(m.deps) < memoLimit {
		m.deps[key] = b
	}
	return b
}

// dependency names what a client span calls when that is a non-critical dependency — "logging",
// "email", "analytics" or "notifications" — judged from peer.service, server.address, the span
// name, the URL's path and the protocol; "" otherwise.
func (m *matcher) dependency(s *Span) string {
	if !isClientLike(s) {
		return ""
	}
	b := m.bits(attr(s, keysPeer...), false) | m.bits(s.Name, false) | m.bits(s.Attrs["network.protocol.name"], false) |
		m.bits(s.Attrs["rpc.service"], false) | m.bits(attr(s, keysURL...), true) | m.bits(s.Attrs["url.path"], false) |
		m.bits(s.Attrs["http.target"], false)
	for i, d := range depPatterns {
		if b&(1<<i) != 0 {
			return d.name
		}
	}
	return ""
}

// classify returns the span's category from its kind and attributes; dep is its dependency.
func (m *matcher) classify(s *Span, dep string) Category {
	if m.isPoolWait(s) {
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
	if dep == "logging" {
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
		if a := s.Attrs[k]; a != "" { // ParseInt allocates its error: skip the absent keys first
			if v, err := strconv.ParseInt(a, 10, 64); err == nil && v > 0 {
				return v
			}
		}
	}
	return 0
}
