// Package api is the lab's HTTP API (net/http ServeMux patterns): posts, comments, search, feed,
// checkout, invites, videos and account deletion, each classic mistake behind a [lab.Antipattern]
// switch read on every request, plus /admin/antipatterns to flip them at run time (loopback only)
// and /healthz, /readyz.
//
// Every route is instrumented: an OpenTelemetry server span (incoming traceparent honoured), RED
// metrics (a histogram per route with classic and native buckets and trace_id exemplars), an
// in-flight gauge, and a JSON access log line shipped to the remote log collector (synchronously
// under sync_logging, batched in the background otherwise).
//
// The package declares the interfaces it needs from the outside (Cache, Mailer, Payments,
// LogShipper); lab/app wires the implementations. It must not import headroom's measurement packages.
package api
