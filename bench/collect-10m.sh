#!/usr/bin/env bash
# collect over a long run: bench/otlpsend paces OTLP/HTTP protobuf requests of 512 spans (32
# traces × 16) × 20 attributes at RATE spans/s for DURATION to `headroom collect --out -` on
# loopback (collect's default limits unless COLLECT_ARGS sets others; a trace completes 2 s
# after its root), which assembles every trace and writes it as an OTLP JSON line (counted,
# then discarded: 10 minutes at 50k spans/s is ~50 GB of JSON). Prints the rate the sender
# really achieved, the spans received, written and dropped, collect's resident memory every
# INTERVAL and its peak (/usr/bin/time -v): it should follow the load and the limits, not the
# length of the run.
#
#   bash bench/collect-10m.sh                    # 10 minutes at 50,000 spans/s
#   DURATION=60s bash bench/collect-10m.sh       # a quick run
#   RATE=20000 CONNS=4 bash bench/collect-10m.sh
#   COLLECT_ARGS='--max-open-traces 50000' bash bench/collect-10m.sh   # collect's limits changed
#
# On 2 shared cores the sender and collect compete: the achieved rate is printed, never assumed.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10m} RATE=${RATE:-50000} CONNS=${CONNS:-8} PORT=${PORT:-18319} INTERVAL=${INTERVAL:-30s}
read -r -a collect_args <<<"${COLLECT_ARGS:-}"
out=$(mktemp -d)
collect_pid=
# On an early exit: stop collect (GNU time ignores SIGINT; its child is signalled), clean up.
trap '[ -n "$collect_pid" ] && kill "$collect_pid" 2>/dev/null; rm -rf "$out"' EXIT
go build -o "$out/headroom" ./cmd/headroom
go build -o "$out/otlpsend" ./bench/otlpsend

mkfifo "$out/lines.fifo"
wc -l <"$out/lines.fifo" >"$out/lines" &
/usr/bin/time -v -o "$out/time.txt" "$out/headroom" collect --http "127.0.0.1:$PORT" --grpc off --out - -q \
  "${collect_args[@]}" 2>"$out/collect.err" >"$out/lines.fifo" &
time_pid=$!
for _ in $(seq 1 100); do
  collect_pid=$(cat "/proc/$time_pid/task/$time_pid/children" 2>/dev/null || true)
  collect_pid=${collect_pid// /}
  [ -n "$collect_pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
[ -n "$collect_pid" ] || { echo "collect did not start:" >&2; cat "$out/collect.err" >&2; exit 3; }

# Resident memory of collect every INTERVAL while the sender runs.
secs=$(awk -v d="$INTERVAL" 'BEGIN { n = d + 0; if (d ~ /m$/) n *= 60; print n }')
(
  t=0
  while sleep "$secs"; do
    t=$((t + secs))
    awk -v t="$t" '/^VmRSS/ { printf "collect: %4ds  RSS %.0f MB\n", t, $2 / 1024 }' "/proc/$collect_pid/status" >&2
  done
) &
sampler=$!
"$out/otlpsend" -url "http://127.0.0.1:$PORT/v1/traces" -rate "$RATE" -duration "$DURATION" -c "$CONNS" -interval "$INTERVAL" | tee "$out/send.out"
kill "$sampler"
kill -INT "$collect_pid"
wait "$time_pid"
collect_pid=
wait # for wc's count of the lines
cat "$out/collect.err"

spans=$(awk '{print $2}' "$out/send.out")
achieved=$(grep -o '[0-9]* spans/s achieved' "$out/send.out" | awk '{print $1}')
accepted=$(grep -o '[0-9]* spans accepted' "$out/collect.err" | awk '{print $1}')
# Sum of the "spans dropped:" line's counts (reason N, reason M).
dropped=$(awk -F': *' '/spans dropped:/ { n = split($2, p, ", "); for (i = 1; i <= n; i++) { split(p[i], kv, " "); s += kv[2] } } END { print s + 0 }' "$out/collect.err")
evicted=$(grep -o "evicted [0-9]*" "$out/collect.err" | awk "{print \$2}" || true)
awk -v rate="$RATE" -v achieved="$achieved" -v spans="$spans" -v accepted="$accepted" -v dropped="$dropped" \
    -v evicted="${evicted:-0}" -v lines="$(cat "$out/lines")" -v dur="$DURATION" -v cores="$(nproc)" -F': ' '
  /Maximum resident set size/ { rss = $2 / 1024 }
  /User time/ { user = $2 }
  /System time/ { sys = $2 }
  END {
    printf "\ncollect over %s at %d spans/s asked, OTLP/HTTP protobuf, 512 spans × 20 attributes per request, %d cores shared with the sender:\n", dur, rate, cores
    printf "  %8.0f spans/s achieved (%.2f× the rate asked)\n", achieved, achieved / rate
    printf "  %d spans sent, %d accepted, %d written, %d dropped; %d traces written, %d of them evicted early\n", spans, accepted, accepted - dropped, dropped, lines, evicted
    printf "  peak RSS %.0f MB; collect used %.0f CPU-seconds\n", rss, user + sys
  }' "$out/time.txt"
