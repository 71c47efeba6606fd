#!/usr/bin/env bash
# Full sweeps with the default step length (5s + 1s warm-up), timed:
#   1. the minimal hello server (the generator and the target share this machine);
#   2. a server of known capacity (4 workers × 10 ms = 400 req/s), constant vs bursty arrivals.
# Prints each sweep's answers and its total time. Usage: bench/sweep.sh [SLO]
set -euo pipefail
cd "$(dirname "$0")/.."
slo=${1:-'p99<50ms,errors<0.1%'}
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/headroom" ./cmd/headroom
go build -o "$bin/hello" ./bench/hello
go build -o "$bin/workers" ./bench/workers
"$bin/hello" -addr 127.0.0.1:18090 & hello=$!
"$bin/workers" -addr 127.0.0.1:18091 -c 4 -s 10ms & workers=$!
sleep 0.5

sweep() { # NAME ARGS...
	local name=$1; shift
	local start end
	start=$(date +%s.%N)
	"$bin/headroom" sweep "$@" -q --out "$bin/$name.json" | grep -E 'steps in|max throughput|recommended|knee|stops tracking|model|what if' || true
	end=$(date +%s.%N)
	printf '%s: total %.1fs\n\n' "$name" "$(echo "$end - $start" | bc)"
}

echo "== hello (generator and target on one machine), SLO $slo"
sweep hello http://127.0.0.1:18090/ --slo "$slo" --pid "$hello" --current 1000
echo "== 4 workers × 10 ms (capacity 400 req/s), constant arrivals"
sweep workers-constant http://127.0.0.1:18091/ --slo "$slo" --start 50 --pid "$workers" --current 100
echo "== the same, bursts (×3 for 1s every 5s), mean rate"
sweep workers-bursts http://127.0.0.1:18091/ --slo "$slo" --start 50 --pid "$workers" --current 100 \
	--arrival bursts --burst-factor 3 --burst-length 1s --burst-every 5s
