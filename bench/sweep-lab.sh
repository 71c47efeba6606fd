#!/usr/bin/env bash
# The lab experiment of the sweep issue: sweep GET /api/posts with the n_plus_one antipattern on,
# then off (the feed cache off both times, so the database does the work), and print both maxima.
# Needs the lab command (`headroom lab`); LAB_BIN may name a headroom binary that has it.
# Usage: bench/sweep-lab.sh [SLO] [STEP]
set -euo pipefail
cd "$(dirname "$0")/.."
slo=${1:-'p99<50ms,errors<0.1%'}
step=${2:-3s}
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/headroom" ./cmd/headroom
lab=${LAB_BIN:-$bin/headroom}
addr=127.0.0.1:18095
"$lab" lab --addr "$addr" --antipatterns none --log-level warn >"$bin/lab.log" 2>&1 & labpid=$!
for _ in $(seq 100); do curl -fs "http://$addr/api/posts" >/dev/null 2>&1 && break; sleep 0.2; done

for n1 in on off; do
	set_ap=no_cache
	[ "$n1" = on ] && set_ap=n_plus_one,no_cache
	curl -fs -X PUT -d "{\"antipatterns\":\"$set_ap\"}" "http://$addr/admin/antipatterns" >/dev/null
	echo "== n_plus_one $n1"
	"$bin/headroom" sweep "http://$addr/api/posts" --slo "$slo" --start 50 --step "$step" --warmup 500ms \
		--timeout 2s --pid "$labpid" -q --out "$bin/n1-$n1.json" | grep -E 'steps in|max throughput|recommended|knee|model' || true
	grep -o '"max_rps_under_slo": [0-9.]*' "$bin/n1-$n1.json"
	echo
done
