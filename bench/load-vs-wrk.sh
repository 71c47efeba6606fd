#!/usr/bin/env bash
# Measures `headroom load` against wrk on one machine, in one run, alternating the tools so
# drift in the machine's speed hits both alike, and prints ratios.
#
#   bash bench/load-vs-wrk.sh            # 3 rounds of 10 s, 50 connections, then a 60 s RSS run
#   ROUNDS=5 SECONDS_PER_RUN=15 CONNS=50 RSS_SECONDS=60 bash bench/load-vs-wrk.sh
#   PEERS= bash bench/load-vs-wrk.sh     # without the Go peers (bombardier, hey)
#   SERVER_GOMAXPROCS=1 bash bench/load-vs-wrk.sh   # the hello server on one thread
#
# Needs wrk (apt-get install -y wrk) and GNU time (/usr/bin/time). The Go peers are taken from PATH
# or built at pinned versions with `go install` (skipped with a note if that fails). Traffic goes
# to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3} SECS=${SECONDS_PER_RUN:-10} CONNS=${CONNS:-50} RSS_SECONDS=${RSS_SECONDS:-60}
PEERS=${PEERS-bombardier hey}
PORT=${PORT:-18089}
URL="http://127.0.0.1:$PORT/"
out=$(mktemp -d)
server_pid=
trap 'kill "$server_pid" 2>/dev/null || true; rm -rf "$out"' EXIT

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 2; }
go build -o "$out/headroom" ./cmd/headroom
go build -o "$out/hello" ./bench/hello
GOMAXPROCS=${SERVER_GOMAXPROCS:-} "$out/hello" -addr "127.0.0.1:$PORT" & server_pid=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

# Closed-loop peers the issue compares against: bombardier (fasthttp) and hey (net/http).
declare -A peer_module=([bombardier]=github.com/codesenberg/bombardier@v1.2.6 [hey]=github.com/rakyll/hey@v0.1.5)
declare -A peer_bin
for p in $PEERS; do
  [ -n "${peer_module[$p]:-}" ] || { echo "unknown peer $p (known: ${!peer_module[*]})" >&2; exit 2; }
  if bin=$(command -v "$p"); then peer_bin[$p]=$bin
  elif GOBIN="$out" go install "${peer_module[$p]}" 2>"$out/$p.install"; then peer_bin[$p]="$out/$p"
  else echo "note: $p is not on PATH and could not be built (${peer_module[$p]}): skipped" >&2
  fi
done

# measure NAME CMD...: runs CMD under GNU time; prints "user+sys seconds" and "max RSS KiB".
measure() {
  local name=$1; shift
  /usr/bin/time -f '%U %S %M' -o "$out/$name.time" "$@" > "$out/$name.out" 2>"$out/$name.err"
  read -r u s rss < "$out/$name.time"
  echo "$(echo "$u + $s" | bc -l) $rss"
}
# wrk sends the request headroom sends: headroom adds User-Agent and a fresh W3C traceparent to
# every request, and the target parses them, so a bare wrk request costs the target ~3 % less
# (measured: hello's CPU per request 20.0 µs bare, 20.6 µs with these headers) and the max-rate
# ratio would partly measure the target's work instead of the generators'.
WRK_HEADERS=(-H 'User-Agent: headroom' -H 'Traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
rate_wrk() { awk '/Requests\/sec/ {print $2}' "$out/$1.out"; }
# bombardier's own rps figure is a mean of 100 ms samples: count its answers over its run instead.
rate_bombardier() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["result"]; print(sum(r[k] for k in ("req1xx","req2xx","req3xx","req4xx","req5xx"))/r["timeTakenSeconds"])' "$out/$1.out"; }
rate_hey() { awk '/Requests\/sec/ {print $2}' "$out/$1.out"; }
rate_hr() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["achieved_rps"])' "$out/$1.json"; }
io_hr() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["generator"].get("io", "?"))' "$out/$1.json"; }
reqs_hr() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$out/$1.json"; }
per100k() { echo "$1 * 100000 / $2" | bc -l; }

printf '%-7s %-26s %12s %14s %10s\n' round tool "req/s" "CPU s/100k" "RSS MiB"
declare -a r_wrk r_closed c_wrk c_closed c_open ratios
declare -A r_peer c_peer
for i in $(seq 1 "$ROUNDS"); do
  read -r cpu rss < <(measure wrk wrk -t2 -c"$CONNS" -d"${SECS}s" "${WRK_HEADERS[@]}" "$URL")
  rate=$(rate_wrk wrk); n=$(echo "$rate * $SECS" | bc -l)
  r_wrk+=("$rate"); c_wrk+=("$(per100k "$cpu" "$n")")
  printf '%-7s %-26s %12.0f %14.2f %10.1f\n' "$i" "wrk -t2 -c$CONNS, same hdrs" "$rate" "${c_wrk[-1]}" "$(echo "$rss/1024" | bc -l)"

  read -r cpu rss < <(measure closed "$out/headroom" load "$URL" --model closed --users "$CONNS" --duration "${SECS}s" -q -o "$out/closed.json")
  rate=$(rate_hr closed); n=$(reqs_hr closed)
  r_closed+=("$rate"); c_closed+=("$(per100k "$cpu" "$n")"); io_closed=$(io_hr closed)
  ratios+=("$(echo "$rate / ${r_wrk[-1]}" | bc -l)")
  printf '%-7s %-26s %12.0f %14.2f %10.1f\n' "$i" "headroom closed, $CONNS users" "$rate" "${c_closed[-1]}" "$(echo "$rss/1024" | bc -l)"

  # Open model at 70 % of wrk's max: a fixed high rate both can sustain.
  open_rate=$(echo "${r_wrk[-1]} * 0.7 / 1" | bc)
  read -r cpu rss < <(measure open "$out/headroom" load "$URL" --rate "$open_rate" --connections "$CONNS" --duration "${SECS}s" -q -o "$out/open.json")
  n=$(reqs_hr open)
  c_open+=("$(per100k "$cpu" "$n")")
  printf '%-7s %-26s %12.0f %14.2f %10.1f\n' "$i" "headroom open @ $open_rate/s" "$(rate_hr open)" "${c_open[-1]}" "$(echo "$rss/1024" | bc -l)"

  for p in $PEERS; do
    [ -n "${peer_bin[$p]:-}" ] || continue
    case $p in
      bombardier) args=(-c "$CONNS" -d "${SECS}s" -p r -o json) ;;
      hey) args=(-c "$CONNS" -z "${SECS}s") ;;
    esac
    read -r cpu rss < <(measure "$p" "${peer_bin[$p]}" "${args[@]}" "${WRK_HEADERS[@]}" "$URL")
    rate=$("rate_$p" "$p")
    r_peer[$p]+="$rate "; c_peer[$p]+="$(per100k "$cpu" "$(echo "$rate * $SECS" | bc -l)") "
    printf '%-7s %-26s %12.0f %14.2f %10.1f\n' "$i" "$p -c$CONNS, same hdrs" "$rate" "$(per100k "$cpu" "$(echo "$rate * $SECS" | bc -l)")" "$(echo "$rss/1024" | bc -l)"
  done
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mw=$(median "${r_wrk[@]}"); mc=$(median "${r_closed[@]}")
echo
printf 'median max rate: wrk %.0f req/s, headroom closed %.0f req/s  →  ratio %.2f× wrk\n' "$mw" "$mc" "$(echo "$mc / $mw" | bc -l)"
# Each round's pair ran back to back, so its ratio is spared the drift between rounds.
printf 'headroom closed (on %s) against wrk in the same round: %s→ median %.2f×\n' "$io_closed" "$(printf '%.2f× ' "${ratios[@]}")" "$(median "${ratios[@]}")"
printf 'median CPU per 100k requests: wrk %.2f s, headroom closed %.2f s, headroom open %.2f s\n' \
  "$(median "${c_wrk[@]}")" "$(median "${c_closed[@]}")" "$(median "${c_open[@]}")"
for p in $PEERS; do
  [ -n "${peer_bin[$p]:-}" ] || continue
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  mp=$(median ${r_peer[$p]})
  printf 'median %s: %.0f req/s (%.2f× wrk, headroom closed %.2f× it), CPU %.2f s per 100k\n' \
    "$p" "$mp" "$(echo "$mp / $mw" | bc -l)" "$(echo "$mc / $mp" | bc -l)" "$(median ${c_peer[$p]})"
done

if [ "$RSS_SECONDS" -gt 0 ]; then
  open_rate=$(echo "$mw * 0.5 / 1" | bc)
  read -r cpu rss < <(measure rss "$out/headroom" load "$URL" --rate "$open_rate" --connections "$CONNS" --duration "${RSS_SECONDS}s" -q -o "$out/rss.json")
  printf 'peak RSS over a %ss open run at %s req/s: %.1f MiB\n' "$RSS_SECONDS" "$open_rate" "$(echo "$rss/1024" | bc -l)"
fi
