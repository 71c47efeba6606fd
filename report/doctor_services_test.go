package report_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
)

// hostile is a service name from a trace that would break out of the page were it not escaped.
const hostile = `evil"><script>alert(1)</script>`

// servicesDoctor is a report whose traces crossed four services: the gateway calls accounts and
// posts, posts calls a hostile-named service, and one hop has failed calls. As diagnose spells
// them, a hop's caller is its service.name and its peer the call's peer.service ("posts" for
// headroom-posts).
func servicesDoctor() *result.Doctor {
	ct := func(calls int, p50, p99 float64) result.CallTime {
		return result.CallTime{Calls: calls, P50MS: p50, P99MS: p99, MeanMS: p50}
	}
	return &result.Doctor{
		Schema: result.DoctorSchema, Target: "http://127.0.0.1:8080",
		Measurements: []result.Measurement{{Endpoint: "GET /api/feed", Condition: result.ConditionAsIs, Requests: 2000, AchievedRPS: 20,
			LatencyMS: result.Summary{Mean: 13, P50: 12, P99: 20, Max: 25}, Valid: true}},
		Services: []result.ServiceBreakdown{{Endpoint: "GET /api/feed", Requests: 200,
			Services: []result.ServiceTime{
				{Service: "headroom-posts", MeanMS: 4, Self: result.TierTime{Requests: 200, P50MS: 3.8, P99MS: 6}},
				{Service: "headroom-gateway", MeanMS: 1.2, Self: result.TierTime{Requests: 200, P50MS: 1.1, P99MS: 2}},
				{Service: "headroom-accounts", MeanMS: 1, Self: result.TierTime{Requests: 200, P50MS: 0.9, P99MS: 1.5}},
				{Service: hostile, MeanMS: 0.5, Self: result.TierTime{Requests: 100, P50MS: 0.5, P99MS: 0.7}},
			},
			Hops: []result.HopTime{
				{Caller: "headroom-gateway", Peer: "posts", Calls: 400, CallsPerRequest: 2, Errors: 3, Call: ct(400, 6, 9.5), Network: ct(400, 2, 2.4)},
				{Caller: "headroom-gateway", Peer: "accounts", Calls: 200, CallsPerRequest: 1, Call: ct(200, 4, 5), Network: ct(200, 1, 1.2)},
				{Caller: "headroom-posts", Peer: hostile, Calls: 100, CallsPerRequest: 0.5, Call: ct(100, 1.5, 2), Network: ct(0, 0, 0)},
			}}},
	}
}

func TestWriteDoctorServicesGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := report.WriteDoctor(&buf, servicesDoctor(), report.Options{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "doctor-services.txt", buf.Bytes())
	out := buf.String()
	for _, want := range []string{
		"across services (from traces)", "GET /api/feed (200 requests)",
		"headroom-gateway → posts", "2.0", "6.00 / 9.50", "2.00 / 2.40",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal report lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := report.WriteDoctor(&buf, &result.Doctor{Target: "x"}, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "across services") {
		t.Error("a report without services prints an across-services table")
	}
}

func TestWriteDoctorHTMLServices(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := report.WriteDoctorHTML(&buf, report.DoctorPage{Doctor: servicesDoctor()}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Contains(page, "<script>alert(1)") || strings.Contains(page, `evil">`) {
		t.Error("a hostile service name reaches the page unescaped")
	}
	start := strings.Index(page, `<svg xmlns="http://www.w3.org/2000/svg" class="servicemap"`)
	if start < 0 {
		t.Fatalf("report.html draws no service map:\n%s", page)
	}
	svg := page[start : start+strings.Index(page[start:], "</svg>")]

	// Nodes: every service, the entry first (depth 0), its callees in the next column, the
	// callee's callee in the one after.
	nodes := regexp.MustCompile(`<g class="service"><title>([^<]*)</title><rect x="(\d+)" y="(\d+)"`).FindAllStringSubmatch(svg, -1)
	var got []string
	for _, n := range nodes {
		got = append(got, n[1]+"@"+n[2]+","+n[3])
	}
	// A peer.service is drawn as the service it names.
	want := []string{
		"headroom-gateway@20,20",
		"headroom-accounts@320,20", "headroom-posts@320,98",
		"evil&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@620,20",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("nodes:\n got %v\nwant %v", got, want)
	}

	// Edges: one per hop, most calls per request first, labelled with calls per request, call
	// P50 and network P50; the hop with errors in red.
	edges := regexp.MustCompile(`<g class="hop( error)?"><title>([^<]*)</title><path d="([^"]*)"[^>]*stroke="([^"]*)" stroke-width="([^"]*)"[^>]*/><text[^>]*>([^<]*)</text>`).FindAllStringSubmatch(svg, -1)
	if len(edges) != 3 {
		t.Fatalf("%d edges drawn, want 3:\n%s", len(edges), svg)
	}
	for i, w := range []struct{ class, title, stroke, label string }{
		{" error", "headroom-gateway → posts: 400 calls, 2.0 per request, call P50 / P99 6.00 / 9.50 ms, network P50 / P99 2.00 / 2.40 ms, 3 errors", "#d62828", "2.0× · 6.00 ms (2.00)"},
		{"", "headroom-gateway → accounts: 200 calls", "#555", "1.0× · 4.00 ms (1.00)"},
		{"", "headroom-posts → evil&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;: 100 calls, 0.5 per request", "#555", "0.5× · 1.50 ms"},
	} {
		e := edges[i]
		if e[1] != w.class || !strings.HasPrefix(e[2], w.title) || e[4] != w.stroke || e[6] != w.label {
			t.Errorf("edge %d = class %q title %q stroke %q label %q, want %q %q… %q %q", i, e[1], e[2], e[4], e[6], w.class, w.title, w.stroke, w.label)
		}
	}
	if edges[0][5] <= edges[1][5] || edges[1][5] <= edges[2][5] {
		t.Errorf("stroke widths %s, %s, %s do not grow with calls per request", edges[0][5], edges[1][5], edges[2][5])
	}
	for _, want := range []string{
		`<h2 id="services">Across services (from traces)</h2>`,
		`<td>2.0</td><td>400</td><td>6.00 / 9.50</td><td>2.00 / 2.40</td><td class="bad">3</td>`,
		`<td>0.5</td><td>100</td><td>1.50 / 2.00</td><td>—</td><td>0</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(page, "leaves out") {
		t.Error("a map within bounds says it leaves services out")
	}

	buf.Reset()
	if err := report.WriteDoctorHTML(&buf, report.DoctorFixture(t)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `id="services"`) {
		t.Error("report.html without services shows a service map")
	}
}

// TestServiceMapBounded: beyond the bounds the map draws what fits and counts the rest.
func TestServiceMapBounded(t *testing.T) {
	t.Parallel()
	b := result.ServiceBreakdown{Endpoint: "GET /fan", Requests: 10}
	for i := range 30 {
		b.Hops = append(b.Hops, result.HopTime{Caller: "gw", Peer: fmt.Sprintf("s%02d", i), Calls: 10, CallsPerRequest: 1})
	}
	var buf bytes.Buffer
	if err := report.WriteDoctorHTML(&buf, report.DoctorPage{Doctor: &result.Doctor{Target: "x", Services: []result.ServiceBreakdown{b}}}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if n := strings.Count(page, `<g class="service">`); n != 12 {
		t.Errorf("%d services drawn, want 12", n)
	}
	if n := strings.Count(page, `<g class="hop`); n != 11 {
		t.Errorf("%d hops drawn, want 11 (those between the drawn services)", n)
	}
	if !strings.Contains(page, "The map leaves out 19 services and 19 hops") {
		t.Error("the map does not count what it leaves out")
	}
	if n := strings.Count(page, "<th scope=\"row\">gw → s"); n != 30 {
		t.Errorf("the table lists %d hops, want all 30", n)
	}
}
