#!/usr/bin/env bash
# The notes' headline, measured: POST /api/invites with sync_email on (the email is sent over
# SMTP inside the request, the mail server taking ~300 ms) and off (the invite and its email job
# commit in one transaction; a worker sends the email after the answer). Open-model load with
# `headroom load`; prints P50/P99 of each and the ratio of the P50s (the issue's bar: ≥ 3×), and
# checks that every async invite's email went out.
#
#   bash bench/lab-invites.sh
#   RATE=40 SECS=20 MAIL=300ms QUEUE=redis://127.0.0.1:6379/0 bash bench/lab-invites.sh
#
# QUEUE defaults to the embedded JetStream. Traffic goes to 127.0.0.1 only.
set -euo pipefail
RATE=${RATE:-20} SECS=${SECS:-10} MAIL=${MAIL:-300ms} PORT=${PORT:-18091} QUEUE=${QUEUE:-nats}
. "$(dirname "$0")/lab-common.sh"

"$hr" lab --addr "127.0.0.1:$PORT" --db "sqlite:$out/lab.db" --queue "$QUEUE" --queue-prefix "hrbench$$" \
  --mail-latency "$MAIL" --seed-users 100 --log-level warn >"$out/lab.log" 2>&1 &
lab_pid=$!
for _ in $(seq 1 300); do curl -sf "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$URL/readyz" >/dev/null || { echo "lab did not start:"; cat "$out/lab.log"; exit 3; }

body='{"inviter_id":1,"email":"friend@example.com"}'
printf '%-10s %10s %10s %10s\n' sync_email "p50 ms" "p99 ms" errors
for sw in sync_email none; do
  curl -sf -X PUT "$URL/admin/antipatterns" -d "{\"antipatterns\":\"$sw\"}" >/dev/null
  "$hr" load "$URL/api/invites" -X POST -H 'Content-Type: application/json' --body "$body" \
    --rate "$RATE" --duration "${SECS}s" --warmup 1s -q -o "$out/$sw.json" >/dev/null || true
  printf '%-10s %10.2f %10.2f %10s\n' "$([ "$sw" = none ] && echo off || echo on)" \
    "$(field "$out/$sw.json" 'd["latency_ms"]["p50"]')" "$(field "$out/$sw.json" 'd["latency_ms"]["p99"]')" "$(field "$out/$sw.json" 'd["errors"]')"
done
# The async emails go out behind the answers: wait for the outbox and the email queue to drain.
for _ in $(seq 1 600); do
  left=$(curl -sf "$URL/admin/jobs" | python3 -c 'import json,sys; d=json.load(sys.stdin); q=[x for x in d["queues"] if x["queue"]=="email"][0]; print(d["outbox"]["pending"]+q["depth"]+q["in_flight"])')
  [ "$left" = 0 ] && break
  sleep 0.1
done
"$hr" lab jobs --lab "$URL" | sed -n '1,4p'
python3 - "$out" <<'PY'
import json, sys
o = sys.argv[1]
on, off = (json.load(open(f"{o}/{s}.json"))["latency_ms"]["p50"] for s in ("sync_email", "none"))
print(f"POST /api/invites P50: sync_email {on:.1f} ms, async {off:.1f} ms: {on/off:.1f}x (bar: >= 3x)")
PY
