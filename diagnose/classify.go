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
	keysBodySize   = [...]string{"http.response.body.size", "http.response_content_length", "http.response.size",
		"messaging.message.body.size", "messaging.message_payload_size_bytes"}
)

// spanAttrs is what the analysis reads of a span's attributes, read in one pass over them
// ([attrsOf]): looked up one by one where each was needed, they took most of its time.
type spanAttrs struct {
	dbSystem, stmt                            string // stmt is "" unless the span is a database span (statement)
	method, url                               string // the first of keysHTTPMethod, of keysURL
	peerService                               string
	peer                                      string // the first of keysPeer
	protocol, rpcService, urlPath, httpTarget string
	service                                   string // service.name
	rpcSystem                                 bool
	cache                                     bool // an attribute named cache.*
	messaging                                 bool // an attribute named messaging.*
	logical                                   bool // the parent of one remote call's attempts (headroom.call.attempts)
	faas                                      bool // a function invocation's own attributes (see isInvocation)
	bodySize                                  int64
	poolWait                                  string // db.client.connection.wait_time
}

// attrsOf reads s's attributes as [attr] and [bodySize] would, each name's first non-empty
// value in the order of its keys… list.
func attrsOf(s *Span) spanAttrs {
	var a spanAttrs
	var dbSystem, stmt, method, url [2]string
	var peer [4]string
	var size [len(keysBodySize)]string
	for k, v := range s.Attrs {
		switch k {
		case "db.system.name":
			dbSystem[0] = v
		case "db.system":
			dbSystem[1] = v
		case "db.query.text":
			stmt[0] = v
		case "db.statement":
			stmt[1] = v
		case "http.request.method":
			method[0] = v
		case "http.method":
			method[1] = v
		case "url.full":
			url[0] = v
		case "http.url":
			url[1] = v
		case attrPeerService:
			peer[0] = v
		case "server.address":
			peer[1] = v
		case "net.peer.name":
			peer[2] = v
		case "net.sock.peer.name":
			peer[3] = v
		case "network.protocol.name":
			a.protocol = v
		case "rpc.service":
			a.rpcService = v
		case attrURLPath:
			a.urlPath = v
		case attrHTTPTarget:
			a.httpTarget = v
		case "rpc.system":
			a.rpcSystem = v != ""
		case attrServiceName:
			a.service = v
		case attrCallAttempts:
			a.logical = v != ""
		case attrFaaSColdStart, attrFaaSInvocationID, attrFaaSTrigger, attrFaaSExecution:
			a.faas = a.faas || v != ""
		case attrPoolWaitTime:
			a.poolWait = v
		case keysBodySize[0]:
			size[0] = v
		case keysBodySize[1]:
			size[1] = v
		case keysBodySize[2]:
			size[2] = v
		case keysBodySize[3]:
			size[3], a.messaging = v, true
		case keysBodySize[4]:
			size[4], a.messaging = v, true
		default:
			a.cache = a.cache || strings.HasPrefix(k, "cache.")
			a.messaging = a.messaging || strings.HasPrefix(k, "messaging.")
		}
	}
	a.dbSystem = cmp.Or(dbSystem[0], dbSystem[1])
	if a.dbSystem != "" {
		a.stmt = cmp.Or(stmt[0], stmt[1])
	}
	a.method, a.url = cmp.Or(method[0], method[1]), cmp.Or(url[0], url[1])
	a.peerService = peer[0]
	a.peer = cmp.Or(peer[0], peer[1], peer[2], peer[3])
	a.bodySize = firstSize(size[:])
	return a
}

var (
	reLogging   = regexp.MustCompile(`(?i)(^|[^a-z])(logs?|logging|log[-_ ]?(collector|shipper|sink|service)|loki|fluentd|fluent-bit|logstash|splunk|papertrail|syslog)([^a-z]|$)`)
	reEmail     = regexp.MustCompile(`(?i)(^|[^a-z])(smtp|e?mail|mailer|sendgrid|mailgun|postmark|ses)([^a-z]|$)`)
	reAnalytics = regexp.MustCompile(`(?i)(^|[^a-z])(analytics|segment|mixpanel|amplitude|tracking|telemetry|events?[-_ ]?collector)([^a-z]|$)`)
	reNotify    = regexp.MustCompile(`(?i)(^|[^a-z])(notifications?|notify|push|sms|twilio|webhooks?|slack)([^a-z]|$)`)
	rePool      = regexp.MustCompile(`(?i)(pool|conn(ection)?)[ ._-]*(acquire|wait|checkout|get)|acquire[ ._-]*(conn(ection)?|pool)`)
)

func isClientLike(s *Span) bool { return s.Kind == KindClient || s.Kind == KindProducer }

func isHTTPClient(s *Span, a *spanAttrs) bool {
	return s.Kind == KindClient && (a.method != "" || a.url != "")
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
func (m *matcher) dependency(s *Span, a *spanAttrs) string {
	if !isClientLike(s) {
		return ""
	}
	b := m.bits(a.peer, false) | m.bits(s.Name, false) | m.bits(a.protocol, false) |
		m.bits(a.rpcService, false) | m.bits(a.url, true) | m.bits(a.urlPath, false) |
		m.bits(a.httpTarget, false)
	for i, d := range depPatterns {
		if b&(1<<i) != 0 {
			return d.name
		}
	}
	return ""
}

// classify returns the span's category from its kind and attributes; dep is its dependency.
func (m *matcher) classify(s *Span, a *spanAttrs, dep string) Category {
	if m.isPoolWait(s) {
		return CatPool
	}
	if sys := a.dbSystem; sys != "" {
		switch strings.ToLower(sys) {
		case "redis", "memcached", "valkey":
			return CatCache
		}
		return CatDB
	}
	if a.cache {
		return CatCache
	}
	if a.messaging {
		return CatQueue
	}
	if a.rpcSystem {
		return CatRPC
	}
	if !isClientLike(s) {
		return CatInternal
	}
	if dep == "logging" {
		return CatLogging
	}
	if isHTTPClient(s, a) {
		return CatHTTP
	}
	return CatRemote
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
	var vals [len(keysBodySize)]string
	for i, k := range keysBodySize {
		vals[i] = s.Attrs[k]
	}
	return firstSize(vals[:])
}

// firstSize is the first of the values of keysBodySize that is a positive integer, or 0.
func firstSize(vals []string) int64 {
	for _, a := range vals {
		if a != "" { // ParseInt allocates its error: skip the absent keys first
			if v, err := strconv.ParseInt(a, 10, 64); err == nil && v > 0 {
				return v
			}
		}
	}
	return 0
}
