#!/usr/bin/env bash
# diagnose over 1M spans (or 10M): writes TRACES traces of 50 spans each (the lab's GET /api/posts
# with n_plus_one and sync_logging: a list query, 20 author lookups with a driver-noise span after
# each, 3 HTTP calls, a log shipment, a pool wait, a cache lookup) as OTLP JSON lines, then times
# `headroom diagnose` reading and analysing them end to end, one trace at a time.
#
#   bash bench/diagnose-1m.sh              # 1M spans: TRACES=20000
#   SPANS=10M bash bench/diagnose-1m.sh    # 10M spans: TRACES=200000 (a 3 GB file)
#
# Prints wall time, CPU time and peak RSS (/usr/bin/time -v), each with its target and its ratio
# to the figures before diagnose streamed (1M spans: 3.6 s wall, 852 MB peak RSS, 2026-12-01).
# On a shared machine the CPU time is the steadier figure. Measured figures, before and after the
# speed work, with the load they were measured under: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${SPANS:-}" in
  "") TRACES=${TRACES:-20000} ;;
  1M) TRACES=20000 ;;
  10M) TRACES=200000 ;;
  *) echo "SPANS=$SPANS: want 1M or 10M (or set TRACES)" >&2; exit 2 ;;
esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/headroom" ./cmd/headroom
awk -v n="$TRACES" 'BEGIN {
  t0 = 1700000000000000000
  for (i = 0; i < n; i++) {
    tid = sprintf("%032x", i); base = t0 + i * 1000000000
    printf "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"lab\"}}]},\"scopeSpans\":[{\"spans\":["
    end = 95 + i % 7
    sp(tid, "00000000000000r0", "", "GET /api/posts", 2, 0, end, "{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/api/posts\"}},{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}}", 1)
    sp(tid, "00000000000000h0", "00000000000000r0", "handler", 1, 0.5, end - 0.5, "", 0)
    sp(tid, "00000000000000l0", "00000000000000h0", "SELECT posts", 3, 1, 3, db("SELECT id, title FROM posts ORDER BY created_at DESC LIMIT 20"), 0)
    for (j = 0; j < 20; j++) {
      s = 3 + j * 3
      sp(tid, sprintf("%016x", 100 + j), "00000000000000h0", "SELECT users", 3, s, s + 2.8, db(sprintf("SELECT id, name FROM users WHERE id = %d", (i * 20 + j) % 5000)), 0)
      sp(tid, sprintf("%016x", 200 + j), "00000000000000h0", "sql.conn.reset", 1, s + 2.8, s + 2.8, "", 0)
    }
    for (j = 0; j < 3; j++)
      sp(tid, sprintf("%016x", 300 + j), "00000000000000h0", "GET", 3, 64 + 2 * j, 66 + 2 * j, http("GET", sprintf("http://users.internal:8080/users/%d?fields=name", 100 + j)), 0)
    sp(tid, "0000000000000400", "00000000000000h0", "POST", 3, 70, 80 + i % 7, http("POST", "http://127.0.0.1:9999/logs") ",{\"key\":\"peer.service\",\"value\":{\"stringValue\":\"log-collector\"}}", 0)
    sp(tid, "0000000000000401", "00000000000000h0", "render", 1, 63, 64, "", 0)
    sp(tid, "0000000000000402", "00000000000000h0", "pool.acquire", 1, 0.5, 0.9, "", 0)
    sp(tid, "0000000000000403", "00000000000000h0", "GET", 3, 0.9, 1, "{\"key\":\"db.system.name\",\"value\":{\"stringValue\":\"redis\"}},{\"key\":\"db.query.text\",\"value\":{\"stringValue\":\"GET feed\"}}", 0)
    printf "]}]}]}\n"
  }
}
function db(q) { return "{\"key\":\"db.system.name\",\"value\":{\"stringValue\":\"postgresql\"}},{\"key\":\"db.query.text\",\"value\":{\"stringValue\":\"" q "\"}}" }
function http(m, u) { return "{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"" m "\"}},{\"key\":\"url.full\",\"value\":{\"stringValue\":\"" u "\"}}" }
function sp(tid, id, parent, name, kind, s, e, attrs, first) {
  printf "%s{\"traceId\":\"%s\",\"spanId\":\"%s\",\"parentSpanId\":\"%s\",\"name\":\"%s\",\"kind\":%d,\"startTimeUnixNano\":\"%d\",\"endTimeUnixNano\":\"%d\",\"attributes\":[%s]}",
    (first ? "" : ","), tid, id, parent, name, kind, base + s * 1000000, base + e * 1000000, attrs
}' >"$out/traces.jsonl"
spans=$(( TRACES * 50 ))
echo "traces.jsonl: $TRACES traces, $spans spans, $(du -m "$out/traces.jsonl" | cut -f1) MB"
/usr/bin/time -v -o "$out/time.txt" "$out/headroom" diagnose --traces "$out/traces.jsonl" --out "$out/findings.json" >"$out/report.txt"
head -3 "$out/report.txt"
# The targets scale with the spans: 1.5 s per 1M spans; memory bounded, 150 MB whatever the size.
awk -v spans="$spans" -F': ' '
  /Elapsed \(wall clock\)/ { n = split($2, p, ":"); wall = 0; for (i = 1; i <= n; i++) wall = wall * 60 + p[i] }
  /User time/ { user = $2 }
  /System time/ { sys = $2 }
  /Maximum resident set size/ { rss = $2 / 1024 }
  END {
    m = spans / 1e6
    printf "headroom diagnose over %d spans: %.2f s wall (target ≤ %.1f s; %.2f× the 3.6 s per 1M spans before streaming)\n", spans, wall, 1.5 * m, wall / (3.6 * m)
    printf "  CPU %.2f s user + %.2f s sys\n", user, sys
    printf "  peak RSS %.0f MB (target ≤ 150 MB; %.2f× the 852 MB of 1M spans before streaming)\n", rss, rss / 852
  }' "$out/time.txt"
