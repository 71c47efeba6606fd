#!/usr/bin/env bash
# The notes' microservices claims, measured on the lab: the same API as a monolith (`headroom lab`)
# and as services (`headroom lab --services`: accounts, posts, payments and notifications in their
# own processes and databases behind a gateway), at the same open-model load. Each line prints the
# figure and the issue's target where there is one.
#
#   bash bench/lab-services.sh
#   RATE=50 SECS=10 bash bench/lab-services.sh
#   PARTS="wiring hops" bash bench/lab-services.sh      # some parts only
#
# Parts: endpoints wiring hops chatty failure storm replication replicas tests.
# Traffic goes to 127.0.0.1 only. Exit 0 whatever the figures: this script reports, it does not gate.
set -euo pipefail
RATE=${RATE:-50} SECS=${SECS:-10} PORT=${PORT:-18281}
PARTS=${PARTS:-endpoints wiring hops chatty failure storm replication replicas tests}
. "$(dirname "$0")/lab-common.sh"
want() { [[ " $PARTS " == *" $1 "* ]]; }

# start NAME [lab flags…]: a lab on $URL, waited for; stop: ends it.
start() {
  local name=$1; shift
  "$hr" lab --addr "127.0.0.1:$PORT" --seed-users 100 --log-level warn "$@" >"$out/$name.log" 2>&1 &
  lab_pid=$!
  for _ in $(seq 1 600); do curl -sf "$URL/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "lab $name did not start:"; cat "$out/$name.log"; exit 3
}
stop() { kill "$lab_pid" 2>/dev/null; wait "$lab_pid" 2>/dev/null || true; lab_pid=; }
switches() { curl -sf -X PUT "$URL/admin/antipatterns" -d "$1" >/dev/null; }
fault() { curl -sf -X PUT "$URL/admin/services/$1/fault" -d "$2" >/dev/null; }
# run NAME PATH [load flags…]: one measured run, its result in $out/NAME.json
run() {
  local name=$1 path=$2; shift 2
  "$hr" load "$URL$path" --rate "$RATE" --duration "${SECS}s" --warmup 1s -q -o "$out/$name.json" "$@" >/dev/null || true
}
p() { field "$out/$1.json" "d['latency_ms']['$2']"; }
verdict() { field "$out/$1.json" '"valid" if d["verdict"]["valid"] else "INVALID"'; }
errs() { field "$out/$1.json" 'd["errors"]'; }
row() { # row LABEL NAME [TARGET]
  printf '  %-52s %9.2f %9.2f %7s  %-8s %s\n' "$1" "$(p "$2" p50)" "$(p "$2" p99)" "$(errs "$2")" "$(verdict "$2")" "${3:-}"
}
header() { printf '\n%s\n  %-52s %9s %9s %7s  %-8s %s\n' "$1" "measurement (${RATE} req/s, ${SECS}s)" "p50 ms" "p99 ms" errors verdict target; }
# urls: the gateway (or monolith) and every service process, for their /metrics
urls() {
  echo "$URL"
  local svcs; svcs=$(curl -sf "$URL/admin/services" 2>/dev/null) || return 0 # the monolith has none
  python3 -c 'import json,sys; [print(u) for s in json.load(sys.stdin) for u in s["replicas"]]' <<<"$svcs"
}
# metric NAME [FILTER]: the sum of a series over every process (samples whose line contains FILTER)
metric() {
  for u in $(urls); do curl -sf "$u/metrics"; done | python3 -c '
import sys
n, f = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
print(sum(float(l.split()[-1]) for l in sys.stdin if (l.startswith(n+"{") or l.startswith(n+" ")) and f in l))' "$@"
}
# measured NAME PATH [load flags…]: a second of warm-up, then the run, with the CPU of every
# process per request (background work included) and the calls and time in calls per request
measured() {
  local name=$1 path=$2
  "$hr" load "$URL$path" --rate "$RATE" --duration 1s --warmup 0s -q "${@:3}" >/dev/null 2>&1 || true
  local c0 r0 n0
  c0=$(metric process_cpu_seconds_total) r0=$(metric headroom_remote_call_seconds_sum) n0=$(metric headroom_remote_calls_total)
  "$hr" load "$URL$path" --rate "$RATE" --duration "${SECS}s" --warmup 0s -q -o "$out/$name.json" "${@:3}" >/dev/null || true
  python3 - "$out/$name.json" "$c0" "$(metric process_cpu_seconds_total)" "$r0" "$(metric headroom_remote_call_seconds_sum)" \
    "$n0" "$(metric headroom_remote_calls_total)" >"$out/$name.extra" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); n = max(d["requests"], 1)
c0, c1, r0, r1, n0, n1 = map(float, sys.argv[2:])
calls = (n1 - n0) / n
print(f"CPU {1e3*(c1-c0)/n:.2f} ms/req" + (f", {calls:.1f} calls/req, {1e3*(r1-r0)/n:.2f} ms/req in calls" if calls else ""))
PY
}
extra() { cat "$out/$1.extra"; }

if want endpoints; then
  # Monolith vs services (default hop 0.2 ms), same load, per endpoint.
  eps=("/api/posts/1" "/api/posts?limit=20" "/api/users/1/summary" "/api/search?q=flamegraph" "/api/feed")
  for mode in mono svc; do
    if [ $mode = mono ]; then start mono; else start svc --services; fi
    for i in "${!eps[@]}"; do measured "$mode-ep$i" "${eps[$i]}"; done
    measured "$mode-checkout" /api/checkout -X POST --body '{"user_id":1,"amount_cents":100}'
    stop
  done
  header "monolith vs services (hop RTT 0.2 ms), per endpoint"
  for i in "${!eps[@]}"; do
    row "${eps[$i]} monolith" "mono-ep$i" "$(extra "mono-ep$i")"
    row "${eps[$i]} services" "svc-ep$i" "$(extra "svc-ep$i")"
  done
  row "POST /api/checkout monolith" mono-checkout "$(extra mono-checkout)"
  row "POST /api/checkout services" svc-checkout "$(extra svc-checkout)"
fi

if want wiring; then
  # The wiring's own cost at 0 added RTT and no database latency: GET /api/posts/1 makes three
  # store calls (post, comments, authors), in process or as three remote calls.
  start mono0 --db-latency 0; measured mono0 /api/posts/1; stop
  start svc0 --services --hop-rtt 0 --db-latency 0; measured svc0 /api/posts/1; stop
  header "the wiring at 0 added RTT (no DB latency), GET /api/posts/1"
  row "monolith" mono0 "$(extra mono0)"
  row "services, no hop link" svc0 "$(extra svc0)"
  python3 - "$(p mono0 p50)" "$(p svc0 p50)" <<'PY'
import sys
m, s = map(float, sys.argv[1:])
print(f"  one remote call adds {1e3*(s-m)/3:.0f} µs at P50 over the in-process call (three per request)   target ≤ 150 µs")
PY
fi

if want hops; then
  # An endpoint fanning out to three services (posts, payments, notifications), calls concurrent
  # and serial (serial_calls), at 0.1 ms and 2 ms per hop, against the monolith.
  start monoh; measured monoh-par /api/users/1/summary; switches '{"serial_calls":true}'; measured monoh-ser /api/users/1/summary; stop
  for rtt in 100us 2ms; do
    start "svch$rtt" --services --hop-rtt "$rtt"
    measured "svch$rtt-par" /api/users/1/summary
    switches '{"serial_calls":true}'; measured "svch$rtt-ser" /api/users/1/summary
    stop
  done
  header "fan-out to 3 services: GET /api/users/1/summary (user + posts, orders, invites)"
  for k in par ser; do
    row "monolith ($k)" "monoh-$k" "$(extra "monoh-$k")"
    for rtt in 100us 2ms; do row "services, hop $rtt ($k)" "svch$rtt-$k" "$(extra "svch$rtt-$k")"; done
  done
fi

if want chatty; then
  # An N+1 over HTTP (n_plus_one: one call per author) against one batch call.
  start monoc; measured monoc-batch "/api/posts?limit=20"; switches '{"n_plus_one":true}'; measured monoc-n1 "/api/posts?limit=20"; stop
  start svcc --services; measured svcc-batch "/api/posts?limit=20"; switches '{"n_plus_one":true}'; measured svcc-n1 "/api/posts?limit=20"; stop
  header "chatty vs batch: GET /api/posts?limit=20"
  row "monolith, one batched query" monoc-batch "$(extra monoc-batch)"
  row "monolith, n_plus_one (21 queries)" monoc-n1 "$(extra monoc-n1)"
  row "services, one batch call" svcc-batch "$(extra svcc-batch)"
  row "services, n_plus_one (one call per author)" svcc-n1 "$(extra svcc-n1)"
fi

if want failure; then
  # The payments service hangs. With timeouts and breaker checkout fails fast; without, each
  # checkout waits for the client. Does the failure cascade into an endpoint without payments?
  # Two loads at once, RATE/2 each: GET /api/posts/1 and POST /api/checkout.
  start svcf --services
  fault payments '{"kind":"hang"}'
  header "payments hanging: each endpoint at $((RATE / 2)) req/s, at the same time (client timeout 5 s)"
  for sw in on off; do
    if [ $sw = off ]; then switches '{"no_timeouts":true,"no_breaker":true}'; fi
    "$hr" load "$URL/api/posts/1" --rate $((RATE / 2)) --duration "${SECS}s" --warmup 0s --timeout 5s -q -o "$out/fail-$sw-posts.json" >/dev/null &
    posts_load=$!
    "$hr" load "$URL/api/checkout" -X POST --body '{"user_id":1,"amount_cents":100}' --rate $((RATE / 2)) --duration "${SECS}s" \
      --warmup 0s --timeout 5s -q -o "$out/fail-$sw-checkout.json" >/dev/null || true
    wait "$posts_load" || true
    row "GET /api/posts/1, timeouts+breaker $sw" "fail-$sw-posts" "no cascade: as without the fault"
    row "POST /api/checkout, timeouts+breaker $sw" "fail-$sw-checkout" "fails fast (≤ the 3 s call deadline) with them"
  done
  stop
fi

if want storm; then
  # The posts service is down: how many attempts reach it per call (GET /api/posts/1's first call,
  # an idempotent GET), budgeted or naive. The breaker is off in both, to see the retries alone.
  start svcs --services
  fault posts '{"kind":"down"}'
  echo
  for sw in '{"no_breaker":true}' '{"no_breaker":true,"naive_retries":true}'; do
    switches "$sw"
    # Attempts sent: those the budget refused never left the gateway.
    a0=$(python3 -c "print($(metric headroom_remote_attempts_total 'peer="posts"') - $(metric headroom_remote_attempts_total 'budget_exhausted'))")
    c0=$(metric headroom_remote_calls_total 'peer="posts"')
    run storm /api/posts/1
    a1=$(python3 -c "print($(metric headroom_remote_attempts_total 'peer="posts"') - $(metric headroom_remote_attempts_total 'budget_exhausted'))")
    c1=$(metric headroom_remote_calls_total 'peer="posts"')
    python3 -c "import sys; a=float(sys.argv[1]); c=float(sys.argv[2]); print(f'  posts down, switches {sys.argv[3]:42}: {a:.0f} attempts for {c:.0f} calls = {a/max(c,1):.2f}x the load   target budgeted <= 1.2x')" \
      "$(python3 -c "print($a1-$a0)")" "$(python3 -c "print($c1-$c0)")" "$sw"
  done
  stop
fi

if want replication; then
  # Renames at RATE/5 while posts are read: the lag from change to visible in the posts copy.
  start svcr --services
  POSTS=$(curl -sf "$URL/admin/services" | python3 -c 'import json,sys; print([s for s in json.load(sys.stdin) if s["role"]=="posts"][0]["replicas"][0])')
  for i in $(seq 1 20); do echo "{\"method\":\"PATCH\",\"url\":\"$URL/api/account\",\"body\":\"{\\\"user_id\\\":$i,\\\"name\\\":\\\"name $i\\\"}\",\"weight\":1}"; done >"$out/renames.jsonl"
  echo "{\"method\":\"GET\",\"url\":\"$URL/api/posts?limit=20\",\"weight\":80}" >>"$out/renames.jsonl"
  "$hr" load --targets "$out/renames.jsonl" --rate "$RATE" --duration "${SECS}s" --warmup 0s -q -o "$out/repl.json" >/dev/null || true
  sleep 1
  curl -sf "$POSTS/admin/jobs" >"$out/jobs.json"
  python3 - "$out/jobs.json" "$RATE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])).get("replication") or {}
ms = lambda k: r.get(k, 0) / 1e6
print()
print(f"replication lag under load (renames ≈ 20 % of {sys.argv[2]} req/s beside reads): {r.get('applied', 0)} changes applied, "
      f"p50 {ms('p50_ns'):.2f} ms, p99 {ms('p99_ns'):.2f} ms, max {ms('max_ns'):.2f} ms")
PY
  stop
fi

if want replicas; then
  # Capacity of GET /api/posts?limit=20 with n_plus_one on (21 calls to posts per request), each
  # service with one database connection and 2 ms per database round trip: the posts service's
  # pool is the bottleneck, a resource of each replica (on 2 shared cores the CPU is not: it is
  # the machine's, and replicas share it). With 1 or 3 posts replicas, and 3 of another service.
  echo; echo "capacity (headroom sweep, p99<200ms) of GET /api/posts?limit=20, n_plus_one, --db-max-conns 1 --db-latency 2ms, by replicas:"
  for rep in "posts=1" "posts=3" "payments=3"; do
    start "svcrep-$rep" --services --replicas "$rep" --antipatterns n_plus_one --db-max-conns 1 --db-latency 2ms
    "$hr" sweep "$URL/api/posts?limit=20" --slo 'p99<200ms,errors<1%' --step 3s --max-steps 10 -q -o "$out/sweep-$rep.json" >/dev/null 2>&1 || true
    stop
    printf '  capacity with %-10s: %s\n' "$rep" "$(field "$out/sweep-$rep.json" 'str(round(d["max_rps_under_slo"]))+" req/s max under p99<200ms"+(" (a lower bound)" if d["max_is_lower_bound"] else "")+", outcome "+d["outcome"]' 2>/dev/null || echo "no result")"
  done
fi

if want tests; then
  echo
  echo "lab/remote on its own (a peer with a 1 % slow tail of 200 ms, 5,000 calls; target: P99.9 ≥ 5× lower for ≤ 5 % extra requests):"
  go test -run '^$' -bench Hedging -benchtime=5000x ./lab/remote/ 2>&1 | grep -E '^Benchmark' | sed 's/^/  /'
  echo "lab/remote on its own (a down peer, budgeted vs naive retries; target ≤ 1.2×):"
  go test -count=1 -run 'TestRetryBudgetBoundsLoadOnDownServer' -v ./lab/remote/ 2>&1 | grep -vE '^(=== |PASS|ok)' | sed 's/^/  /'
fi
