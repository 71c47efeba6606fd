#!/usr/bin/env bash
# The notes' serverless claims, measured on the lab's function platform (`headroom lab
# --functions`): cold vs warm invocations per runtime, a burst from zero with and without the
# remedies, the execution limit stopping a long job, the database connections of a burst with and
# without a small pool, and the bill as functions vs always-on servers for a steady and a bursty
# day. Each line prints the figure and the issue's target where there is one.
#
#   bash bench/lab-functions.sh
#   PARTS="coldwarm bill" bash bench/lab-functions.sh          # some parts only
#   PG=postgres://127.0.0.1:5432/test?sslmode=disable bash bench/lab-functions.sh   # the connections part
#
# Parts: runtimes coldwarm burst limit connections bill.
# Traffic goes to 127.0.0.1 only. Exit 0 whatever the figures: this script reports, it does not gate.
set -euo pipefail
RATE=${RATE:-20} SECS=${SECS:-10} PORT=${PORT:-18291}
PARTS=${PARTS:-runtimes coldwarm burst limit connections bill}
PG=${PG:-${HEADROOM_TEST_POSTGRES:-}}
. "$(dirname "$0")/lab-common.sh"
want() { [[ " $PARTS " == *" $1 "* ]]; }

# start NAME [lab flags…]: a lab with functions on $URL, waited for; stop: ends it.
start() {
  local name=$1; shift
  "$hr" lab --functions --addr "127.0.0.1:$PORT" --seed-users 100 --log-level warn "$@" >"$out/$name.log" 2>&1 &
  lab_pid=$!
  for _ in $(seq 1 600); do curl -sf "$URL/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "lab $name did not start:"; cat "$out/$name.log"; exit 3
}
stop() { kill "$lab_pid" 2>/dev/null; wait "$lab_pid" 2>/dev/null || true; lab_pid=; }
# run NAME PATH [load flags…]: one measured run, its result in $out/NAME.json
run() {
  local name=$1 path=$2; shift 2
  "$hr" load "$URL$path" --rate "$RATE" --duration "${SECS}s" --warmup 0s -q -o "$out/$name.json" "$@" >/dev/null || true
}
p() { field "$out/$1.json" "d['latency_ms']['$2']"; }
verdict() { field "$out/$1.json" '"valid" if d["verdict"]["valid"] else "INVALID"'; }
errs() { field "$out/$1.json" 'd["errors"]'; }
row() { # row LABEL NAME [TARGET]
  printf '  %-56s %9.2f %9.2f %7s  %-8s %s\n' "$1" "$(p "$2" p50)" "$(p "$2" p99)" "$(errs "$2")" "$(verdict "$2")" "${3:-}"
}
header() { printf '\n%s\n  %-56s %9s %9s %7s  %-8s %s\n' "$1" "measurement" "p50 ms" "p99 ms" errors verdict target; }
# metric NAME [FILTER]: the sum of a series of the lab's /metrics (samples whose line contains FILTER)
metric() {
  curl -sf "$URL/metrics" | python3 -c '
import sys
n, f = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
print(sum(float(l.split()[-1]) for l in sys.stdin if (l.startswith(n+"{") or l.startswith(n+" ")) and f in l))' "$@"
}
# mean_ms SERIES FILTER: a histogram's mean in ms (_sum / _count)
mean_ms() { python3 -c 'import sys; s,c=map(float,sys.argv[1:]); print(f"{1e3*s/c:.1f}" if c else "-")' "$(metric "$1_sum" "$2")" "$(metric "$1_count" "$2")"; }

if want runtimes; then
  # Cold start per runtime and warm overhead, in process (the platform's own benchmarks).
  printf '\nruntimes: go test -run ^$ -bench "ColdStart|Warm" -benchtime 200x ./lab/faas; -bench ScaleOut -benchtime 5x\n'
  go test -run '^$' -bench 'ColdStart|Warm' -benchtime 200x ./lab/faas 2>&1 | grep -E '^Benchmark' | sed 's/^/  /'
  go test -run '^$' -bench 'ScaleOut' -benchtime 5x ./lab/faas 2>&1 | grep -E '^Benchmark' | sed 's/^/  /'
  echo "  targets: process cold start P50 <= 50 ms, P99 <= 125 ms; wasm cold start <= 50 ms; warm overhead through the gateway P50 <= 200 us;"
  echo "           scale-out from zero >= 100 new process instances per second"
fi

if want coldwarm; then
  header "cold vs warm: GET /api/posts/1 as the api function (${RATE} req/s warm, 4 req/s cold), the thumbnail in both runtimes (${SECS}s)"
  start warm
  run direct /api/posts/1
  run warm /fn/api/api/posts/1 --warmup 1s
  row "the API itself (no function)" direct
  row "api function, warm (instances kept)" warm
  stop
  # An idle time far under the gap between requests: every invocation starts an instance.
  start cold --function-idle 20ms
  "$hr" load "$URL/fn/api/api/posts/1" --rate 4 --duration "${SECS}s" --warmup 0s -q -o "$out/cold.json" >/dev/null || true
  row "api function, every invocation cold (idle reclaim 20 ms)" cold "cold start P50 <= 50 ms, P99 <= 125 ms (process)"
  printf '  cold starts %s of %s invocations; mean start %s ms, init %s ms (DB opened, API built)\n' \
    "$(metric headroom_faas_cold_starts_total 'function="api"')" "$(field "$out/cold.json" 'd["requests"]')" \
    "$(mean_ms headroom_faas_cold_start_seconds 'function="api",phase="start"')" "$(mean_ms headroom_faas_cold_start_seconds 'function="api",phase="init"')"
  # The same thumbnail function (a 640x360 PNG in, 160x90 out) as a process and as a module,
  # at 2 req/s cold and 4 req/s warm: the module's work takes over ten times the process's.
  curl -sf "$URL/static/img/card.png" -o "$out/card.png"
  for fn in thumbnail thumbnail-wasm; do
    "$hr" load "$URL/fn/$fn/" -X POST --body-file "$out/card.png" --rate 2 --duration "${SECS}s" --warmup 0s -q -o "$out/cold-$fn.json" >/dev/null || true
    row "$fn, every invocation cold" "cold-$fn" "$([ $fn = thumbnail-wasm ] && echo 'wasm cold start <= 50 ms')"
    printf '  %-56s mean start %s ms, init %s ms\n' "" \
      "$(mean_ms headroom_faas_cold_start_seconds "function=\"$fn\",phase=\"start\"")" "$(mean_ms headroom_faas_cold_start_seconds "function=\"$fn\",phase=\"init\"")"
  done
  stop
  start warm-thumb
  curl -sf "$URL/static/img/card.png" -o "$out/card.png"
  for fn in thumbnail thumbnail-wasm; do
    "$hr" load "$URL/fn/$fn/" -X POST --body-file "$out/card.png" --rate 4 --duration "${SECS}s" --warmup 1s -q -o "$out/warm-$fn.json" >/dev/null || true
    row "$fn, warm (4 req/s)" "warm-$fn"
  done
  stop
fi

if want burst; then
  # From zero to 200 req/s at once on the search endpoint (a few ms each, so the burst needs
  # several instances): every instance the burst needs is a cold start, unless a remedy made it
  # before. Idle reclaim 4 s so that the pinger (every 2 s) runs a round before the burst.
  header "burst from zero: 200 req/s for ${SECS}s on the api function's search (concurrency 50, idle 4 s)"
  for mode in none keepwarm provisioned; do
    case $mode in
      none) start burst-$mode --function-concurrency 50 --function-idle 4s ;;
      keepwarm) start burst-$mode --function-concurrency 50 --function-idle 4s --function-keep-warm 10 ;;
      provisioned) start burst-$mode --function-concurrency 50 --function-idle 4s --function-provisioned 10 ;;
    esac
    sleep 3
    c0=$(metric headroom_faas_cold_starts_total)
    "$hr" load "$URL/fn/api/api/search?q=flamegraph" --rate 200 --duration "${SECS}s" --warmup 0s -q -o "$out/burst-$mode.json" >/dev/null || true
    row "remedy: $mode" "burst-$mode"
    printf '  %-56s P99.9 %.1f ms, max %.1f ms; cold starts in the burst %s, throttled %s, pings %s\n' "" \
      "$(p burst-$mode p99_9)" "$(p burst-$mode max)" \
      "$(python3 -c 'import sys; print(int(float(sys.argv[2])-float(sys.argv[1])))' "$c0" "$(metric headroom_faas_cold_starts_total)")" \
      "$(metric headroom_faas_throttles_total)" "$(metric headroom_faas_invocations_total 'trigger="timer"')"
    stop
  done
fi

if want limit; then
  # A long job in a function: a 64 MiB video processed inside the request (the API's synchronous
  # path), under a 100 ms limit; then the same upload to the lab, which queues the work.
  header "the execution limit: POST /api/videos of 64 MiB, processed in the request"
  start limit --function-timeout 100ms
  body='{"owner_id":1,"title":"long","size_bytes":67108864}'
  curl -s -o "$out/limit.body" -w '  as a function (limit 100 ms): %{http_code} after %{time_total} s: ' -X POST "$URL/fn/api/api/videos" -d "$body"
  cat "$out/limit.body"; echo
  curl -s -o /dev/null -w '  the next invocation: %{http_code} after %{time_total} s (a new instance)\n' "$URL/fn/api/api/posts/1"
  curl -s -o /dev/null -w '  to the lab, queued as a background job: %{http_code} after %{time_total} s\n' -X POST "$URL/api/videos" -d "$body"
  stop
fi

if want connections; then
  if [ -z "$PG" ]; then
    printf '\nconnections: skipped (set PG or HEADROOM_TEST_POSTGRES to a PostgreSQL URL)\n'
  else
    max=$(psql "$PG" -Atc 'show max_connections')
    printf '\nconnections: a burst of 150 req/s for 3 s on the api function (concurrency 40) over PostgreSQL (max_connections %s)\n' "$max"
    for conns in 4 1; do
      start conns-$conns --db "$PG" --pg-schema headroom_bench_fn --function-concurrency 40 --function-db-conns "$conns"
      peak=0
      # A sample fails when the server is full: it refuses the sampler too.
      ( while sleep 0.1; do psql "$PG" -Atc "select count(*) from pg_stat_activity where application_name = 'headroom-fn-api'" 2>/dev/null || echo full; done ) >"$out/conns-$conns.samples" &
      sampler=$!
      "$hr" load "$URL/fn/api/api/posts/1" --rate 150 --duration 3s --warmup 0s -q -o "$out/conns-$conns.json" >/dev/null || true
      kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
      peak=$({ grep -v full "$out/conns-$conns.samples" || true; } | sort -n | tail -1)
      printf '  %d per instance: peak %s connections seen, server full in %s of %s samples; %s instances started, %s failed init; errors %s of %s requests (%s), P99 %.1f ms (%s)\n' \
        "$conns" "${peak:-0}" "$(grep -c full "$out/conns-$conns.samples" || true)" "$(wc -l <"$out/conns-$conns.samples")" \
        "$(metric headroom_faas_cold_starts_total)" "$(metric headroom_faas_invocations_total 'outcome="init_error"')" \
        "$(errs conns-$conns)" "$(field "$out/conns-$conns.json" 'd["requests"]')" "$(field "$out/conns-$conns.json" 'd["errors_by_kind"]')" \
        "$(p conns-$conns p99)" "$(verdict conns-$conns)"
      stop
    done
    psql "$PG" -qc 'drop schema if exists headroom_bench_fn cascade' >/dev/null 2>&1 || true
  fi
fi

if want bill; then
  # The bill: the api function's measured duration, init and cold share, priced as Lambda does,
  # against servers sized by a sweep of the same endpoint at the notes' 30 % headroom.
  start bill
  "$hr" load "$URL/fn/api/api/posts/1" --rate "$RATE" --duration "${SECS}s" --warmup 1s -q -o "$out/bill-load.json" >/dev/null || true
  "$hr" sweep "$URL/api/posts/1" --slo 'p99<50ms' --steps 200,400,800,1600 --step 3s -q -o "$out/sweep.json" >/dev/null 2>&1 || true
  dur=$(python3 -c 'import sys; print(f"{float(sys.argv[1]):.2f}ms")' "$(p bill-load p50)")
  init=$(python3 -c 'import sys; print(f"{float(sys.argv[1]):.0f}ms")' "$(mean_ms headroom_faas_cold_start_seconds 'phase="init"')")
  cold=$(python3 -c 'import sys; c,n=map(float,sys.argv[1:]); print(f"{c/n:.4f}")' "$(metric headroom_faas_cold_starts_total)" "$(metric headroom_faas_invocations_total)")
  stop
  printf '\nthe bill: duration %s (warm P50 through the gateway), init %s, cold share %s (measured), 128 MB, servers from the sweep (recommended %s req/s) at $0.0416/h\n' \
    "$dur" "$init" "$cold" "$(field "$out/sweep.json" 'd.get("recommended_rps", "?")')"
  # A steady day: 100 req/s all day. A bursty day: 2 req/s, and one hour at 200 req/s.
  python3 -c 'print("\n".join(f"{h},{100*3600}" for h in range(24)))' >"$out/steady.csv"
  python3 -c 'print("\n".join(f"{h},{200*3600 if h == 12 else 2*3600},{200 if h == 12 else 2}" for h in range(24)))' >"$out/bursty.csv"
  for day in steady bursty; do
    echo "  $day day:"
    "$hr" cost --profile "$out/$day.csv" --duration "$dur" --init "$init" --cold-share "$cold" --memory 128 \
      --sweep "$out/sweep.json" --server-hourly 0.0416 2>&1 | sed 's/^/    /' || true
  done
fi
