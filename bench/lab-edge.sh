#!/usr/bin/env bash
# The notes' edge claims, measured on the lab: a lab (the origin) and its edge tier in two
# processes (`headroom lab` and `headroom lab edge`, sharing the token keys), across the default
# geography (user ↔ edge 2 ms RTT, edge ↔ origin 80 ms RTT). Every figure is a `headroom load`
# run (open model) through the edge and straight to the origin; each line prints the figure and
# the issue's target. Then the isolates' limits, from their tests.
#
#   bash bench/lab-edge.sh
#   RATE=50 SECS=10 UNAUTH=0.5 bash bench/lab-edge.sh
#
# Traffic goes to 127.0.0.1 only. Exit 0 whatever the figures: this script reports, it does not gate.
set -euo pipefail
RATE=${RATE:-50} SECS=${SECS:-10} UNAUTH=${UNAUTH:-0.5} PORT=${PORT:-18181}
EDGE=$((PORT + 1)) DIRECT=$((PORT + 2)) ADMIN=$((PORT + 3))
. "$(dirname "$0")/lab-common.sh"

"$hr" lab --addr "127.0.0.1:$PORT" --db "sqlite:$out/lab.db" --edge-keys "$out/keys.json" --seed-users 100 \
  --log-level warn >"$out/lab.log" 2>&1 &
lab_pid=$!
for _ in $(seq 1 300); do curl -sf "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$URL/readyz" >/dev/null || { echo "lab did not start:"; cat "$out/lab.log"; exit 3; }
"$hr" lab edge --origin "127.0.0.1:$PORT" --edge-keys "$out/keys.json" --edge-addr "127.0.0.1:$EDGE" \
  --direct-addr "127.0.0.1:$DIRECT" --admin-addr "127.0.0.1:$ADMIN" --log-level warn >"$out/edge.log" 2>&1 &
edge_pid=$!
trap 'kill $edge_pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$ADMIN/metrics" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$ADMIN/metrics" >/dev/null || { echo "edge did not start:"; cat "$out/edge.log"; exit 3; }
E="http://127.0.0.1:$EDGE" D="http://127.0.0.1:$DIRECT"
NODE=$(sed -n 's/^  edge node *\(http:[^ ]*\).*/\1/p' "$out/edge.log")
tok=$(curl -sf -X POST "$URL/api/login" -d '{"user_id":7}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
js=$(curl -sf "$URL/static/manifest.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["/static/app.js"])')

# run NAME URL [load flags…]: one measured run, its result in $out/NAME.json
run() {
  local name=$1 url=$2; shift 2
  "$hr" load "$url" --rate "$RATE" --duration "${SECS}s" --warmup 1s -q -o "$out/$name.json" "$@" >/dev/null || true
}
row() { # row LABEL NAME TARGET
  printf '%-44s %9.2f %9.2f %7s  %-8s %s\n' "$1" "$(field "$out/$2.json" 'd["latency_ms"]["p50"]')" "$(field "$out/$2.json" 'd["latency_ms"]["p99"]')" \
    "$(field "$out/$2.json" 'd["errors"]')" "$(field "$out/$2.json" '"valid" if d["verdict"]["valid"] else "INVALID"')" "$3"
}
metric() { # metric URL NAME: the sum of a series' samples
  curl -sf "$1/metrics" | python3 -c 'import sys; n=sys.argv[1]; print(sum(float(l.split()[-1]) for l in sys.stdin if l.startswith(n+"{") or l.startswith(n+" ")))' "$2"
}

run auth-edge "$E/api/me"
run auth-direct "$D/api/me"
run auth-node "$NODE/api/me"
run me-edge "$E/api/me" -H "Authorization: Bearer $tok"
run me-direct "$D/api/me" -H "Authorization: Bearer $tok"
run js-hit "$E$js"
run js-miss "$E$js" -H 'Cache-Control: no-cache'
run js-node "$NODE$js"
run page-edge "$E/page/home" -H 'Accept-Language: fr-CA,fr;q=0.8'
run page-direct "$D/page/home" -H 'Accept-Language: fr-CA,fr;q=0.8'

printf '%-44s %9s %9s %7s  %-8s %s\n' "measurement (${RATE} req/s, ${SECS}s)" "p50 ms" "p99 ms" errors verdict target
row "401 without a token, rejected at the edge" auth-edge "P50 ≤ 3 ms, P99 ≤ 5 ms"
row "401 without a token, at the origin (direct)" auth-direct "≥ 80 ms"
row "401 at the edge node itself (no link)" auth-node "P99 ≤ 0.1 ms: auth function + proxying"
row "GET /api/me with a token, through the edge" me-edge "one origin round trip; no session lookup"
row "GET /api/me with a token, direct" me-direct "same round trip, plus the lookup"
row "static JS, cache hit at the edge" js-hit "P50 ≤ 1 ms + the user RTT (2 ms)"
row "static JS, revalidated (request no-cache)" js-miss "≤ + the origin RTT (overlapping ones collapse)"
row "static JS, hit at the edge node (no link)" js-node "P50 ≤ 1 ms"
row "localized page (fr), through the edge" page-edge "cached per language (Vary)"
row "localized page (fr), direct" page-direct "every request to the origin"

# Origin load with and without edge auth, a share UNAUTH of the requests without a token.
printf '{"method":"GET","url":"%s","weight":%s}\n{"method":"GET","url":"%s","headers":{"Authorization":"Bearer %s"},"weight":%s}\n' \
  "$E/api/me" "$UNAUTH" "$E/api/me" "$tok" "$(python3 -c "print(1-$UNAUTH)")" >"$out/mix-edge.jsonl"
sed "s#$E#$D#g" "$out/mix-edge.jsonl" >"$out/mix-direct.jsonl"
for via in edge direct; do
  c0=$(metric "$URL" lab_auth_checks_total) p0=$(metric "$URL" process_cpu_seconds_total) e0=$(metric "http://127.0.0.1:$ADMIN" process_cpu_seconds_total)
  "$hr" load --targets "$out/mix-$via.jsonl" --rate "$RATE" --duration "${SECS}s" --warmup 0s -q -o "$out/mix-$via.json" >/dev/null || true
  c1=$(metric "$URL" lab_auth_checks_total) p1=$(metric "$URL" process_cpu_seconds_total) e1=$(metric "http://127.0.0.1:$ADMIN" process_cpu_seconds_total)
  python3 - "$via" "$out/mix-$via.json" "$c0" "$c1" "$p0" "$p1" "$e0" "$e1" "$UNAUTH" <<'PY'
import json, sys
via, f = sys.argv[1], sys.argv[2]
c0, c1, p0, p1, e0, e1, share = map(float, sys.argv[3:])
d = json.load(open(f))
n = d["requests"]
print(f"mix {share:.0%} without a token, {via:6}: {n} requests, origin auth checks {c1-c0:.0f} "
      f"({(c1-c0)/max(n,1):.0%} of requests), origin CPU {1e3*(p1-p0)/max(n,1):.3f} ms/request, "
      f"edge process CPU {1e3*(e1-e0)/max(n,1):.3f} ms/request (node and its three links), verdict {'valid' if d['verdict']['valid'] else 'INVALID'}")
PY
done

echo "isolate limits (go test ./lab/isolate, the runaway loop and the allocations past the cap):"
go test -count=1 -run 'TestCPULimit$|TestMemoryLimit$|TestBudgetBoundsThePool$' -v ./lab/isolate/ 2>&1 | grep -E 'stopped after|memory|budget|^(ok|FAIL|---)' | sed 's/^/  /'
