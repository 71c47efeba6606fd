#!/usr/bin/env bash
# Ingest throughput of `headroom collect` over OTLP/HTTP protobuf on loopback: bench/otlpsend
# sends BATCHES requests of 512 spans (32 traces × 16) × 20 attributes from CONNS connections;
# collect decodes, assembles and writes every trace as an OTLP JSON line (--out). Prints
# spans/s (wall clock, sender and receiver sharing this machine), spans per CPU-second of
# collect alone against the OpenTelemetry Collector's reference (~12k spans/s per core) and
# the bar (≥ 50k spans/s), and collect's peak resident memory. bench/collect-10m.sh paces the
# same requests for minutes instead, for collect's memory over a long run.
#
#   bash bench/collect-ingest.sh                  # 2000 batches (~1M spans), 8 connections
#   BATCHES=4000 CONNS=16 bash bench/collect-ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BATCHES=${BATCHES:-2000} CONNS=${CONNS:-8} PORT=${PORT:-18318}
out=$(mktemp -d)
trap 'kill "$collect_pid" 2>/dev/null || true; rm -rf "$out"' EXIT
go build -o "$out/headroom" ./cmd/headroom
go build -o "$out/otlpsend" ./bench/otlpsend

"$out/headroom" collect --http "127.0.0.1:$PORT" --grpc off --out "$out/traces.jsonl" -q --complete-after 500ms >"$out/collect.out" 2>&1 &
collect_pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done

# cpu_s PID: user+system CPU seconds the process used so far (from /proc, in clock ticks).
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
cpu0=$(cpu_s "$collect_pid")
"$out/otlpsend" -url "http://127.0.0.1:$PORT/v1/traces" -batches "$BATCHES" -c "$CONNS" | tee "$out/send.out"
cpu1=$(cpu_s "$collect_pid")
hwm=$(awk '/^VmHWM/ {print $2 / 1024}' "/proc/$collect_pid/status") # peak resident MB so far
kill -INT "$collect_pid"; wait "$collect_pid"
cat "$out/collect.out"

spans=$(awk '{print $2}' "$out/send.out")
rate=$(grep -o '[0-9]* spans/s' "$out/send.out" | awk '{print $1}')
lines=$(wc -l < "$out/traces.jsonl")
cores=$(nproc)
awk -v spans="$spans" -v rate="$rate" -v c0="$cpu0" -v c1="$cpu1" -v cores="$cores" -v lines="$lines" -v hwm="$hwm" 'BEGIN {
  percpu = spans / (c1 - c0)
  printf "\ncollect ingest, OTLP/HTTP protobuf, 512 spans × 20 attributes per batch, %d cores (shared with the sender):\n", cores
  printf "  %8.0f spans/s wall clock            bar ≥ 50000 spans/s: %s\n", rate, (rate >= 50000 ? "met" : "NOT met")
  printf "  %8.0f spans per CPU-second of collect  OpenTelemetry Collector reference ~12000 spans/s per core: %.1f×\n", percpu, percpu / 12000
  printf "  %d traces written as OTLP JSON lines; collect used %.2f CPU-seconds, peak RSS %.0f MB\n", lines, c1 - c0, hwm
}'
