package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/headroom/headroom/result"
)

// WriteDiagnosis writes the ranked findings, then where each endpoint's time goes (latency,
// self time by category, the top of the critical path), for requests through an edge node the
// time at the edge, on the edge ↔ origin link and at the origin, for requests across services
// each service's own time and each hop's calls and network time, what the tail over-spends on
// compared with the median, and the bad input that was tolerated. t links trace ids (see [WriteFindings]).
func WriteDiagnosis(w io.Writer, f *result.Findings, t TraceURL) error {
	if err := WriteFindings(w, f, t); err != nil {
		return err
	}
	var b strings.Builder
	if len(f.Endpoints) > 0 {
		b.WriteString("\nwhere the time goes (mean per request):\n")
	}
	for _, ep := range f.Endpoints {
		fmt.Fprintf(&b, "  %s: %d traces, p50 %.1f ms, p90 %.1f ms, p99 %.1f ms\n", ep.Endpoint, ep.Count, ep.P50MS, ep.P90MS, ep.P99MS)
		cats := slices.Collect(maps.Keys(ep.SelfTimeMS))
		slices.SortFunc(cats, func(a, b string) int {
			if d := ep.SelfTimeMS[b] - ep.SelfTimeMS[a]; d != 0 {
				if d > 0 {
					return 1
				}
				return -1
			}
			return strings.Compare(a, b)
		})
		parts := make([]string, len(cats))
		for i, c := range cats {
			parts[i] = fmt.Sprintf("%s %.1f ms", c, ep.SelfTimeMS[c])
		}
		fmt.Fprintf(&b, "    self time: %s\n", strings.Join(parts, ", "))
		for i, s := range ep.CriticalPath {
			if i == 3 {
				break
			}
			fmt.Fprintf(&b, "    critical path: %5.1f ms %3.0f %%  %s %s\n", s.MS, s.Share*100, s.Category, s.Operation)
		}
	}
	writeEdge(&b, f.Edge)
	writeServices(&b, f.Services)
	writeFunctions(&b, f.Functions)
	if len(f.TailVsMedian) > 0 {
		b.WriteString("\ntail vs median:\n")
	}
	for _, tc := range f.TailVsMedian {
		fmt.Fprintf(&b, "  %s: %s\n", tc.Endpoint, tc.Summary)
	}
	if f.Input != nil && len(f.Input.Tolerated) > 0 {
		reasons := slices.Sorted(maps.Keys(f.Input.Tolerated))
		parts := make([]string, len(reasons))
		for i, r := range reasons {
			parts[i] = fmt.Sprintf("%s %d", r, f.Input.Tolerated[r])
		}
		fmt.Fprintf(&b, "\ninput: %d traces, %d spans; tolerated: %s\n", f.Input.Traces, f.Input.Spans, strings.Join(parts, ", "))
	}
	if f.Input != nil && f.Input.Background > 0 {
		fmt.Fprintf(&b, "\n%d background traces (not started by a request or a job) are left out of the endpoints\n", f.Input.Background)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeEdge writes the edge breakdown of each endpoint whose requests crossed an edge node.
func writeEdge(b *strings.Builder, edges []result.EdgeBreakdown) {
	if len(edges) > 0 {
		b.WriteString("\nthrough the edge (per request):\n")
	}
	for _, e := range edges {
		by := slices.Sorted(maps.Keys(e.AnsweredBy))
		parts := make([]string, len(by))
		for i, k := range by {
			parts[i] = fmt.Sprintf("%s %d", k, e.AnsweredBy[k])
		}
		fmt.Fprintf(b, "  %s: %d requests, %.0f %% answered at the edge (%s)\n", e.Endpoint, e.Requests, e.AnsweredAtEdge*100, strings.Join(parts, ", "))
		for _, t := range []struct {
			name, of string
			t        result.TierTime
		}{{"at the edge", "requests", e.Edge}, {"edge ↔ origin", "fetched", e.Link}, {"at the origin", "fetched", e.Origin}} {
			if t.t.Requests == 0 {
				continue
			}
			fmt.Fprintf(b, "    %-13s  p50 %7.1f ms  p99 %7.1f ms  (%d %s)\n", t.name, t.t.P50MS, t.t.P99MS, t.t.Requests, t.of)
		}
		if e.OriginUnseen > 0 {
			fmt.Fprintf(b, "    %d fetched from the origin without the origin's span in the trace: link and origin time not split\n", e.OriginUnseen)
		}
	}
}

// writeFunctions writes, per serverless function, its cold and warm invocations, the cold starts'
// share of its slowest ones, its init phases and what keeping it warm would cost.
func writeFunctions(b *strings.Builder, fns []result.FunctionBreakdown) {
	if len(fns) > 0 {
		b.WriteString("\nserverless functions (per invocation):\n")
	}
	for _, fn := range fns {
		fmt.Fprintf(b, "  %s (%s): %d invocations, %.1f %% cold, %.2f/s, up to %d at once, %d MB\n",
			fn.Function, fn.Endpoint, fn.Invocations, fn.ColdShare*100, fn.RatePerSecond, fn.PeakConcurrency, fn.MemoryMB)
		if fn.TimerInvocations > 0 {
			fmt.Fprintf(b, "    (%d timer invocations left out: keep-warm pings or scheduled runs)\n", fn.TimerInvocations)
		}
		for _, t := range []struct {
			name string
			t    result.TierTime
		}{{"warm", fn.Warm}, {"cold", fn.Cold}, {"cold start", fn.ColdStart}} {
			if t.t.Requests > 0 {
				fmt.Fprintf(b, "    %-10s  p50 %7.1f ms  p99 %7.1f ms  (%d)\n", t.name, t.t.P50MS, t.t.P99MS, t.t.Requests)
			}
		}
		for _, p := range fn.Init {
			fmt.Fprintf(b, "      init %-18s p50 %7.1f ms  p99 %7.1f ms  (%d)\n", p.Phase, p.Time.P50MS, p.Time.P99MS, p.Time.Requests)
		}
		fmt.Fprintf(b, "    cold starts are %.0f %% of the slowest 1 %%'s time; keep-warm ~$%.4f/month, provisioned concurrency ~$%.2f/month\n",
			fn.ColdShareOfP99*100, fn.KeepWarmUSDPerMonth, fn.ProvisionedUSDPerMonth)
	}
}

// writeServices writes, per endpoint whose requests crossed services, each service's own time
// and each hop's calls per request, time per call and its network part.
func writeServices(b *strings.Builder, svcs []result.ServiceBreakdown) {
	if len(svcs) > 0 {
		b.WriteString("\nacross services:\n")
	}
	for _, s := range svcs {
		fmt.Fprintf(b, "  %s: %d requests\n", s.Endpoint, s.Requests)
		for _, t := range s.Services {
			fmt.Fprintf(b, "    %-28s self  mean %7.1f ms  p50 %7.1f ms  p99 %7.1f ms  (%d requests)\n",
				t.Service, t.MeanMS, t.Self.P50MS, t.Self.P99MS, t.Self.Requests)
		}
		for _, h := range s.Hops {
			errs := ""
			if h.Errors > 0 {
				errs = fmt.Sprintf(", %d failed", h.Errors)
			}
			fmt.Fprintf(b, "    %s → %s: %.2f calls per request (%d calls%s)\n", h.Caller, h.Peer, h.CallsPerRequest, h.Calls, errs)
			fmt.Fprintf(b, "      per call  p50 %7.2f ms  p99 %7.2f ms  mean %7.2f ms\n", h.Call.P50MS, h.Call.P99MS, h.Call.MeanMS)
			if h.Network.Calls == 0 {
				b.WriteString("      network   not split: the callee's spans are not in the traces\n")
				continue
			}
			fmt.Fprintf(b, "      network   p50 %7.2f ms  p99 %7.2f ms  mean %7.2f ms  (%d calls with the callee's span)\n",
				h.Network.P50MS, h.Network.P99MS, h.Network.MeanMS, h.Network.Calls)
		}
	}
}
