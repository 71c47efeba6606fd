#!/usr/bin/env bash
# docs/lab.md's switch table, measured: each switch's request with the switch on and off, on
# SQLite and on PostgreSQL, at a rate low enough that requests do not queue (open model,
# `headroom load`), so P50/P99 are the cost of one request. 10,000 seeded users (50k posts, 251k
# comments). Prints one Markdown row per request.
#
#   bash bench/lab-switches.sh
#   RATE=20 SECS=10 DB_LATENCY=0 PG=postgres://127.0.0.1:5432/test?sslmode=disable bash bench/lab-switches.sh
#
# DB_LATENCY is the lab's --db-latency (default: the lab's, 500µs). PostgreSQL runs when $PG
# answers; it uses schema headroom_bench_switches, dropped at the end. Traffic goes to 127.0.0.1 only.
set -euo pipefail
RATE=${RATE:-20} SECS=${SECS:-10} PORT=${PORT:-18092}
PG=${PG:-postgres://127.0.0.1:5432/test?sslmode=disable}
. "$(dirname "$0")/lab-common.sh"

# request path | switch | rate (req/s; default $RATE). The feed's aggregate takes ~0.1 s of CPU
# uncached: at 20 req/s it would need more than the 2 cores of the development machine.
cases=(
  "/api/posts?limit=20|n_plus_one|"
  "/api/search?q=zebra|no_index|"
  "/api/search?q=flamegraph|no_index|"
  "/api/feed|no_cache|4"
  "/api/posts/77|sync_logging|"
)

run_db() {
  local name=$1 db=$2
  "$hr" lab --addr "127.0.0.1:$PORT" --db "$db" ${3:+--pg-schema "$3"} --seed-users 10000 \
    ${DB_LATENCY:+--db-latency "$DB_LATENCY"} --log-level warn >"$out/lab.log" 2>&1 &
  lab_pid=$!
  for _ in $(seq 1 1200); do curl -sf "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf "$URL/readyz" >/dev/null || { echo "lab on $name did not start:"; cat "$out/lab.log"; exit 3; }
  for c in "${cases[@]}"; do
    IFS='|' read -r path sw rate <<<"$c"
    rate=${rate:-$RATE}
    for state in on off; do
      if [ "$state" = on ]; then body="{\"antipatterns\":\"$sw\"}"; else body='{"antipatterns":"none"}'; fi
      curl -sf -X PUT "$URL/admin/antipatterns" -d "$body" >/dev/null
      f="$out/$name-$sw-${path//[^a-z0-9]/_}-$state.json"
      "$hr" load "$URL$path" --rate "$rate" --duration "${SECS}s" --warmup 2s -q -o "$f" >/dev/null || true
      printf -v "cell_$state" '%s / %s ms%s' "$(field "$f" 'round(d["latency_ms"]["p50"], 1)')" \
        "$(field "$f" 'round(d["latency_ms"]["p99"], 1)')" "$(field "$f" '"" if d["verdict"]["valid"] else " (INVALID: " + "; ".join(d["verdict"]["reasons"]) + ")"')"
    done
    printf '| %s | `%s` | `GET %s` | %s | %s | %s |\n' "$name" "$sw" "$path" "$rate" "$cell_on" "$cell_off"
  done
  kill "$lab_pid"; wait "$lab_pid" 2>/dev/null || true; lab_pid=
}

echo "db latency per round trip: ${DB_LATENCY:-the lab default, 500µs}; ${SECS}s per cell; P50 / P99"
echo "| database | switch | request | req/s | on | off |"
echo "|---|---|---|---|---|---|"
run_db SQLite "sqlite:$out/lab.db"
if psql "$PG" -c 'select 1' >/dev/null 2>&1; then
  run_db PostgreSQL "$PG" headroom_bench_switches
  psql -q "$PG" -c 'drop schema if exists headroom_bench_switches cascade' >/dev/null 2>&1
else
  echo "postgres: $PG does not answer; skipped"
fi
