// Package edge is the lab's edge tier: a CDN node in front of the origin (the lab's API), with
// the network between them. A user reaches the node across a short link and the node reaches the
// origin across a long one (lab/netem, real TCP delays); a direct link from users to the origin
// crosses both distances, so every request can be measured with and without the edge.
//
// Per route, the node runs a chain of edge functions in WebAssembly isolates (lab/isolate: auth,
// localization, filtering and routing, preferences), then its shared HTTP cache
// (lab/edge/httpcache, RFC 9111), then the origin over kept-alive TLS connections. It is
// instrumented as the rest of the lab: a span per request with its cache status and who answered,
// a span per function with its isolate's cold or warm start, the origin fetch as a client span
// whose trace context the origin continues, and Prometheus metrics.
//
// Like the rest of the lab it never imports headroom's measurement packages.
package edge
