// Package web is the lab's browser side, what an edge in front of it caches: static assets (a
// script and a stylesheet embedded in the binary, PNG images generated at start, the same bytes
// on every run) under fingerprinted names that are immutable for a year and unfingerprinted
// aliases that revalidate after 60 s, and the home page, localized by Accept-Language (en, fr,
// de, ja, with golang.org/x/text/language's matcher) and priced in the currency of the
// Headroom-Region header, cacheable for 60 s with stale-while-revalidate.
//
// Every response carries a strong ETag and honours If-None-Match with 304. lab/api registers the
// routes behind its instrumentation. It must not import headroom's measurement packages.
package web
