// Package httpcache is the edge node's shared HTTP cache (RFC 9111, with RFC 5861's
// stale-while-revalidate and stale-if-error): the edge's reverse proxy calls [Cache.Serve] with a
// [Fetcher] to the origin, and the cache answers from storage, revalidates, coalesces or forwards,
// writing a Cache-Status field (RFC 9211) on every response and returning a [Result] for the
// edge's spans and metrics.
//
// # Storage
//
// Responses live in memory in github.com/maypok86/otter/v2 (W-TinyLFU), bounded by
// Config.MaxBytes as the weigher counts it: body plus header names and values plus key. One
// entry holds all the Vary variants of one URI (at most Config.MaxVariants, newest kept); a URI's
// variants together are bounded by Config.MaxEntryBytes (default 1/8 of MaxBytes), and an origin
// body larger than that is streamed to its client, never buffered whole, and not stored.
//
// # Which rules come from github.com/pquerna/cachecontrol (v0.2.0)
//
// Used as is, in shared-cache mode: the Cache-Control parsers (request and response) and the
// storage reasons of cacheobject.CachableObject: method, request and response no-store,
// private, and RFC 9111 §3.5 (a request with Authorization is stored only if the response has
// public, s-maxage or must-revalidate), which it gets right.
//
// Our own code, where the library departs from RFC 9111 or lacks what a shared cache needs:
//   - the status codes cacheable by default are RFC 9110 §15.1's (the library's RFC 7231 list lacks
//     308; 206 is left out because this cache does not combine ranges; a 304 or 1xx is never stored);
//   - an invalid Expires ("0", "-1") or more than one means already expired (§5.3); the library
//     ignores it and falls through to heuristic freshness;
//   - heuristic freshness (§4.2.2) applies only to a status cacheable by default or a public
//     response, is 10 % of Date − Last-Modified (the library counts from its own clock), capped by
//     Config.HeuristicMax;
//   - age (§4.2.3: Age field, apparent age, response delay) is counted; the library ignores it;
//   - several Cache-Control lines are combined (the library reads the first), an invalid Date or
//     Last-Modified is ignored rather than failing the whole decision, and a malformed response
//     Cache-Control makes the response not stored;
//   - the clock is injected (Config.Now); the library's high-level API reads time.Now;
//   - a response with Set-Cookie is not stored, as Varnish's builtin VCL and CDNs do: it would hand
//     one user's cookie to all;
//   - reuse: no-cache, must-revalidate, proxy-revalidate, and s-maxage (which implies
//     proxy-revalidate for a shared cache unless the response also carries an explicit stale-*
//     directive), request no-cache, max-age, Pragma: no-cache and only-if-cached;
//     stale-while-revalidate and stale-if-error (the library parses them but decides nothing).
//
// Qualified no-cache="field" and private="field" are treated as unqualified (allowed, and safe);
// request max-stale and min-fresh, must-understand and HEAD-response freshening (§4.3.5) are not
// implemented; a request with Range bypasses the cache.
//
// # Coalescing and hit-for-pass
//
// Concurrent misses of one key (or, once a URI's Vary is known, of one variant) make a single
// origin fetch; the followers wait and are answered from the stored result with `collapsed` in
// Cache-Status. When that response cannot be shared (not storable, or too large), the followers
// fetch for themselves and the URI is marked hit-for-pass for Config.HitForPass: its later misses
// go straight to the origin instead of queueing behind one another. Unlike Varnish's hit-for-pass
// and like its hit-for-miss, their responses are still judged, and a storable one is stored and
// ends the mark. Origin errors (5xx, connection failures) do not mark a URI. Concurrent
// revalidations of one stale variant coalesce the same way, and stale-while-revalidate starts one
// background validation per variant at a time.
//
// It is part of the lab and must not import headroom's measurement packages.
package httpcache
