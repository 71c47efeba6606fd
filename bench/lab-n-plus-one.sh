#!/usr/bin/env bash
# The N+1 experiment, measured: the lab's GET /api/posts?limit=20 with n_plus_one on (21 queries
# per request) and off (2 batched queries), the feed cache irrelevant, on SQLite and on
# PostgreSQL: P50/P99 at a fixed open-model rate, and the max rate under an SLO found by
# `headroom sweep`. Prints the ratios batched vs N+1.
#
#   bash bench/lab-n-plus-one.sh
#   RATE=300 SECS=10 SLO='p99<100ms' STEP=3s PG=postgres://127.0.0.1:5432/test?sslmode=disable bash bench/lab-n-plus-one.sh
#   DB_LATENCY=0 bash bench/lab-n-plus-one.sh    # the bare database (default: the lab's --db-latency, 500µs)
#
# PostgreSQL runs when $PG (default: the local server) answers; it uses schema headroom_bench,
# dropped at the end. Traffic goes to 127.0.0.1 only.
set -euo pipefail
RATE=${RATE:-600} SECS=${SECS:-10} SLO=${SLO:-p99<100ms} STEP=${STEP:-3s} PORT=${PORT:-18090}
PG=${PG:-postgres://127.0.0.1:5432/test?sslmode=disable}
. "$(dirname "$0")/lab-common.sh"

run_db() {
  local name=$1 db=$2
  "$hr" lab --addr "127.0.0.1:$PORT" --db "$db" ${3:+--pg-schema "$3"} --seed-users 1000 ${DB_LATENCY:+--db-latency "$DB_LATENCY"} --log-level warn >"$out/lab.log" 2>&1 &
  lab_pid=$!
  for _ in $(seq 1 300); do curl -sf "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf "$URL/readyz" >/dev/null || { echo "lab on $name did not start:"; cat "$out/lab.log"; exit 3; }
  for sw in n_plus_one none; do
    curl -sf -X PUT "$URL/admin/antipatterns" -d "{\"antipatterns\":\"$sw\"}" >/dev/null
    "$hr" load "$URL/api/posts?limit=20" --rate "$RATE" --duration "${SECS}s" --warmup 2s -q -o "$out/$name-$sw-open.json" >/dev/null || true
    "$hr" sweep "$URL/api/posts?limit=20" --slo "$SLO" --start 200 --step "$STEP" --warmup 500ms --timeout 2s -q -o "$out/$name-$sw-sweep.json" >/dev/null || true
    printf '%-9s %-11s %12.2f %12.2f %16.0f\n' "$name" "$sw" \
      "$(field "$out/$name-$sw-open.json" 'd["latency_ms"]["p50"]')" "$(field "$out/$name-$sw-open.json" 'd["latency_ms"]["p99"]')" \
      "$(field "$out/$name-$sw-sweep.json" 'd["max_rps_under_slo"]')"
  done
  kill "$lab_pid"; wait "$lab_pid" 2>/dev/null || true; lab_pid=
  python3 - "$out" "$name" <<'PY'
import json, sys
o, n = sys.argv[1], sys.argv[2]
l = lambda s, m: json.load(open(f"{o}/{n}-{s}-{m}.json"))
print(f"{n}: batched vs N+1 — P50 {l('n_plus_one','open')['latency_ms']['p50']/l('none','open')['latency_ms']['p50']:.1f}× lower, "
      f"P99 {l('n_plus_one','open')['latency_ms']['p99']/l('none','open')['latency_ms']['p99']:.1f}× lower, "
      f"max rate under the SLO {l('none','sweep')['max_rps_under_slo']/max(l('n_plus_one','sweep')['max_rps_under_slo'], 1):.1f}× higher")
PY
}

echo "db latency per round trip: ${DB_LATENCY:-the lab default, 500µs}"
printf '%-9s %-11s %12s %12s %16s\n' db switches "p50 ms@$RATE" "p99 ms@$RATE" "max req/s $SLO"
run_db sqlite "sqlite:$out/lab.db"
if psql "$PG" -c 'select 1' >/dev/null 2>&1; then
  run_db postgres "$PG" headroom_bench
  psql -q "$PG" -c 'drop schema if exists headroom_bench cascade' >/dev/null 2>&1
else
  echo "postgres: $PG does not answer; skipped"
fi
