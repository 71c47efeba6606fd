package diagnose

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/headroom/headroom/result"
)

// The spans of remote calls between services as the contract (issue 22) names them: the
// gateway's server span, a client span per attempt with peer.service, the callee's server span
// (service headroom-<peer>) as its child, and a parent "call …" span per logical call.

// gateway is the gateway's server span of route, and its handler.
func gateway(route string, end float64) []sp {
	return []sp{{id: "r", name: "GET " + route, kind: KindServer, start: 0, end: end,
		attrs: []string{"service.name", "headroom-gateway", "http.route", route, "http.request.method", "GET", "http.response.status_code", "200"}},
		{id: "h", parent: "r", name: "handler", kind: KindInternal, start: 0.1, end: end - 0.1}}
}

// attempt is a client span to peer's route under parent, with status; attrs add to or override
// the defaults.
func attempt(id, parent, peer, method, route string, s, e float64, status string, attrs ...string) sp {
	return sp{id: id, parent: parent, name: peer + " " + method + " " + route, kind: KindClient, start: s, end: e,
		attrs: append([]string{"peer.service", peer, "http.request.method", method, "url.full", "http://" + peer + ":8080" + route,
			"http.response.status_code", status, "headroom.call.attempt", "1"}, attrs...)}
}

// callee is the callee's server span under the client span id, in the window [s, e].
func callee(id, peer, method, route string, s, e float64, status string) sp {
	return sp{id: "s-" + id, parent: id, name: method + " " + route, kind: KindServer, start: s, end: e,
		attrs: []string{"service.name", "headroom-" + peer, "http.route", route, "http.request.method", method, "http.response.status_code", status}}
}

// remote is one attempt of a call and the callee's server span under it, net ms of network
// time split around it.
func remote(id, parent, peer, route string, s, e, net float64, attrs ...string) []sp {
	return []sp{attempt(id, parent, peer, "GET", route, s, e, "200", attrs...), callee(id, peer, "GET", route, s+net/2, e-net/2, "200")}
}

func svcSpans(route string, end float64, spans ...[]sp) []sp {
	all := gateway(route, end)
	for _, s := range spans {
		all = append(all, s...)
	}
	return all
}

func svcTrace(id, route string, end float64, spans ...[]sp) *Trace {
	return mk(id, svcSpans(route, end, spans...)...)
}

// feed is n requests GET /api/feed: the gateway calls accounts once (4 ms, 1 ms of it network),
// then posts twice concurrently (6 ms, 2 ms network; the second with a deadline).
func feed(n int) []*Trace {
	var trs []*Trace
	for i := range n {
		extra := float64(i % 3)
		trs = append(trs, shifted(fmt.Sprintf("fd%02d", i), float64(i)*100, svcSpans("/api/feed", 12+extra,
			remote("a", "h", "accounts", "/users/7", 0.5, 4.5, 1),
			remote("p1", "h", "posts", "/posts", 5, 11+extra, 2),
			remote("p2", "h", "posts", "/posts/top", 5, 11, 2, "headroom.call.deadline_ms", "250"))...))
	}
	return trs
}

// monolithFeed is feed without services: the same calls to external hosts whose spans are not
// in the trace.
func monolithFeed(n int) []*Trace {
	var trs []*Trace
	for i := range n {
		trs = append(trs, mk(fmt.Sprintf("mf%02d", i), append(gateway("/api/feed", 12),
			call("a", "GET", "http://accounts.example/users/7", 0.5, 4.5, "peer.service", "accounts"),
			call("p", "GET", "http://posts.example/posts", 5, 11))...))
	}
	return trs
}

// charge is a POST /api/checkout whose call to payments takes attempts attempts, all but the
// last answered 503 after 20 ms, 10 ms of backoff apart; the last succeeds.
func charge(id string, attempts int) *Trace {
	spans := []sp{{id: "c", parent: "h", name: "call payments POST /charges", kind: KindInternal, start: 1, end: 1 + 30*float64(attempts),
		attrs: []string{"headroom.call.attempts", fmt.Sprint(attempts), "headroom.call.outcome", "ok"}}}
	for i := range attempts {
		s := 1 + 30*float64(i)
		st, errType := "200", ""
		if i < attempts-1 {
			st, errType = "503", "503"
		}
		aid := fmt.Sprint("t", i)
		a := attempt(aid, "c", "payments", "POST", "/charges", s, s+20, st, "headroom.call.attempt", fmt.Sprint(i+1),
			"headroom.call.deadline_ms", "500")
		if errType != "" {
			a.attrs = append(a.attrs, "error.type", errType)
		}
		spans = append(spans, a, callee(aid, "payments", "POST", "/charges", s+0.2, s+19.8, st))
	}
	return svcTrace(id, "/api/checkout", 2+30*float64(attempts), spans)
}

// profiles is 20 requests GET /api/profile calling accounts for 15 ms, except the last, whose
// call hangs for 1 s; deadline adds headroom.call.deadline_ms to the calls.
func profiles(deadline bool) []*Trace {
	var trs []*Trace
	for i := range 20 {
		d := 15.0
		if i == 19 {
			d = 1000
		}
		var attrs []string
		if deadline {
			attrs = []string{"headroom.call.deadline_ms", "2000"}
		}
		trs = append(trs, svcTrace(fmt.Sprintf("pr%02d", i), "/api/profile", d+3, remote("a", "h", "accounts", "/users/7", 1, 1+d, 0.4, attrs...)))
	}
	return trs
}

// home is GET /api/home calling accounts, posts and payments for 10 ms each (0.4 ms network),
// one after the other when serial, else all at once.
func home(id string, serial bool, routes ...string) *Trace {
	var spans [][]sp
	peers := []string{"accounts", "posts", "payments"}
	for i, r := range routes {
		s := 1.0
		if serial {
			s += 10 * float64(i)
		}
		spans = append(spans, remote(fmt.Sprint("c", i), "h", peers[i%3], r, s, s+10, 0.4))
	}
	return svcTrace(id, "/api/home", 33, spans...)
}

// checkoutSteps is POST /api/checkout making three calls to the payments service one after the
// other (create the order, charge it, settle it): each needs the one before, not a fan-out.
func checkoutSteps(id string) *Trace {
	return svcTrace(id, "/api/checkout", 33, remote("o", "h", "payments", "/orders", 1, 11, 0.4),
		remote("c", "h", "payments", "/charges", 11, 21, 0.4), remote("s", "h", "payments", "/orders/1/settlement", 21, 31, 0.4))
}

// hop is GET /api/post calling posts once: 1 ms in posts, net ms on the network.
func hop(id string, net float64) *Trace {
	return svcTrace(id, "/api/post", net+3, remote("p", "h", "posts", "/posts/9", 1, 2+net, net))
}

// postsN1 is GET /api/feed calling posts for 6 posts one after the other, 12 ms each, directly
// or through a logical call's parent span.
func postsN1(id string, wrapped bool) *Trace {
	var spans [][]sp
	for i := range 6 {
		s := 1 + 12*float64(i)
		cid := fmt.Sprint("c", i)
		route := fmt.Sprintf("/posts/%d", 100+i)
		if !wrapped {
			spans = append(spans, remote(cid, "h", "posts", route, s, s+12, 0.4))
			continue
		}
		spans = append(spans, append([]sp{{id: "w" + cid, parent: "h", name: "call posts GET /posts/{id}", kind: KindInternal, start: s, end: s + 12,
			attrs: []string{"headroom.call.attempts", "1", "headroom.call.outcome", "ok"}}}, remote(cid, "w"+cid, "posts", route, s, s+12, 0.4)...))
	}
	return svcTrace(id, "/api/feed", 80, spans...)
}

// checkoutSerial is POST /api/checkout calling inventory, pricing and fraud for 1 s each, one
// after the other: consecutive_http, across services.
func checkoutSerial(id string) *Trace {
	return svcTrace(id, "/api/checkout", 3100, remote("i", "h", "inventory", "/stock", 1, 1001, 0.4),
		remote("p", "h", "pricing", "/quote", 1010, 2010, 0.4), remote("f", "h", "fraud", "/score", 2020, 3020, 0.4))
}

var svcGoldenCases = []struct {
	name string
	want []result.Kind // every kind found, sorted
	tr   []*Trace
}{
	{"services_breakdown", nil, feed(10)},
	{"services_breakdown_near_miss_one_service", nil, monolithFeed(3)},
	{"retry_storm", []result.Kind{result.KindRetryStorm}, []*Trace{charge("rs1", 5), charge("rs2", 4)}},
	{"retry_storm_near_miss_2_attempts", nil, []*Trace{charge("rs3", 2)}},
	{"missing_deadline", []result.Kind{result.KindMissingDeadline, result.KindTailLatency}, profiles(false)},
	{"missing_deadline_near_miss_deadline_set", []result.Kind{result.KindTailLatency}, profiles(true)},
	{"serial_fanout", []result.Kind{result.KindSerialFanout}, []*Trace{home("sf1", true, "/users/7", "/posts", "/charges")}},
	{"serial_fanout_near_miss_concurrent", nil, []*Trace{home("sf2", false, "/users/7", "/posts", "/charges")}},
	{"serial_fanout_near_miss_2_calls", nil, []*Trace{home("sf3", true, "/users/7", "/posts")}},
	{"serial_fanout_near_miss_one_service", nil, []*Trace{checkoutSteps("sf4")}},
	{"network_hop", []result.Kind{result.KindNetworkHop}, []*Trace{hop("nh1", 4), hop("nh2", 6)}},
	{"network_hop_near_miss_0_8ms", nil, []*Trace{hop("nh3", 0.8), hop("nh4", 0.8)}},
	{"n_plus_one_http_across_services", []result.Kind{result.KindNPlusOneHTTP}, []*Trace{postsN1("np1", false)}},
	{"n_plus_one_http_across_services_wrapped", []result.Kind{result.KindNPlusOneHTTP}, []*Trace{postsN1("np2", true)}},
	{"consecutive_http_across_services", []result.Kind{result.KindConsecutiveHTTP}, []*Trace{checkoutSerial("ch1")}},
}

// TestServicesGolden runs the service detectors and the breakdown over synthetic multi-service
// traces: each case finds exactly its kinds (a near miss none of the service kinds), and the
// golden files pin the output.
func TestServicesGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range svcGoldenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := Diagnose(tc.tr, Config{})
			var kinds []result.Kind
			for _, x := range f.Findings {
				kinds = append(kinds, x.Kind)
				if x.EstimatedSavingMS <= 0 || x.ShareOfP99 <= 0 || x.Remedy == "" || len(x.Evidence.TraceIDs) == 0 ||
					x.EstimatedSavingMS > x.Evidence.TotalMS {
					t.Errorf("finding lacks saving, share, remedy or evidence, or saves more than its time: %+v", x)
				}
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, tc.want) {
				t.Errorf("want kinds %v, got %v", tc.want, kinds)
			}
			checkBounded(t, f)
			golden(t, tc.name, f)
		})
	}
}

func TestServicesBreakdown(t *testing.T) {
	t.Parallel()
	f := Diagnose(feed(10), Config{})
	if len(f.Services) != 1 {
		t.Fatalf("want one services breakdown, got %+v", f.Services)
	}
	b := f.Services[0]
	if b.Endpoint != "GET /api/feed" || b.Requests != 10 || len(b.Hops) != 2 {
		t.Fatalf("breakdown: %+v", b)
	}
	posts, accounts := b.Hops[0], b.Hops[1]
	if posts.Caller != "headroom-gateway" || posts.Peer != "posts" || posts.Calls != 20 || posts.CallsPerRequest != 2 ||
		posts.Network.Calls != 20 || posts.Network.P50MS != 2 || posts.Call.P50MS != 6 {
		t.Errorf("posts hop: %+v", posts)
	}
	if accounts.Peer != "accounts" || accounts.CallsPerRequest != 1 || accounts.Call.P50MS != 4 || accounts.Network.P99MS != 1 {
		t.Errorf("accounts hop: %+v", accounts)
	}
	self := map[string]result.ServiceTime{}
	for _, s := range b.Services {
		self[s.Service] = s
	}
	// posts' own time is its two server spans: 4 ms each, or 4 + 5 when the first runs long.
	if s := self["headroom-posts"]; s.Self.Requests != 10 || s.Self.P50MS != 8+1 || s.Self.P99MS != 10 {
		t.Errorf("posts self time: %+v", s)
	}
	if s := self["headroom-accounts"]; s.MeanMS != 3 {
		t.Errorf("accounts self time: %+v", s)
	}
	// The gateway's own time is its request less the time it waited on the calls.
	if s := self["headroom-gateway"]; s.Self.P50MS < 1 || s.Self.P50MS > 2 {
		t.Errorf("gateway self time: %+v", s)
	}
}

func TestRetryStormEvidence(t *testing.T) {
	t.Parallel()
	f := Diagnose([]*Trace{charge("rs1", 5), charge("rs2", 4)}, Config{})
	x := f.Findings[0]
	// 9 attempts in 2 calls, 7 failed; each call's saving is its window less its one success.
	if x.Evidence.AttemptsPerCall != 4.5 || x.Evidence.ErrorShare != round3(7.0/9) || x.Evidence.Count != 5 ||
		x.Evidence.Operation != "payments POST http://payments:8080/charges" {
		t.Errorf("evidence: %+v", x.Evidence)
	}
	if want := ((140.0 - 20) + (110.0 - 20)) / 2; x.EstimatedSavingMS != want || x.Evidence.TotalMS != 125 {
		t.Errorf("saving %v of %v ms, want %v of 125", x.EstimatedSavingMS, x.Evidence.TotalMS, want)
	}
}

func TestMissingDeadlineSaving(t *testing.T) {
	t.Parallel()
	f := Diagnose(profiles(false), Config{})
	for _, x := range f.Findings {
		// P50 18 ms: the deadline is MissingDeadlineMin (100 ms), and the 1 s call would have
		// ended there.
		if x.Kind == result.KindMissingDeadline && (x.EstimatedSavingMS != 900 || x.Evidence.TotalMS != 1000 || x.Evidence.Count != 1 ||
			!slices.Equal(x.Evidence.TraceIDs, []string{"pr19"})) {
			t.Errorf("missing_deadline: %+v", x)
		}
	}
}

// FuzzServices builds multi-service requests from arbitrary times, statuses, attempts and
// attributes: the breakdown's counts and times stay in range, and every finding within what
// the requests took.
func FuzzServices(f *testing.F) {
	f.Add(uint8(5), int64(1000), int64(21_000), int64(200), uint16(503), "503", "2", "", uint8(4), int64(30_000), true)
	f.Add(uint8(20), int64(1000), int64(1_001_000), int64(400), uint16(200), "", "1", "250", uint8(1), int64(0), false)
	f.Add(uint8(3), int64(-9e15), int64(9e15), int64(math.MaxInt64/4), uint16(0), "timeout", "x", "nan", uint8(255), int64(-1), true)
	f.Fuzz(func(t *testing.T, n uint8, callS, callE, netUS int64, st uint16, errType, attemptAttr, deadline string, attempts uint8, gapUS int64, withCallee bool) {
		us := func(v int64) float64 { return float64(v) / 1000 }
		var trs []*Trace
		for i := range int(n%40) + 1 {
			spans := gateway("/x", us(callE)+us(gapUS)*float64(attempts%8))
			for j := range int(attempts%8) + 1 {
				s, e := us(callS)+float64(j)*us(gapUS), us(callE)+float64(j)*us(gapUS)
				id := fmt.Sprint("a", j)
				attrs := []string{"error.type", errType, "headroom.call.attempt", attemptAttr}
				if deadline != "" {
					attrs = append(attrs, "headroom.call.deadline_ms", deadline)
				}
				spans = append(spans, attempt(id, "h", []string{"posts", "accounts"}[j%2], "GET", "/p", s, e, fmt.Sprint(st), attrs...))
				if withCallee {
					spans = append(spans, callee(id, "posts", "GET", "/p", s+us(netUS)/2, e-us(netUS)/2, fmt.Sprint(st)))
				}
			}
			tr := mk(fmt.Sprint("fz", i), spans...)
			for _, s := range tr.Spans { // as Read repairs it
				if s.End.Before(s.Start) {
					s.End = s.Start
				}
			}
			trs = append(trs, tr)
		}
		got := Diagnose(trs, Config{MaxEvidence: 3})
		checkBounded(t, got)
		for _, b := range got.Services {
			if b.Requests < 1 || b.Requests > len(trs) {
				t.Fatalf("breakdown requests out of range: %+v", b)
			}
			for _, s := range b.Services {
				if s.Self.Requests > b.Requests || s.MeanMS < 0 || s.Self.P50MS > s.Self.P99MS || math.IsNaN(s.MeanMS) || math.IsInf(s.MeanMS, 0) {
					t.Fatalf("service time out of range: %+v", s)
				}
			}
			for _, h := range b.Hops {
				if h.Calls < 1 || h.Network.Calls > h.Calls || h.Errors > h.Calls || h.Call.Calls != h.Calls || h.CallsPerRequest <= 0 {
					t.Fatalf("hop counts out of range: %+v", h)
				}
				for _, c := range []result.CallTime{h.Call, h.Network} {
					if c.P50MS < 0 || c.P50MS > c.P99MS || math.IsNaN(c.MeanMS) || math.IsInf(c.P99MS, 0) {
						t.Fatalf("hop time out of range: %+v", h)
					}
				}
				if h.Network.P99MS > h.Call.P99MS {
					t.Fatalf("network exceeds the call: %+v", h)
				}
			}
		}
		for _, x := range got.Findings {
			if x.Evidence.ErrorShare < 0 || x.Evidence.ErrorShare > 1 || x.Evidence.NetworkShare < 0 || x.Evidence.NetworkShare > 1 ||
				len(x.Evidence.TraceIDs) > 3 || (x.Kind == result.KindRetryStorm && x.Evidence.AttemptsPerCall < RetryStormMinAttempts) {
				t.Fatalf("service evidence out of range: %+v", x)
			}
		}
	})
}

// svcLines is one OTLP JSON request of the gateway and one of payments, as the services export
// them (resources, int, double and bool attributes): a logical call to payments made in 3
// attempts, the first two answered 503.
func svcLines(trace string, startNS int64) string {
	str := func(k, v string) string { return fmt.Sprintf(`{"key":%q,"value":{"stringValue":%q}}`, k, v) }
	b := func(k string, v bool) string { return fmt.Sprintf(`{"key":%q,"value":{"boolValue":%v}}`, k, v) }
	i := func(k string, v int) string { return fmt.Sprintf(`{"key":%q,"value":{"intValue":"%d"}}`, k, v) }
	dbl := func(k string, v float64) string { return fmt.Sprintf(`{"key":%q,"value":{"doubleValue":%v}}`, k, v) }
	res := func(svc string, spans ...string) string {
		return `{"resourceSpans":[{"resource":{"attributes":[` + str("service.name", svc) + `]},"scopeSpans":[{"scope":{"name":"x"},"spans":[` +
			strings.Join(spans, ",") + `]}]}]}`
	}
	span := func(id, parent, name string, kind int, s, e int64, attrs ...string) string {
		return fmt.Sprintf(`{"traceId":%q,"spanId":%q,"parentSpanId":%q,"name":%q,"kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s]}`,
			trace, id, parent, name, kind, startNS+s, startNS+e, strings.Join(attrs, ","))
	}
	const ms = 1_000_000
	gw := []string{span("r", "", "POST /api/checkout", 2, 0, 100*ms, str("http.route", "/api/checkout"), str("http.request.method", "POST"),
		i("http.response.status_code", 200)),
		span("c", "r", "call payments POST /charges", 1, 1*ms, 95*ms, i("headroom.call.attempts", 3), str("headroom.call.outcome", "ok"))}
	var pay []string
	for k := range 3 {
		s := int64(1+30*k) * ms
		st, errType := 503, str("error.type", "503")
		if k == 2 {
			st, errType = 200, str("x", "")
		}
		id := fmt.Sprint("a", k)
		gw = append(gw, span(id, "c", "payments POST /charges", 3, s, s+20*ms, str("peer.service", "payments"), str("http.request.method", "POST"),
			str("url.full", "http://127.0.0.1:8082/charges"), i("http.response.status_code", st), i("headroom.call.attempt", k+1),
			b("headroom.call.hedge", false), dbl("headroom.call.deadline_ms", 250.5), errType))
		pay = append(pay, span("s"+id, id, "POST /charges", 2, s+2*ms, s+18*ms, str("http.route", "/charges"), i("http.response.status_code", st)))
	}
	return res("headroom-gateway", gw...) + "\n" + res("headroom-payments", pay...) + "\n"
}

// TestServicesFromOTLP reads the services' spans as they are exported, through the decoder.
func TestServicesFromOTLP(t *testing.T) {
	t.Parallel()
	var in strings.Builder
	for k := range 4 {
		in.WriteString(svcLines(fmt.Sprintf("%032x", k+1), 1_700_000_000_000_000_000+int64(k)*1_000_000_000))
	}
	got, err := Read(strings.NewReader(in.String()), ReadConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f := Analyze(got, Config{})
	if len(f.Findings) != 1 || f.Findings[0].Kind != result.KindRetryStorm || f.Findings[0].Evidence.AttemptsPerCall != 3 ||
		f.Findings[0].EstimatedSavingMS != 60 {
		t.Fatalf("want a retry_storm of 3 attempts per call saving 60 ms, got %+v", f.Findings)
	}
	if len(f.Services) != 1 || len(f.Services[0].Hops) != 1 {
		t.Fatalf("breakdown: %+v", f.Services)
	}
	h := f.Services[0].Hops[0]
	if h.Caller != "headroom-gateway" || h.Peer != "payments" || h.CallsPerRequest != 3 || h.Errors != 8 || h.Network.P50MS != 4 {
		t.Errorf("hop: %+v", h)
	}
}

// TestSerialFanoutOfLogicalCalls: the calls of a fan-out made through logical calls (a parent
// span per call, its attempts under it) are named by their peer and first attempt.
func TestSerialFanoutOfLogicalCalls(t *testing.T) {
	t.Parallel()
	var spans [][]sp
	for i, peer := range []string{"accounts", "posts", "payments"} {
		s := 1 + 10*float64(i)
		w := fmt.Sprint("w", i)
		spans = append(spans, append([]sp{{id: w, parent: "h", name: "call " + peer + " GET /x", kind: KindInternal, start: s, end: s + 10,
			attrs: []string{"headroom.call.attempts", "1"}}}, remote(fmt.Sprint("c", i), w, peer, "/x", s, s+10, 0.4)...))
	}
	f := Diagnose([]*Trace{svcTrace("lc1", "/api/home", 33, spans...)}, Config{})
	want := "accounts GET http://accounts:8080/x; posts GET http://posts:8080/x; payments GET http://payments:8080/x"
	if len(f.Findings) != 1 || f.Findings[0].Kind != result.KindSerialFanout || f.Findings[0].Evidence.Operation != want ||
		f.Findings[0].EstimatedSavingMS != 20 {
		t.Fatalf("want one serial_fanout of %s saving 20 ms, got %+v", want, f.Findings)
	}
}
